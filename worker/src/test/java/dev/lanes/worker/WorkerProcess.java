package dev.lanes.worker;

import dev.lanes.bus.Bus;
import dev.lanes.bus.MemoryBus;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.Topics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;

/**
 * A worker in a JVM of its own, for tests that need another process: one that holds a work directory, or one that is
 * killed with SIGKILL in the middle of a task. The child plays its own lead on an in-memory bus, granting every claim
 * its worker makes.
 *
 * <p>Modes: {@code hold DIR URL} opens the work directory and prints {@code ready}; {@code run DIR URL BASE SCRIPT}
 * starts a worker and offers it task {@code core} of run {@code r1} at {@code BASE}, agent {@code sh -c SCRIPT}, and
 * prints {@code started}. Either then waits to be killed.
 */
final class WorkerProcess implements AutoCloseable {
  private final Process process;
  private final Path output;

  private WorkerProcess(Process process, Path output) {
    this.process = process;
    this.output = output;
  }

  public static void main(String[] args) throws Exception {
    Path workDir = Path.of(args[1]);
    String url = args[2];
    if (args[0].equals("hold")) {
      WorkDir.open(workDir, url, Clock.systemUTC());
      System.out.println("ready");
    } else {
      MemoryBus bus = new MemoryBus();
      bus.subscribe(Topics.REPORTS, Bus.Start.NOW, m -> {
        if (m instanceof ClaimRequested c) {
          bus.publish(new ClaimGranted(c.run(), c.task(), c.epoch(), c.worker()));
        }
      });
      Worker.start(bus, new Worker.Config("child", "host", List.of(), 1, url, workDir, Duration.ofMinutes(5)),
          Clock.systemUTC());
      bus.publish(TestRepo.offer("r1", "core", "Do core", "p", List.of("sh", "-c", args[4]), Duration.ofMinutes(5),
          Optional.empty(), List.of(), args[3]));
      System.out.println("started");
    }
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }

  /** Starts the child with this JVM's class path; its output goes to a file in {@code dir}. */
  static WorkerProcess start(Path dir, String... args) {
    List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), WorkerProcess.class.getName()));
    argv.addAll(List.of(args));
    try {
      Path output = Files.createTempFile(dir, "worker-process", ".log");
      Process process = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(output.toFile()).start();
      return new WorkerProcess(process, output);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  long pid() {
    return process.pid();
  }

  void awaitLine(String line) {
    Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> {
      if (!process.isAlive()) {
        throw new AssertionError("the worker process ended: " + Files.readString(output));
      }
      return Files.readAllLines(output).contains(line);
    });
  }

  /** Ends the process with SIGKILL, as the kernel's OOM killer or {@code kill -9} would, and waits for it. */
  void kill() {
    process.destroyForcibly();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        throw new AssertionError("the worker process did not die");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      kill();
    }
  }
}
