package dev.lanes.deploy;

import static org.awaitility.Awaitility.await;

import dev.lanes.bus.KafkaBus;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.Topics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Lanes as separate processes, for fault tests: a broker, leads and workers, each a {@code java -jar lanes.jar} of its
 * own with its output in a log file, which the test can kill, stop and continue with real signals.
 */
final class ProcessCluster implements AutoCloseable {
  private static final Path JAR = Path.of("target", "lanes.jar").toAbsolutePath();

  private final Path dir;
  private final int port;
  private final Map<String, Process> processes = new LinkedHashMap<>();
  /** Set in the environment of every process started from now on, on top of this JVM's. */
  private final Map<String, String> environment = new LinkedHashMap<>();
  private KafkaBus bus;

  ProcessCluster(Path dir) {
    if (!Files.isRegularFile(JAR)) {
      throw new IllegalStateException(JAR + " is missing: fault tests run after the package phase");
    }
    this.dir = dir;
    this.port = freePort();
  }

  String bootstrap() {
    return "127.0.0.1:" + port;
  }

  /** The client file the secured broker wrote for {@code role} (lead, worker, submit). */
  Path clientFile(String role) {
    return dev.lanes.bus.ClientFiles.path(dir.resolve("broker"), role);
  }

  /** Starts {@code lanes broker} (secured unless {@code extra} says {@code --insecure}) and waits until it serves. */
  void startBroker(String... extra) {
    List<String> args = new ArrayList<>(List.of("broker", "--port", Integer.toString(port), "--dir",
        dir.resolve("broker").toString()));
    args.addAll(List.of(extra));
    start("broker", args.toArray(String[]::new));
    awaitLog("broker", "Kafka broker for Lanes on");
  }

  /** Starts a lead with the given client file. */
  void startLead(String name, Path repo, Path kafkaConfig) {
    start(name, "coordinator", "--kafka-config", kafkaConfig.toString(), "--repo", repo.toString());
  }

  /** Starts the broker again on the same port and data directory, after {@link #stop}. */
  void startBroker2() {
    start("broker-2", "broker", "--port", Integer.toString(port), "--dir", dir.resolve("broker").toString());
    awaitLog("broker-2", "Kafka broker for Lanes on");
  }

  /** Puts {@code variables} in the environment of every process this cluster starts from now on. */
  void environment(Map<String, String> variables) {
    environment.putAll(variables);
  }

  void startLead(String name, Path repo, String lease, int attempts, String... more) {
    List<String> args = new ArrayList<>(List.of("coordinator", "--kafka-config", clientFile("lead").toString(),
        "--repo", repo.toString(), "--lease", lease, "--max-attempts", Integer.toString(attempts)));
    args.addAll(List.of(more));
    start(name, args.toArray(String[]::new));
  }

  void startWorker(String id, Path repo, String... more) {
    List<String> args = new ArrayList<>(List.of("worker", "--kafka-config", clientFile("worker").toString(),
        "--repo", repo.toString(), "--id", id, "--dir", dir.resolve("work-" + id).toString(), "--heartbeat", "500ms"));
    args.addAll(List.of(more));
    start(id, args.toArray(String[]::new));
    awaitLog(id, "Worker " + id);
  }

  /** Runs a command ({@code lanes ARGS}) as a process of its own to its end; its output is in {@link #log}. */
  int run(String name, Duration patience, String... args) {
    start(name, args);
    Process p = processes.get(name);
    try {
      if (!p.waitFor(patience.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError(name + " did not end within " + patience);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
    return p.exitValue();
  }

  /** Starts {@code lanes ARGS} as a process of its own, without waiting for anything. */
  void start(String name, String... args) {
    List<String> argv = new ArrayList<>(List.of(javaBin(), "-Xmx256m", "-jar", JAR.toString()));
    argv.addAll(List.of(args));
    try {
      ProcessBuilder builder = new ProcessBuilder(argv).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(log(name).toFile()));
      builder.environment().putAll(environment);
      Process p = builder.start();
      processes.put(name, p);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + name, e);
    }
  }

  /** The process id of a process this cluster started. */
  long pid(String name) {
    return processes.get(name).pid();
  }

  Path log(String name) {
    return dir.resolve(name + ".log");
  }

  void awaitLog(String name, String text) {
    awaitLog(name, text, 1);
  }

  /** Waits until {@code name}'s log holds {@code text} {@code times} times: a process started again appends to it. */
  void awaitLog(String name, String text, int times) {
    // A secured broker's first start makes its keys with keytool, which takes long on a busy 2-core machine.
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(100))
        .until(() -> count(name, text) >= times);
  }

  /** How many times {@code name}'s log holds {@code text} so far; 0 before it has a log. */
  int count(String name, String text) throws IOException {
    Path log = log(name);
    return Files.exists(log) ? Files.readString(log).split(java.util.regex.Pattern.quote(text), -1).length - 1 : 0;
  }

  /** Sends a signal: KILL, STOP, CONT, TERM. */
  void signal(String name, String signal) {
    try {
      new ProcessBuilder("kill", "-s", signal, Long.toString(processes.get(name).pid())).start().waitFor(5,
          TimeUnit.SECONDS);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Kills with SIGKILL and waits until the process is gone. */
  void kill(String name) {
    Process p = processes.get(name);
    p.destroyForcibly();
    try {
      p.waitFor(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Stops with SIGTERM, the way an operator would, and waits for the clean shutdown. */
  void stop(String name) {
    Process p = processes.get(name);
    p.destroy();
    try {
      p.waitFor(60, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The lead's whole log of decisions, read fresh from the broker. */
  List<Message> events() {
    if (bus == null) {
      // The lead's own client file: its keys check the log as the lead does.
      dev.lanes.bus.ClientConfig lead = dev.lanes.bus.ClientConfig.load(clientFile("lead"), Optional.empty());
      bus = KafkaBus.connect(lead, "fault-test", dev.lanes.bus.MessageKeys.of(lead.lanes())
          .map(dev.lanes.bus.Envelope::of).orElseGet(dev.lanes.bus.Envelope::unsigned));
    }
    List<Message> all = new ArrayList<>();
    bus.replay(Topics.EVENTS, all::add);
    return all;
  }

  /** Waits until a recorded task update matches, and returns it. */
  TaskUpdate awaitUpdate(String run, Predicate<TaskUpdate> which, Duration patience) {
    await().atMost(patience).pollInterval(Duration.ofMillis(200))
        .until(() -> firstUpdate(run, which).isPresent());
    return firstUpdate(run, which).orElseThrow();
  }

  private Optional<TaskUpdate> firstUpdate(String run, Predicate<TaskUpdate> which) {
    return events().stream().filter(TaskUpdate.class::isInstance).map(TaskUpdate.class::cast)
        .filter(u -> u.run().equals(run)).filter(which).findFirst();
  }

  RunFinished awaitFinished(String run, Duration patience) {
    await().atMost(patience).pollInterval(Duration.ofMillis(300)).until(() -> finished(run).isPresent());
    return finished(run).orElseThrow();
  }

  private Optional<RunFinished> finished(String run) {
    return events().stream().filter(RunFinished.class::isInstance).map(RunFinished.class::cast)
        .filter(f -> f.run().equals(run)).findFirst();
  }

  @Override
  public void close() {
    if (bus != null) {
      bus.close();
    }
    processes.values().forEach(Process::destroyForcibly);
    for (Process p : processes.values()) {
      try {
        p.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static String javaBin() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
