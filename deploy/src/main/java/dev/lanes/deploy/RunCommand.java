package dev.lanes.deploy;

import dev.lanes.coordinator.Lead;
import dev.lanes.coordinator.RunReport;
import dev.lanes.coordinator.git.TargetBranch;
import dev.lanes.coordinator.git.TargetLock;
import dev.lanes.protocol.ExistingTarget;
import dev.lanes.protocol.OwnershipCheck;
import dev.lanes.protocol.OwnershipReport;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.PlanParser;
import dev.lanes.protocol.Topics;
import dev.lanes.bus.Bus;
import dev.lanes.bus.ClientConfig;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code lanes run}: broker, lead and workers in one process, one plan run to the end. */
@Command(
    name = "run",
    mixinStandardHelpOptions = true,
    description = {
      "Runs a plan to the end in this process: broker, lead and local workers.",
      "",
      "An embedded Kafka broker on 127.0.0.1 is used unless --bootstrap-servers or --kafka-config is given; only this process holds its password. Tasks that may run at once and own a common path are put in order first (refused with --strict). Results land on the plan's target branch; your working tree and checked-out branch are never touched.",
      "",
      "Before anything starts, the plan is checked against the repository as lanes check does: a target that is a checked-out branch is refused; uncommitted changes, and a verify command or agent that cannot run (a relative path the base commit does not have, a program not on this machine's PATH) are warnings that name the tasks.",
      "",
      "One run per target: a target another run holds is refused, naming it. A target an earlier run left ahead of the base needs --continue or --fresh. At the end, each task that did not land is listed with the paths of its logs and worktree.",
      "",
      "A plan's budget-usd pauses the run once its agents have spent it: no new attempt starts, running ones finish and what passed lands; then lanes run ends, exit 1, saying the budget stopped it. With --http given, it waits instead for the budget to be raised on the dashboard.",
      "",
      "Exit 0 when every task landed, 1 when any did not (a budget stopped the run, or conflicts under --strict), 2 for"
          + " bad input (a held target too)."
    })
final class RunCommand implements Callable<Integer> {
  @Parameters(paramLabel = "PLAN", description = "The plan file (YAML).")
  Path plan;

  @Option(names = "--repo", paramLabel = "DIR", defaultValue = ".", description = "The repository to work on (default: ${DEFAULT-VALUE}).")
  Path repo;

  @Option(names = "--workers", paramLabel = "N", defaultValue = "2", description = "Local workers, one task each (default: ${DEFAULT-VALUE}).")
  int workers;

  @picocli.CommandLine.Mixin BusOptions busOptions;

  @picocli.CommandLine.Mixin MergeOptions merge;

  @picocli.CommandLine.Mixin PassEnvOption passEnv;

  @picocli.CommandLine.Mixin HttpOptions http = new HttpOptions();

  @picocli.CommandLine.Mixin AttentionOptions attention;

  @Option(names = "--max-attempts", paramLabel = "N", defaultValue = "1",
      description = "Attempts a task gets in all, whatever starts them (a failure, a claim extended, a fix after an"
          + " eviction or a review); then it fails (default: ${DEFAULT-VALUE}).")
  int maxAttempts;

  @Option(names = "--strict",
      description = "Refuse to start when tasks that may run at once own the same paths (default: run them in order).")
  boolean strict;

  @Option(names = "--capability", split = ",", paramLabel = "CAP",
      description = "Capabilities of the local workers (default: every capability the plan requires).")
  List<String> capabilities;

  @picocli.CommandLine.ArgGroup(exclusive = true) Existing existing = new Existing();

  /** What to do with a target that already exists and is ahead of the base: one of two, or neither (refuse). */
  static final class Existing {
    @Option(names = "--continue",
        description = "The target branch exists and is ahead of the base (an earlier run's result): build on it.")
    boolean keep;

    @Option(names = "--fresh", description = "The target branch exists and is ahead of the base: start it again from"
        + " the base; its old tip is kept as refs/lanes/backup/TARGET/RUN.")
    boolean fresh;

