package dev.lanes.worker;

import dev.lanes.bus.Bus;
import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.Redactor;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.Durations;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.LeadOnline;
import dev.lanes.protocol.TaskCancelled;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.Topics;
import dev.lanes.protocol.WorkerStatus;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker daemon: it claims offered tasks it can run while it has free slots, and runs each granted one in a
 * worktree of its own.
 *
 * <p>Every offer it could run is remembered until somebody is granted it; a slot that frees up claims the oldest
 * remembered offer, so no offer is lost because the worker was busy when it went out. A slot is reserved when the
 * claim is sent and released if the grant goes to another worker. All of this happens under the worker's lock; the
 * tasks themselves run on a pool of {@code slots} threads.
 */
public final class Worker implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Worker.class);
  /**
   * How long a worker leaves an offer to the worker the lead preferred before claiming it itself, at least: four times
   * as long as the lead has lately taken to answer a claim, when that is longer, up to {@link #MAX_HOLD_BACK}. A
   * lead slow to answer (a loaded machine) is then not answered with a claim from every idle worker as well, which is
   * more work for it and slowed it further: in {@code lanes bench dispatch} at load 10, up to six claims per task.
   */
  static final Duration HOLD_BACK = Duration.ofMillis(200);
  static final Duration MAX_HOLD_BACK = Duration.ofSeconds(5);
  /** How long a claim may go unanswered before the worker takes it back. */
  static final Duration CLAIM_PATIENCE = Duration.ofSeconds(10);
  /**
   * Open offers kept at most, and how long one is kept without being offered again (the lead offers what is still open
   * every few seconds): past either, the oldest are dropped, so that a flood of offers cannot fill the worker's memory.
   */
  static final int MAX_OPEN = 10_000;
  static final Duration OPEN_FOR = Duration.ofMinutes(10);

  /**
   * How a worker presents itself and where it works.
   *
   * @param repoUrl where to fetch from and push to; a plain path counts
   * @param workDir owned by this worker alone: its mirror, worktrees and logs
   * @param agentEnvironment variables set for agents and verify commands on top of what they are allowed of the
   *     worker's own environment (a variable named here replaces the worker's: to put a directory first on the PATH,
   *     give the whole new PATH)
   * @param passEnv names of the worker's environment variables every agent and verify command may see, besides the
   *     default allow-list ({@code --pass-env})
   */
  public record Config(String id, String host, List<String> capabilities, int slots, String repoUrl, Path workDir,
      Duration heartbeatEvery, Map<String, String> agentEnvironment, List<String> passEnv) {
    public Config {
      capabilities = List.copyOf(capabilities);
      agentEnvironment = Map.copyOf(agentEnvironment);
      passEnv = List.copyOf(passEnv);
      if (slots < 1) {
        throw new IllegalArgumentException("--slots: " + slots + " must be at least 1");
      }
      passEnv.forEach(name -> AgentSpec.envNameProblem(name).ifPresent(rule -> {
        throw new IllegalArgumentException("--pass-env: " + rule);
      }));
    }

    /** A worker that passes no more of its environment than the default allow-list. */
    public Config(String id, String host, List<String> capabilities, int slots, String repoUrl, Path workDir,
        Duration heartbeatEvery, Map<String, String> agentEnvironment) {
      this(id, host, capabilities, slots, repoUrl, workDir, heartbeatEvery, agentEnvironment, List.of());
    }

    /** A worker whose agents see the default allow-list of its environment. */
    public Config(String id, String host, List<String> capabilities, int slots, String repoUrl, Path workDir,
        Duration heartbeatEvery) {
      this(id, host, capabilities, slots, repoUrl, workDir, heartbeatEvery, Map.of());
    }
  }

  private final Bus bus;
  private final Config config;
  private final Function<TaskOffered, Attempt> runs;
  private final Executor slots;
  private final ScheduledExecutorService beats;
  private final Clock clock;
  private long dropped;
  private final Map<Ref, Open> open = new LinkedHashMap<>();
  private final Map<Ref, TaskOffered> claimed = new LinkedHashMap<>();
  private final Map<Ref, Long> claimedAt = new java.util.HashMap<>();
  private final Map<Ref, Attempt> running = new ConcurrentHashMap<>();
  private final java.util.concurrent.CompletableFuture<String> refused = new java.util.concurrent.CompletableFuture<>();
  private Bus.Subscription work;
  /** Set by {@link #start}: a simulated worker has none. */
  private WorkDir workDir;
  /** Which process this is, for a lead to tell two with one id apart; none for a simulated worker. */
  private Optional<WorkerStatus.Instance> instance = Optional.empty();
  private int busy;
  private boolean deferredPending;
  /**
   * No open offer may be claimed before this moment ({@link System#nanoTime}): the earliest hold-back among them, or
   * earlier once offers are gone. It spares an idle worker a look at every open offer whenever another one arrives,
   * which, with many workers in one process as in the dispatch benchmark, is most of what they cost.
   */
  private long nextReady = Long.MAX_VALUE;

  private Worker(Bus bus, Config config, Function<TaskOffered, Attempt> runs, Executor slots, Clock clock) {
    this.bus = bus;
    this.clock = clock;
    this.config = config;
    this.runs = runs;
    this.slots = slots;
    this.beats = Executors.newSingleThreadScheduledExecutor(daemon("lanes-heartbeat-" + config.id()));
  }

  /**
   * Starts a worker: it announces itself and claims work from then on. Its subscription waits for the topics to
   * exist (the lead creates them); a worker that may start first creates them with {@link Bus#createTopics}.
   */
  public static Worker start(Bus bus, Config config, Clock clock) {
    return start(bus, config, clock, false);
  }

  /**
   * The same; with {@code resetMirror}, a work directory that mirrors another repository than the config's is made to
   * mirror it (without, such a directory is refused, see {@link WorkDir#open(Path, String, Clock, boolean)}).
   */
  public static Worker start(Bus bus, Config config, Clock clock, boolean resetMirror) {
    // Secrets this worker hands its agents itself are as secret as those in its environment.
    Redactor.remember(config.agentEnvironment());
    // Locked first: a second worker on this directory would take the first one's worktrees for stale ones.
    WorkDir workDir = WorkDir.open(config.workDir(), config.repoUrl(), clock, resetMirror);
    Worker worker = new Worker(bus, config, offer -> new TaskRun(offer, config, workDir, bus, clock),
        Executors.newFixedThreadPool(config.slots(), daemon("lanes-worker-" + config.id())), clock);
    worker.workDir = workDir;
    worker.instance = Optional.of(new WorkerStatus.Instance(workDir.instance(), workDir.root().toString()));
    try {
      workDir.recover();
      worker.work = bus.subscribe(Topics.WORK, Bus.Start.NOW, worker::accept);
      long every = config.heartbeatEvery().toMillis();
      worker.beats.scheduleWithFixedDelay(worker::beat, every, every, TimeUnit.MILLISECONDS);
      worker.announce();
      return worker;
    } catch (RuntimeException e) {
      worker.close();
      throw e;
    }
  }

  /**
   * A worker with the real claiming logic whose tasks do nothing and pass at once, for benchmarks of dispatch. It
   * does not subscribe by itself: the caller feeds it the work topic through {@link #accept}, so that many simulated
   * workers can share one subscription.
   */
  public static Worker simulated(Bus bus, Config config, Clock clock) {
    Worker worker = new Worker(bus, config, offer -> new NoopAttempt(offer, config.id(), bus), Runnable::run, clock);
    worker.announce();
    return worker;
  }

  public String id() {
    return config.id();
  }

  /**
   * Completes, with the lead's reason, when the lead refused this worker: another process serves under its id, or its
   * key is refused (the id is enrolled with another key, or revoked). Such a worker is never offered work, so it
   * should stop.
   */
  public java.util.concurrent.CompletableFuture<String> refused() {
    return refused;
  }

  /** Handles one message from the work topic. */
  public void accept(Message message) {
    if (message instanceof TaskOffered offer) {
      onOffer(offer);
    } else if (message instanceof ClaimGranted grant) {
      onGrant(grant);
    } else if (message instanceof TaskCancelled cancel) {
      onCancel(cancel);
    } else if (message instanceof LeadOnline) {
      announce();
    } else if (message instanceof dev.lanes.protocol.EnrolmentRefused r) {
      // A refusal of one instance is for that process alone: the worker that holds the id goes on.
      if (r.worker().equals(config.id())
          && (r.instance().isEmpty() || r.instance().equals(instance.map(WorkerStatus.Instance::id)))) {
        LOG.error("the lead refused this worker: {}", r.reason());
        refused.complete(r.reason());
      }
    } else {
      throw new IllegalStateException("a worker does not handle " + message.getClass().getSimpleName());
    }
  }

  // The offer and grant handlers below run for every message on the work topic, in every worker, so their common
  // paths are written plainly (no lambdas, streams or Optional chains): with many workers in one process, as in the
  // dispatch benchmark, their allocations are what sets the pace of garbage collection.

  private synchronized void onOffer(TaskOffered offer) {
    if (!offer.requires().isEmpty() && !config.capabilities().containsAll(offer.requires())) {
      return;
    }
    if (offer.review().isPresent() && offer.review().get().writer().equals(config.id())) {
      return; // a worker never reviews its own work
    }
    Ref key = Ref.of(offer);
    Open known = open.get(key);
    TaskOffered mine = claimed.get(key);
    if ((known != null && known.offer().epoch() > offer.epoch()) || (mine != null && mine.epoch() >= offer.epoch())
        || running.containsKey(key)) {
      return;
    }
    boolean forOther = offer.preferred().isPresent() && !isMine(offer);
    long notBefore = forOther ? System.nanoTime() + holdBack() : 0;
    open.remove(key); // offered again: it moves to the back, among the offers dropped last
    open.put(key, new Open(offer, notBefore, clock.millis()));
    dropStale();
    nextReady = Math.min(nextReady, notBefore);
    claimNext();
    if (forOther) {
      scheduleDeferred();
    }
  }

  private synchronized void onGrant(ClaimGranted grant) {
    Ref key = new Ref(grant.run(), grant.task());
    Open offer = open.get(key);
    if (offer != null && offer.offer().epoch() <= grant.epoch()) {
      open.remove(key);
    }
    TaskOffered mine = claimed.get(key);
    Long claimedWhen = claimedAt.get(key);
    if (mine != null && mine.epoch() == grant.epoch() && claimedWhen != null) {
      learnAnswerTime(System.nanoTime() - claimedWhen);
    }
    boolean toMe = grant.worker().equals(config.id());
    if (mine != null && mine.epoch() == grant.epoch() && toMe && overdue(key, System.nanoTime())) {
      // The claim was as good as taken back: answering late must not depend on which thread looks first.
      takeBack(key);
      mine = null;
    }
    if (mine == null || mine.epoch() != grant.epoch()) {
      Attempt held = running.get(key);
      if (toMe && (held == null || held.offer().epoch() != grant.epoch())) {
        // A grant nobody here will take up: tell the lead at once, or the task waits for its lease to run out.
        LOG.warn("worker {}: granted attempt {} of {} without a claim for it here (taken back after {} without an"
            + " answer, or made before this worker started); it tells the lead it does not hold it", config.id(),
            grant.epoch(), key, Durations.format(CLAIM_PATIENCE));
        announce();
      }
      return;
    }
    claimed.remove(key);
    claimedAt.remove(key);
    if (toMe) {
      Attempt run = runs.apply(mine);
      running.put(key, run);
      slots.execute(() -> runTask(key, run));
    } else {
      busy--;
      claimNext();
      scheduleDeferred();
    }
  }

  /** Drops the offer if it is still open, or ends the attempt if this worker runs it. */
  private synchronized void onCancel(TaskCancelled cancel) {
    Ref key = new Ref(cancel.run(), cancel.task());
    Open offer = open.get(key);
    if (offer != null && offer.offer().epoch() <= cancel.epoch()) {
      open.remove(key);
    }
    Attempt attempt = running.get(key);
    if (attempt != null && attempt.offer().epoch() == cancel.epoch()) {
      LOG.info("task {} cancelled by the lead: {}", cancel.task(), cancel.reason());
      attempt.stop("cancelled by the lead: " + cancel.reason());
    }
  }

  /** Drops the offers heard of longest ago while there are too many, or while they are too old. */
  private void dropStale() {
    long oldest = clock.millis() - OPEN_FOR.toMillis();
    long before = dropped;
    for (var it = open.values().iterator(); it.hasNext(); ) {
      Open o = it.next();
      if (open.size() <= MAX_OPEN && o.seen() >= oldest) {
        break;
      }
      it.remove();
      dropped++;
    }
    // One line for the first drop and then one per thousand: a flood must not become a flood of log lines too.
    if (dropped != before && (before == 0 || dropped / 1000 != before / 1000)) {
      LOG.warn("worker {} dropped {} open offer(s) so far, the oldest first: at most {} are kept, none unseen for {}",
          config.id(), dropped, MAX_OPEN, Durations.format(OPEN_FOR));
    }
  }

  /** How many offers are open here now (for tests). */
  synchronized int openOffers() {
    return open.size();
  }

  /**
   * Claims open offers while slots are free: first those the lead meant for this worker, then, among offers whose
   * hold-back has passed, one at random (were all workers to pick the oldest, they would all claim the same task and
   * all but one would lose).
   */
  private void claimNext() {
    long now = System.nanoTime();
    while (busy < config.slots() && nextReady <= now) {
      List<Open> ready = new ArrayList<>();
      Open meant = null;
      long earliest = Long.MAX_VALUE;
      for (Open o : open.values()) {
        if (o.notBefore() > now) {
          earliest = Math.min(earliest, o.notBefore());
        } else {
          ready.add(o);
          if (meant == null && isMine(o.offer())) {
            meant = o;
          }
        }
      }
      // The others that are ready stay ready.
      nextReady = ready.size() > 1 ? now : earliest;
      if (ready.isEmpty()) {
        return;
      }
      TaskOffered offer = (meant != null ? meant : ready.get(ThreadLocalRandom.current().nextInt(ready.size()))).offer();
      Ref key = Ref.of(offer);
      open.remove(key);
      if (claimed.put(key, offer) != null) {
        busy--; // a newer attempt replaces a claim the lead never answered: its slot is this one
      }
      claimedAt.put(key, System.nanoTime());
      busy++;
      if (LOG.isDebugEnabled()) {
        LOG.debug("worker {} claimed attempt {} of {}", config.id(), offer.epoch(), key);
      }
      bus.publish(new ClaimRequested(offer.run(), offer.task(), offer.epoch(), config.id()));
    }
  }

  /**
   * Nanoseconds from this worker's claims to the lead's grants (to whichever worker): how long the lead takes to
   * answer, a moving average, 0 before the first. Not from offers to grants: an offer may wait for a free worker.
   */
  private long answerNanos;

  private void learnAnswerTime(long nanos) {
    answerNanos = answerNanos == 0 ? nanos : answerNanos + (nanos - answerNanos) / 8;
  }

  /** How long an offer meant for another worker is left to it from now: see {@link #HOLD_BACK}. */
  synchronized long holdBack() {
    return Math.min(MAX_HOLD_BACK.toNanos(), Math.max(HOLD_BACK.toNanos(), 4 * answerNanos));
  }

  private boolean isMine(TaskOffered offer) {
    return offer.preferred().isPresent() && offer.preferred().get().equals(config.id());
  }

  /**
   * At most one timer per worker for offers held back, and none while the slots are full (a slot that frees claims
   * anyway): with many idle workers and many offers, a timer per offer would keep every core busy waking up.
   */
  private void scheduleDeferred() {
    if (deferredPending || busy >= config.slots() || open.isEmpty()) {
      return;
    }
    long now = System.nanoTime();
    if (nextReady > now) {
      // nextReady may be early (the offer it came from is gone): the timer then finds nothing and sets a new one.
      deferredPending = true;
      beats.schedule(this::claimDeferred, nextReady - now + 1_000_000, TimeUnit.NANOSECONDS);
    }
  }

  private synchronized void claimDeferred() {
    deferredPending = false;
    claimNext();
    scheduleDeferred();
  }

  private void runTask(Ref key, Attempt run) {
    try {
      run.run();
    } catch (RuntimeException e) {
      LOG.error("task {} crashed the worker's runner: {}", key, e.toString(), e);
    } finally {
      running.remove(key);
      synchronized (this) {
        busy--;
        claimNext();
        scheduleDeferred();
      }
    }
  }

  /**
   * Takes back claims the lead never answered (a lost grant, a lead that did not know this worker yet): their slots
   * are freed. The lead publishes again the offers that are still open, so nothing is claimed twice from here.
   */
  private synchronized void expireClaims() {
    long now = System.nanoTime();
    List<Ref> overdue = new ArrayList<>();
    for (Ref key : claimed.keySet()) {
      if (overdue(key, now)) {
        overdue.add(key);
      }
    }
    overdue.forEach(this::takeBack);
    if (!overdue.isEmpty()) {
      claimNext();
      scheduleDeferred();
    }
  }

  private boolean overdue(Ref key, long now) {
    Long at = claimedAt.get(key);
    return at != null && now - at > CLAIM_PATIENCE.toNanos();
  }

  /** Frees the slot of a claim the lead did not answer; the lead publishes open offers again by itself. */
  private void takeBack(Ref key) {
    TaskOffered offer = claimed.remove(key);
    claimedAt.remove(key);
    busy--;
    LOG.warn("worker {} took back its claim on attempt {} of {}: no answer within {}", config.id(), offer.epoch(),
        key, Durations.format(CLAIM_PATIENCE));
  }

  private void beat() {
    expireClaims();
    try {
      for (Attempt run : running.values()) {
        TaskOffered t = run.offer();
        bus.publish(new Heartbeat(t.run(), t.task(), t.epoch(), config.id(), run.phase(), run.detail()));
      }
    } catch (RuntimeException e) {
      LOG.warn("heartbeat failed: {}", e.toString());
    }
  }

  /**
   * Tells the lead this worker's capabilities and load, and the attempts it holds (running, or claimed and waiting
   * for the grant): a lead that took over learns from it which of its grants never arrived. A worker with a key of its
   * own introduces it first, at every announcement: a lead that started since, or never recorded the enrolment, learns
   * the key before the status.
   */
  private void announce() {
    int now;
    List<WorkerStatus.Hold> holds = new ArrayList<>();
    synchronized (this) {
      now = busy;
      running.forEach((key, attempt) -> holds.add(new WorkerStatus.Hold(key.run(), key.task(), attempt.offer().epoch(),
          true)));
      claimed.forEach((key, offer) -> holds.add(new WorkerStatus.Hold(key.run(), key.task(), offer.epoch(), false)));
    }
    bus.enrolment(config.id()).ifPresent(bus::publish);
    bus.publish(new WorkerStatus(config.id(), config.host(), config.capabilities(), config.slots(), now,
        Optional.of(holds), instance));
  }

  /**
   * A task of a run, as the key of the worker's books. Not the bus key string: every simulated worker of the dispatch
   * benchmark would build that string anew for every message, and the two ids' hashes are kept by the strings.
   */
  private record Ref(String run, String task) {
    static Ref of(TaskOffered offer) {
      return new Ref(offer.run(), offer.task());
    }

    // Written out: a record's generated equals and hashCode go through method handles, which the launcher's C1-only
    // JIT does not inline, and these two run for every message in every worker.
    @Override
    public boolean equals(Object o) {
      return o instanceof Ref r && task.equals(r.task) && run.equals(r.run);
    }

    @Override
    public int hashCode() {
      return 31 * run.hashCode() + task.hashCode();
    }

    @Override
    public String toString() {
      return dev.lanes.protocol.TaskRef.key(run, task);
    }
  }

  /** An offer this worker could run, and when it may claim it (later, when the lead preferred another worker). */
  /** An offer not yet claimed; {@code seen} is when it last arrived, in {@link Clock#millis} of the worker's clock. */
  private record Open(TaskOffered offer, long notBefore, long seen) {}

  /** One granted attempt at a task, as the worker's slots see it. */
  interface Attempt {
    TaskOffered offer();

    /** What the attempt is doing now, for heartbeats. */
    String phase();

    /** The latest word on the phase (the agent's last step, say), repeated by periodic heartbeats. */
    default String detail() {
      return "";
    }

    /** Runs the attempt to its end and publishes its result. */
    void run();

    /** Ends the attempt early; it still publishes a result that says why. */
    default void stop(String why) {}
  }

  /** An attempt that does nothing and passes at once without a change. */
  private record NoopAttempt(TaskOffered offer, String worker, Bus bus) implements Attempt {
    @Override
    public String phase() {
      return "noop";
    }

    @Override
    public void run() {
      bus.publish(new TaskResult(offer.run(), offer.task(), offer.epoch(), worker, TaskResult.Outcome.PASSED,
          offer.branch(), Optional.of(offer.baseCommit()), List.of(), 0, -1, "", "", 0, Optional.empty(),
          Optional.empty()));
    }
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  @Override
  public void close() {
    if (work != null) {
      work.close();
    }
    beats.shutdownNow();
    if (slots instanceof ExecutorService pool) {
      pool.shutdownNow();
      try {
        pool.awaitTermination(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (workDir != null) {
      workDir.close();
    }
  }

  /** The directory this worker owns; empty for a simulated worker. */
  public Optional<WorkDir> workDir() {
    return Optional.ofNullable(workDir);
  }
}
