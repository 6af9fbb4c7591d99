package dev.lanes.deploy;

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
    subcommands = {BenchCommand.Dispatch.class})
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
        "Simulated workers (the real claiming logic, tasks that pass at once) against the embedded broker and a",
        "real lead: offered-to-granted latency and tasks/s, next to a plain Kafka produce-to-consume round trip."
      })
  static final class Dispatch implements Callable<Integer> {
    @Option(names = "--workers", defaultValue = "100", description = "Simulated workers (default: ${DEFAULT-VALUE}).")
    int workers;

    @Option(names = "--tasks", defaultValue = "1000", description = "No-op tasks (default: ${DEFAULT-VALUE}).")
    int tasks;

    @Option(names = "--in-flight", description = "Tasks open at once (default: half the workers).")
    Integer inFlight;

    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      if (workers < 1 || tasks < 1) {
        throw new IllegalArgumentException("--workers and --tasks must be at least 1");
      }
      int open = inFlight == null ? Math.max(1, workers / 2) : inFlight;
      if (open < 1) {
        throw new IllegalArgumentException("--in-flight: " + open + " must be at least 1");
      }
      DispatchBench.run(workers, tasks, open, spec.commandLine().getOut());
      return Main.OK;
    }
  }
}