    Optional<ExistingTarget> choice() {
      return fresh ? Optional.of(ExistingTarget.FRESH) : keep ? Optional.of(ExistingTarget.CONTINUE) : Optional.empty();
    }
  }

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    if (workers < 1) {
      throw new IllegalArgumentException("--workers: " + workers + " must be at least 1");
    }
    // The client file first: one that cannot be used is the one line said, before any check of the plan.
    Optional<ClientConfig> kafka = busOptions.given() ? Optional.of(busOptions.config()) : Optional.empty();
    http.options(FREE_PORT); // a bad address is bad input, said before anything starts
    Lead.Attention attending = http.attention(attention.attention());
    Plan parsed = PlanParser.parse(plan);
    PrintWriter out = spec.commandLine().getOut();
    // Before a broker, a mirror or a directory exists: a refused run leaves nothing behind.
    Preflight.Findings found = Preflight.check(parsed, Optional.of(repo), Preflight.Agents.HERE);
    found.warnings().forEach(w -> out.println("warning: " + w));
    out.flush();
    found.requireNoErrors();
    Optional<Plan> checked = checkOwnership(parsed, found.baseFiles().orElseThrow(), strict, out);
    if (checked.isEmpty()) {
      return Main.FAILED;
    }
    PlanParser.recordable(checked.get(), plan.toString()); // ordering added dependencies: still one record?
    return execute(checked.get(), repo, workers, capabilities, kafka,
        merge.applyTo(Lead.Settings.fixedWorkers().withMaxAttempts(maxAttempts)).withPassEnv(passEnv.names()),
        existing.choice(), http, attending, out);
  }

  /** Where {@code lanes run} serves its dashboard unless told: a free port of the loopback interface. */
  static final String FREE_PORT = "127.0.0.1:0";

  /**
   * The ownership check that comes before any agent runs. Tasks that may run at the same time and own a common path
   * are put in order (the later in the plan waits for the earlier), each added edge printed; with {@code strict},
   * the conflicts are printed and nothing runs (empty).
   */
  static Optional<Plan> checkOwnership(Plan plan, List<String> files, boolean strict, PrintWriter out) {
    OwnershipReport report = OwnershipCheck.check(plan, files);
    report.warnings().forEach(w -> out.println("warning: " + w));
    if (!report.hasConflicts()) {
      return Optional.of(plan);
    }
    if (strict) {
      report.conflicts().forEach(c -> out.println("conflict: " + c.describe(3)));
      out.println(report.conflicts().size() + " ownership conflict(s); --strict: nothing was run");
      return Optional.empty();
    }
    OwnershipCheck.Serialized serialized = OwnershipCheck.serialize(plan, report.conflicts());
    serialized.added().forEach(e -> out.println("ordered: " + e.task() + " now runs after " + e.after() + " ("
        + e.reason().describe(3) + ")"));
    return Optional.of(serialized.plan());
  }

  /** Runs a validated plan on a new target and prints its progress and summary; returns the exit code. */
  static int execute(Plan plan, Path repo, int workers, List<String> capabilities, Optional<ClientConfig> bootstrap,
      Lead.Settings settings, PrintWriter out) {
    HttpOptions off = new HttpOptions();
    off.http = "off";
    return execute(plan, repo, workers, capabilities, bootstrap, settings, Optional.empty(), off, Lead.Attention.NONE,
        out);
  }

  /**
   * Runs a validated plan and prints its progress and summary; returns the exit code. The target is taken (see
   * {@link TargetLock}) and checked against {@code existing} before anything starts, so a refused run leaves nothing.
   */
  static int execute(Plan plan, Path repo, int workers, List<String> capabilities, Optional<ClientConfig> bootstrap,
      Lead.Settings settings, Optional<ExistingTarget> existing, HttpOptions http, Lead.Attention attention,
      PrintWriter out) {
    Path repoDir = repo.toAbsolutePath().normalize();
    String runId = Lead.newRunId(plan, Clock.systemUTC());
    Path gitDir;
    try (TargetBranch target = TargetBranch.open(repoDir)) {
      gitDir = target.commonGitDir();
    }
    try (TargetLock lock = TargetLock.acquire(gitDir, TargetLock.Holder.of(runId, plan.target(),
        Clock.systemUTC().instant(), "lanes run"))) {
      try (TargetBranch target = TargetBranch.open(repoDir)) {
        target.check(plan.target(), target.resolveBase(plan.base()), existing);
      }
      Path runDir = LocalCluster.tempDir("lanes-run-");
      Path record = RunRecords.write(gitDir, runId, plan.target(), runDir);
      int code = execute(plan, repoDir, runDir, runId, workers, capabilities, bootstrap, settings, existing, http,
          attention, out);
      if (!Files.exists(runDir)) {
        deleteQuietly(record);
      }
      return code;
    }
  }

  private static int execute(Plan plan, Path repo, Path runDir, String runId, int workers, List<String> capabilities,
      Optional<ClientConfig> bootstrap, Lead.Settings settings, Optional<ExistingTarget> existing, HttpOptions http,
      Lead.Attention attention, PrintWriter out) {
    List<String> caps = capabilities == null ? required(plan) : capabilities;
    if (bootstrap.isEmpty()) {
      out.println("Starting an embedded Kafka broker, the lead and " + workers + " worker(s)...");
    }
    LocalCluster cluster = LocalCluster.start(runDir, repo, workers, caps, bootstrap, settings, attention);
    Optional<dev.lanes.coordinator.http.HttpServer> server;
    try {
      server = http.serve(FREE_PORT, cluster.lead(), runDir.resolve("lead"), out);
    } catch (RuntimeException e) {
      cluster.close(false);
      throw e;
    }
    boolean keep = true;
    Thread hook = new Thread(() -> {
      // Ctrl-C: the workers end their agents, whose worktrees are kept, then everything stops.
      try {
        cluster.lead().cancel(runId, "lanes run was interrupted");
      } finally {
        cluster.close(true);
      }
    }, "lanes-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      Progress progress = new Progress(out, runId);
      CountDownLatch finished = new CountDownLatch(1);
      cluster.bus("progress").subscribe(Topics.EVENTS, Bus.Start.NOW, message -> {
        progress.onMessage(message);
        if (message instanceof dev.lanes.protocol.RunFinished f && f.run().equals(runId)) {
          finished.countDown();
        }
      });
      cluster.awaitWorkers(Duration.ofSeconds(30));
      // With --http given, a person watches the dashboard and may raise the budget there; else nobody can.
      boolean raisable = http.watched() && server.isPresent();
      RunReport report = endOrBudgetStop(cluster.lead().submit(plan, runId, existing, "lanes run"), raisable, out);
      if (report.stalled()) {
        Progress.summary(out, report);
        out.println();
        out.println("The budget stopped run " + runId + ": " + report.paused().orElseThrow());
        out.println("What passed has landed on " + plan.target() + "; run the plan again with a higher budget-usd and"
            + " --continue to go on from there.");
        return Main.FAILED;
      }
      awaitQuietly(finished);
      Progress.summary(out, report);
      keep = !report.allLanded();
      if (keep) {
        KeptAttempts.printNotLanded(out, report, cluster.workRoot());
      }
      return report.allLanded() ? Main.OK : Main.FAILED;
    } finally {
      server.ifPresent(dev.lanes.coordinator.http.HttpServer::close);
      cluster.close(keep);
      removeHook(hook);
    }
  }

  /**
   * The run's final report, or its report once a budget has paused it and nothing of it is still under way (see
   * {@link RunReport#stalled}): running attempts have finished and what passed has landed. A run that ends with this
   * command has nobody to raise its budget, unless its dashboard was asked for ({@code raisable}): then it waits for
   * a raise there, saying so once.
   */
  private static RunReport endOrBudgetStop(Lead.RunHandle run, boolean raisable, PrintWriter out) {
    boolean told = false;
    while (true) {
      try {
        return run.done().get(500, TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        RunReport now = run.snapshot().get();
        if (now.stalled() && !raisable) {
          return now;
        } else if (now.stalled() && !told) {
          out.println("run " + run.id() + " is paused: " + now.paused().orElseThrow() + "; raise its budget on the"
              + " dashboard (or POST /api/runs/" + run.id() + "/budget) to go on, or stop it with Ctrl-C");
          out.flush();
        }
        told = now.stalled();
      } catch (java.util.concurrent.ExecutionException e) {
        throw new IllegalStateException("run " + run.id() + " failed in the lead: " + e.getCause(), e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return run.snapshot().get();
      }
    }
  }

  private static void deleteQuietly(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (java.io.IOException e) {
      // a record of a directory that is gone: lanes gc drops it
    }
  }

  private static List<String> required(Plan plan) {
    Set<String> all = new LinkedHashSet<>();
    plan.tasks().forEach(t -> all.addAll(t.requires()));
    return List.copyOf(all);
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void removeHook(Thread hook) {
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // the JVM is already shutting down; the hook runs anyway
    }
  }
}
