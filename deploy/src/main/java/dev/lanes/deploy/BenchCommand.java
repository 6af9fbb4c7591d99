package dev.lanes.deploy;

import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code lanes bench …}: benchmarks that print their figures next to the bare tool they wrap. */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = "Benchmarks. Each prints its figures and, as its last line, a machine-readable summary.",
    subcommands = {BenchCommand.Dispatch.class, BenchCommand.Claims.class, BenchCommand.Setup.class, BenchCommand.Recovery.class, BenchCommand.Merge.class,
        HelpCommand.class})
final class BenchCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  @Command(
      name = "dispatch",
      mixinStandardHelpOptions = true,
      description = {
        "Times handing tasks to workers through a real lead and the embedded broker.",
        "",
        "Simulated workers (the real claiming logic, tasks that pass at once) against the embedded broker and a real"
            + " lead: offered-to-granted latency and tasks/s, next to a plain Kafka produce-to-consume round trip. The"
            + " tasks run in --in-flight chains, each landing releasing the next task of its chain. Two legs, each in"
            + " a JVM and on a broker of its own: plaintext and unsigned, then secured as lanes broker secures it. Unless"
            + " --warmup is given, each pass warms up until the JIT has settled (until it compiles for less than 5%% of"
            + " the time of three plans of " + DispatchBench.WARMUP_PLAN + " tasks in a row, for 3 minutes at most),"
            + " as a lead that has run for a while has it.",
        "",
        "Exit 0 when the benchmark ran, 1 when a leg's process failed, 2 for bad input."
      })
  static final class Dispatch implements Callable<Integer> {
    @Option(names = "--workers", paramLabel = "N", defaultValue = "100", description = "Simulated workers (default: ${DEFAULT-VALUE}).")
    int workers;

    @Option(names = "--tasks", paramLabel = "N", defaultValue = "5000", description = "No-op tasks measured (default: ${DEFAULT-VALUE}).")
    int tasks;

    @Option(names = "--in-flight", paramLabel = "N", description = "Tasks open at once (default: half the workers).")
    Integer inFlight;

    @Option(names = "--warmup", paramLabel = "N",
        description = "No-op tasks run first and not counted, to warm up the JIT, in each pass (default: at least "
            + DispatchBench.WARMUP_PLAN + ", and more until the JIT has settled, as said above).")
    Integer warmup;

    @Option(names = "--only", paramLabel = "LEG",
        description = "Run one leg only: secure (SASL_SSL, credentials, tagged messages: the default set-up), plain"
            + " (plaintext, unsigned), tls (SASL_SSL and credentials, unsigned) or tags (plaintext, tagged messages)."
            + " By default plain and secure run, plain first, each in a JVM of its own, and the cost of security is"
            + " printed.")
    DispatchBench.Leg only;

    @Option(names = "--http",
        description = "Run each leg four times on its broker, with the lead's HTTP server on and watched (one client"
            + " following /api/events, /metrics and /api/state read every second), off, off and on, and print the"
            + " mean of each side side by side.")
    boolean http;

    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      if (workers < 1 || tasks < 1) {
        throw new IllegalArgumentException("--workers and --tasks must be at least 1");
      }
      boolean settle = warmup == null;
      int warmUpTasks = settle ? DispatchBench.WARMUP_PLAN : warmup;
      if (warmUpTasks < 0) {
        throw new IllegalArgumentException("--warmup: " + warmUpTasks + " must not be negative");
      }
      int open = inFlight == null ? Math.max(1, workers / 2) : inFlight;
      if (open < 1) {
        throw new IllegalArgumentException("--in-flight: " + open + " must be at least 1");
      }
      DispatchBench.checkFits(tasks, open);
      if (only != null) {
        DispatchBench.run(workers, tasks, open, warmUpTasks, settle, only, http, spec.commandLine().getOut());
        return Main.OK;
      }
      List<String> options = new java.util.ArrayList<>(List.of("--workers", String.valueOf(workers), "--tasks",
          String.valueOf(tasks), "--in-flight", String.valueOf(open)));
      if (!settle) {
        options.addAll(List.of("--warmup", String.valueOf(warmUpTasks)));
      }
      if (http) {
        options.add("--http");
      }
      try {
        DispatchBench.runApart(List.of(DispatchBench.Leg.PLAIN, DispatchBench.Leg.SECURE), options,
            spec.commandLine().getOut());
      } catch (IllegalStateException e) {
        spec.commandLine().getErr().println("lanes: " + e.getMessage());
        return Main.FAILED;
      }
      return Main.OK;
    }
  }

  @Command(
      name = "claims",
      mixinStandardHelpOptions = true,
      description = {
        "Times the exact ownership check of a generated plan.",
        "",
        "--tasks tasks of --claims claims each, all concurrent, over a generated tree of --paths files, as lanes check"
            + " runs it: time, pairs of claims actually compared and conflicts found, next to the number of pairs a"
            + " naive all-pairs check compares. The first run is cold, the rest warm.",
        "",
        "Exit 0 when the benchmark ran, 2 for bad input."
      })
  static final class Claims implements Callable<Integer> {
    @Option(names = "--tasks", paramLabel = "N", defaultValue = "1000", description = "Tasks, one module each (default: ${DEFAULT-VALUE}).")
    int tasks;

    @Option(names = "--claims", paramLabel = "N", defaultValue = "5", description = "Claims per task (default: ${DEFAULT-VALUE}).")
    int claims;

    @Option(names = "--paths", paramLabel = "N", defaultValue = "100000", description = "Files in the tree (default: ${DEFAULT-VALUE}).")
    int paths;

    @Option(names = "--runs", paramLabel = "N", defaultValue = "5", description = "Checks in this process (default: ${DEFAULT-VALUE}).")
    int runs;

    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      if (tasks < 1 || claims < 1 || paths < 1 || runs < 1) {
        throw new IllegalArgumentException("--tasks, --claims, --paths and --runs must be at least 1");
      }
      ClaimsBench.run(tasks, claims, paths, runs, spec.commandLine().getOut());
      return Main.OK;
    }
  }

  @Command(
      name = "setup",
      mixinStandardHelpOptions = true,
      description = {
        "Times a worker's per-task setup and teardown against bare git worktree commands.",
        "",
        "A worker's setup and teardown (worktree, branch, bookkeeping) on a generated repository, next to bare git"
            + " worktree add / git worktree remove on the same mirror, alternating.",
        "",
        "Exit 0 when the benchmark ran, 2 for bad input."
      })
  static final class Setup implements Callable<Integer> {
    @Option(names = "--files", paramLabel = "N", defaultValue = "5000", description = "Files in the repository (default: ${DEFAULT-VALUE}).")
    int files;

    @Option(names = "--iterations", paramLabel = "N", defaultValue = "20", description = "Measured rounds (default: ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "3", description = "Rounds before measuring (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      if (files < 1 || iterations < 1 || warmup < 0) {
        throw new IllegalArgumentException("--files and --iterations must be at least 1, --warmup at least 0");
      }
      SetupBench.run(files, iterations, warmup, spec.commandLine().getOut());
      return Main.OK;
    }
  }

  @Command(
      name = "recovery",
      mixinStandardHelpOptions = true,
      description = {
        "Times a lead starting over a long log, from start to serving, and its heap afterwards.",
        "",
        "The log holds --tasks finished tasks (four decisions each) and one unfinished run, which the lead resumes.",
        "",
        "Exit 0 when the benchmark ran, 2 for bad input."
      })
  static final class Recovery implements Callable<Integer> {
    @Option(names = "--tasks", paramLabel = "N", defaultValue = "10000", description = "Finished tasks in the log (default: ${DEFAULT-VALUE}).")
    int tasks;

    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      if (tasks < 1) {
        throw new IllegalArgumentException("--tasks: " + tasks + " must be at least 1");
      }
      RecoveryBench.run(tasks, spec.commandLine().getOut());
      return Main.OK;
    }
  }

  @Command(
      name = "merge",
      mixinStandardHelpOptions = true,
      description = {
        "Times landing branches through the merge queue against a bare git loop.",
        "",
        "--branches finished, non-conflicting branches on a generated repository landed through the merge queue"
            + " (verify: true on every merged tree), next to a bare git loop of merge-tree + commit-tree + update-ref in"
            + " the same run.",
        "",
        "Exit 0 when the benchmark ran, 2 for bad input."
      })
  static final class Merge implements Callable<Integer> {
    @Option(names = "--branches", paramLabel = "N", defaultValue = "16", description = "Branches to land (default: ${DEFAULT-VALUE}).")
    int branches;

    @Option(names = "--files", paramLabel = "N", defaultValue = "2000", description = "Files in the repository (default: ${DEFAULT-VALUE}).")
    int files;

    @Option(names = "--rounds", paramLabel = "N", defaultValue = "5", description = "Measured rounds (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--window", paramLabel = "N", defaultValue = "4",
        description = "The queue's speculative window (default: ${DEFAULT-VALUE}).")
    int window;

    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      if (branches < 1 || files < 1 || rounds < 1 || window < 1) {
        throw new IllegalArgumentException("--branches, --files, --rounds and --window must be at least 1");
      }
      MergeBench.run(branches, files, rounds, window, spec.commandLine().getOut());
      return Main.OK;
    }
  }
}
