package dev.lanes.deploy;

import dev.lanes.bus.KafkaBus;
import dev.lanes.protocol.Durations;
import dev.lanes.worker.WorkDir;
import dev.lanes.worker.Worker;
import java.io.PrintWriter;
import java.util.Optional;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code lanes worker}: a worker daemon. */
@Command(
    name = "worker",
    mixinStandardHelpOptions = true,
    description = {
      "Runs a worker daemon until stopped.",
      "",
      "It claims tasks it can run while it has free slots, runs each in a worktree of its own made from --repo (a URL; a plain path counts), and pushes task branches back there.",
      "",
      "Exit 0 when stopped (Ctrl-C, SIGTERM) or when --list-kept or --discard is done, 1 when Kafka did not answer within --timeout, 2 for bad input."
    })
final class WorkerCommand implements Callable<Integer> {
  @picocli.CommandLine.Mixin BusOptions busOptions;

  @Option(names = "--repo", paramLabel = "URL", description = "Where to fetch from and push to.")
  String repo;

  @Option(names = "--id", paramLabel = "ID", description = "This worker's name, unique among the workers (default: the"
      + " host name). A second worker with an id in use exits 2, naming the other's process (same --dir) or host.")
  String id;

  @Option(names = "--slots", paramLabel = "N", defaultValue = "1", description = "Tasks at once (default: ${DEFAULT-VALUE}).")
  int slots;

  @Option(names = "--capability", split = ",", paramLabel = "CAP", description = "What this worker can do (java,node,…).")
  List<String> capabilities = List.of();

  @Option(names = "--dir", paramLabel = "DIR",
      description = "The worker's own directory: mirror, worktrees, logs (default: ~/.local/state/lanes/worker-ID).")
  Path dir;

  @Option(names = "--heartbeat", defaultValue = "20s", paramLabel = "DURATION",
      description = "How often running tasks report in (default: ${DEFAULT-VALUE}); keep it well below the lease.")
  String heartbeat;

  @Option(names = "--reset-mirror",
      description = "When --dir mirrors another repository than --repo (the worker was started there before with"
          + " another --repo), mirror --repo from now on instead of refusing to start; kept attempts stay.")
  boolean resetMirror;

  @Option(names = "--list-kept",
      description = "List the attempts kept (failed, timed out, archived after a crash) under --dir and exit: a"
          + " worker's directory, or the run directory lanes run printed (one directory per worker below it).")
  boolean listKept;

  @Option(names = "--discard", paramLabel = "RUN/TASK/eN",
      description = "Delete one kept attempt (its worktree, branch and logs) and exit; --dir as for --list-kept; the"
          + " worker must not be running.")
  String discard;

  @picocli.CommandLine.Mixin PassEnvOption passEnv;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    String name = id != null ? id : hostName();
    if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,62}")) {
      throw new IllegalArgumentException("--id: \"" + name + "\" must be letters, digits, '.', '_' or '-'");
    }
    Path work = dir != null ? dir.toAbsolutePath() : Daemons.stateDir("worker-" + name);
    if (listKept) {
      return printKept(work, out);
    }
    if (discard != null) {
      try (WorkDir workDir = WorkDir.openExisting(KeptAttempts.holderOf(work, discard), Clock.systemUTC())) {
        WorkDir.Kept gone = workDir.discard(discard);
        out.println("discarded " + gone.id() + " (" + gone.outcome() + ")");
      }
      return Main.OK;
    }
    if (repo == null) {
      throw new IllegalArgumentException("--repo is required to run a worker");
    }
    String url = remote(repo);
    // The client file first, keys included: one that cannot be used leaves no directory, mirror or lock behind.
    dev.lanes.bus.ClientConfig kafka = busOptions.config();
    dev.lanes.bus.MessageKeys.of(kafka.lanes());
    // Checked before Kafka is reached: another worker in this directory, or a mirror of another repository, is said
    // at once, and nothing of the bus is left to close.
    WorkDir.open(work, url, Clock.systemUTC(), resetMirror).close();
    String bootstrapServers = kafka.bootstrapServers();
    Worker.Config config = new Worker.Config(name, hostName(), capabilities, slots, url, work,
        Durations.parse("--heartbeat", heartbeat), Map.of(), passEnv.names());
    KafkaBus bus = KafkaBus.connect(kafka, "lanes-worker-" + name,
        Daemons.envelope(kafka.lanes(), Optional.of(name), Optional.of(work), spec.commandLine().getErr()));
    Daemons.awaitReachable(bus);
    bus.createTopics(); // a worker may well start before the lead does
    Worker worker = Worker.start(bus, config, Clock.systemUTC(), resetMirror);
    out.println("Worker " + name + " (" + slots + " slot(s), capabilities " + capabilities + ") on " + bootstrapServers
        + ", repository " + url + ", directory " + work);
    out.flush();
    return Daemons.runUntilStopped(() -> {
      worker.close();
      bus.close();
    }, "worker " + name, out, worker.refused().thenApply(why -> "worker " + name + " may not run: " + why
        + "; give this worker another --id, or run it with the --dir that holds its key"), spec.commandLine().getErr());
  }

  /**
   * The remote as the mirror keeps it: a plain path made absolute, since git resolves a relative one from the mirror's
   * directory, not from where the worker was started; a path that does not exist is refused now rather than at the
   * first task.
   */
  private static String remote(String repo) {
    if (!dev.lanes.worker.git.Mirror.isLocalPath(repo)) {
      return repo;
    }
    Path path = Path.of(repo).toAbsolutePath().normalize();
    if (!java.nio.file.Files.exists(path)) {
      throw new IllegalArgumentException("--repo: " + path + " does not exist");
    }
    return path.toString();
  }

  /** The kept attempts under a worker's directory, or under each worker's of a {@code lanes run} run directory. */
  private static int printKept(Path work, PrintWriter out) {
    List<KeptAttempts.Found> kept = KeptAttempts.under(work);
    if (kept.isEmpty()) {
      out.println("No kept attempts in " + work);
    }
    kept.forEach(k -> KeptAttempts.print(out, "", k));
    out.flush();
    return Main.OK;
  }

  static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException e) {
      return "localhost";
    }
  }
}
