package dev.lanes.worker;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Runs a program as a child process: argv only (a shell runs only when the argv names one), standard input closed,
 * standard output and error merged into a log file and a tail of the last lines, and a time limit after which the
 * child and all its descendants are ended, politely first.
 */
public final class ChildProcess {
  private static final int TAIL_LINES = 20;
  private static final Duration GRACE = Duration.ofSeconds(3);
  private static final List<String> GIT_LOCATION =
      List.of("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR");

  private ChildProcess() {}

  /**
   * The outcome of one run.
   *
   * @param exit the exit code, or -1 when the process was ended at its time limit
   * @param output the whole output when no log file was given, else its last lines
   */
  public record Result(int exit, boolean timedOut, String output, Duration took) {
    public boolean ok() {
      return exit == 0 && !timedOut;
    }
  }

  /** Runs and waits. {@code log} receives the whole output when present; {@code onLine} sees each line. */
  public static Result run(List<String> argv, Path dir, Map<String, String> env, Duration timeout,
      Optional<Path> log, Consumer<String> onLine) {
    long start = System.nanoTime();
    ProcessBuilder builder = new ProcessBuilder(argv).directory(dir.toFile()).redirectErrorStream(true);
    // The working directory, not whatever repository the caller's environment points at, decides what git sees.
    GIT_LOCATION.forEach(builder.environment()::remove);
    builder.environment().putAll(env);
    Process process;
    try {
      process = builder.start();
    } catch (IOException e) {
      throw new WorkerException("cannot start " + argv.get(0) + " in " + dir + ": " + e.getMessage(), e);
    }
    try {
      process.getOutputStream().close();
    } catch (IOException e) {
      // the child closed its input already; nothing to do
    }
    Output output = new Output(log, log.isEmpty(), onLine);
    Thread reader = new Thread(() -> output.drain(process), "child-output-" + process.pid());
    reader.setDaemon(true);
    reader.start();
    boolean finished = waitFor(process, timeout);
    if (!finished) {
      end(process);
    }
    join(reader);
    int exit = finished ? process.exitValue() : -1;
    return new Result(exit, !finished, output.text(), Duration.ofNanos(System.nanoTime() - start));
  }

  private static boolean waitFor(Process process, Duration timeout) {
    try {
      return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      end(process);
      throw new WorkerException("interrupted while waiting for process " + process.pid());
    }
  }

  /** Ends the process and every descendant: TERM to all, then KILL to whatever is left after a grace period. */
  static void end(Process process) {
    List<ProcessHandle> all = new java.util.ArrayList<>(process.descendants().toList());
    all.add(process.toHandle());
    all.forEach(ProcessHandle::destroy);
    long deadline = System.nanoTime() + GRACE.toNanos();
    for (ProcessHandle p : all) {
      long left = deadline - System.nanoTime();
      try {
        p.onExit().get(Math.max(left, 0), TimeUnit.NANOSECONDS);
      } catch (Exception e) {
        p.destroyForcibly();
      }
    }
  }

  private static void join(Thread reader) {
    try {
      reader.join(TimeUnit.SECONDS.toMillis(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Collects output: to the log file, into a bounded tail, or whole when there is no log. */
  private static final class Output {
    private final Optional<Path> log;
    private final boolean keepAll;
    private final Consumer<String> onLine;
    private final Deque<String> tail = new ArrayDeque<>();
    private final StringBuilder all = new StringBuilder();

    Output(Optional<Path> log, boolean keepAll, Consumer<String> onLine) {
      this.log = log;
      this.keepAll = keepAll;
      this.onLine = onLine;
    }

    void drain(Process process) {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
           Writer out = log.isPresent() ? Files.newBufferedWriter(log.get(), StandardOpenOption.CREATE,
               StandardOpenOption.APPEND) : Writer.nullWriter()) {
        String line;
        while ((line = in.readLine()) != null) {
          out.write(line);
          out.write('\n');
          accept(line);
        }
      } catch (IOException e) {
        accept("[lanes: output lost: " + e.getMessage() + "]");
      }
    }

    private synchronized void accept(String line) {
      if (keepAll) {
        all.append(line).append('\n');
      } else {
        tail.addLast(line);
        if (tail.size() > TAIL_LINES) {
          tail.removeFirst();
        }
      }
      onLine.accept(line);
    }

    synchronized String text() {
      return keepAll ? all.toString() : String.join("\n", tail);
    }
  }
}
