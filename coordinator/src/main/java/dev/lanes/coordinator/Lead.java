package dev.lanes.coordinator;

import dev.lanes.bus.Bus;
import dev.lanes.coordinator.git.TargetBranch;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.LeadOnline;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.Topics;
import dev.lanes.protocol.WorkerStatus;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lead: the only party that decides. It turns plans into runs, grants claims, accepts results and lands them.
 *
 * <p>Every report from the workers is handed to one event-loop thread, which owns all run state: decisions are made in
 * the order reports arrive and no state is shared between threads. Offers that nobody claimed are published again
 * when a new worker appears and every {@code reofferEvery}, so a worker that joins late still finds the work.
 */
public final class Lead implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Lead.class);
  private static final DateTimeFormatter RUN_TIME = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);

  private final Bus bus;
  private final TargetBranch repo;
  private final Clock clock;
  private final ScheduledExecutorService loop;
  private final Map<String, Run> runs = new HashMap<>();
  private final Workers workers = new Workers();
  private final Bus.Subscription reports;

  /**
   * How the lead paces itself.
   *
   * @param reofferEvery how often offers nobody claimed are published again
   * @param failUnschedulableAfter when present, a task no known worker can run fails after this long; absent, it is
   *     reported and waits for a capable worker to join
   */
  public record Settings(Duration reofferEvery, Optional<Duration> failUnschedulableAfter) {
    /** For a long-running lead whose workers come and go. */
    public static Settings daemon() {
      return new Settings(Duration.ofSeconds(10), Optional.empty());
    }

    /** For a lead whose workers are all started with it, as in {@code lanes run}. */
    public static Settings fixedWorkers() {
      return new Settings(Duration.ofSeconds(10), Optional.of(Duration.ofSeconds(5)));
    }
  }

  private final Settings settings;

  private Lead(Bus bus, TargetBranch repo, Clock clock, Settings settings) {
    this.settings = settings;
    this.bus = bus;
    this.repo = repo;
    this.clock = clock;
    this.loop = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "lanes-lead");
      t.setDaemon(true);
      return t;
    });
    bus.createTopics();
    this.reports = bus.subscribe(Topics.REPORTS, Bus.Start.NOW, message -> loop.execute(() -> guarded(() -> dispatch(message))));
    long every = settings.reofferEvery().toMillis();
    loop.scheduleWithFixedDelay(() -> guarded(() -> runs.values().forEach(Run::reoffer)), every, every, TimeUnit.MILLISECONDS);
    loop.scheduleWithFixedDelay(() -> guarded(() -> List.copyOf(runs.values())
        .forEach(r -> r.checkSchedulable(clock.instant(), settings.failUnschedulableAfter()))), 1, 1, TimeUnit.SECONDS);
    // Workers that started before this lead answer the roll call with their status.
    bus.publish(new LeadOnline("lead-" + ProcessHandle.current().pid()));
  }

  /** Starts a lead on the bus that lands results in the repository at {@code repoDir}. */
  public static Lead start(Bus bus, Path repoDir, Clock clock) {
    return start(bus, repoDir, clock, Settings.daemon());
  }

  public static Lead start(Bus bus, Path repoDir, Clock clock, Settings settings) {
    return new Lead(bus, TargetBranch.open(repoDir, clock), clock, settings);
  }

  /** Cancels a run: running attempts are withdrawn from their workers, waiting tasks skipped. */
  public void cancel(String runId, String reason) {
    onLoop(() -> {
      run(runId).ifPresent(r -> r.cancel(reason));
      return null;
    });
  }

  /**
   * Starts a run of a validated plan. Resolves the base and prepares the target branch first, so a plan that cannot
   * run here fails now with a {@link LeadException}, before anything is published.
   */
  public RunHandle submit(Plan plan) {
    return submit(plan, newRunId(plan, clock));
  }

  /** A fresh run id: the plan's name, the time, and a random suffix ({@code demo-20261123-153012-9f3a}). */
  public static String newRunId(Plan plan, Clock clock) {
    return plan.name() + "-" + RUN_TIME.format(clock.instant()) + "-" + HexFormat.of().formatHex(randomBytes());
  }

  /** Starts a run under a run id chosen by the caller, who may want to watch for it before it starts. */
  public RunHandle submit(Plan plan, String id) {
    String base = repo.resolveBase(plan.base());
    repo.prepare(plan.target(), base);
    Run run = new Run(id, plan, base, bus, repo, workers, clock);
    CompletableFuture<Void> started = CompletableFuture.runAsync(() -> {
      runs.put(id, run);
      run.start();
    }, loop);
    started.join();
    return new RunHandle(id, base, run.done(), () -> onLoop(run::report));
  }

  private static byte[] randomBytes() {
    byte[] b = new byte[2];
    new SecureRandom().nextBytes(b);
    return b;
  }

  private <T> T onLoop(java.util.function.Supplier<T> what) {
    return CompletableFuture.supplyAsync(what, loop).join();
  }

  /** A failure in one report must not stop the loop that serves all of them. */
  private static void guarded(Runnable action) {
    try {
      action.run();
    } catch (RuntimeException e) {
      LOG.error("lead failed handling a report: {}", e.toString(), e);
    }
  }

  private void dispatch(Message message) {
    if (message instanceof ClaimRequested c) {
      run(c.run()).ifPresent(r -> r.onClaim(c));
    } else if (message instanceof Heartbeat h) {
      run(h.run()).ifPresent(r -> r.onHeartbeat(h));
    } else if (message instanceof TaskResult t) {
      run(t.run()).ifPresent(r -> r.onResult(t));
    } else if (message instanceof Finding f) {
      run(f.run()).ifPresent(r -> r.onFinding(f));
    } else if (message instanceof WorkerStatus w) {
      if (workers.update(w)) {
        LOG.info("worker {} joined ({} slots, capabilities {})", w.worker(), w.slots(), w.capabilities());
        runs.values().forEach(Run::reoffer);
      }
    } else {
      throw new IllegalStateException("the lead does not handle " + message.getClass().getSimpleName() + " on "
          + Topics.REPORTS);
    }
  }

  private Optional<Run> run(String id) {
    return Optional.ofNullable(runs.get(id));
  }

  @Override
  public void close() {
    reports.close();
    loop.shutdownNow();
    try {
      loop.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    repo.close();
  }

  /** A started run: its id, the commit it started from, and the report once every task is final. */
  public record RunHandle(String id, String baseCommit, CompletableFuture<RunReport> done,
      java.util.function.Supplier<RunReport> snapshot) {}
}
