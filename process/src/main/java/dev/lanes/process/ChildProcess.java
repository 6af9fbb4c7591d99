package dev.lanes.process;

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
 *
 * <p>An agent may start processes that outlive their parent and leave its process tree (a daemonized build server,
 * say). So when asked to, the child starts in a session of its own ({@code setsid}, where the system has it), and ending
 * it signals the whole process group as well as every descendant still in the tree. A {@link Stop} lets another thread
 * (a budget check, a cancel from the lead) end a run early, with a reason.
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
  public record Result(int exit, boolean timedOut, Optional<String> stopped, String output, Duration took) {
    public boolean ok() {
      return exit == 0 && !timedOut && stopped.isEmpty();
    }
  }

  /** Ends a running child from another thread; the first reason given is the one recorded. */
  public static final class Stop {
    private Process process;
    private String reason;

    public synchronized void stop(String why) {
      if (reason == null) {
        reason = why;
        if (process != null) {
          Process p = process;
          Thread t = new Thread(() -> end(p), "child-stop-" + p.pid());
          t.setDaemon(true);
          t.start();
        }
      }
    }

    synchronized Optional<String> reason() {
      return Optional.ofNullable(reason);
    }

    /** Attaches the started process; returns false when a stop came before it started (it is then ended at once). */
    synchronized boolean attach(Process p) {
      process = p;
      return reason == null;
    }
  }

  /** Runs and waits. {@code log} receives the whole output when present; {@code onLine} sees each line. */
  public static Result run(List<String> argv, Path dir, Map<String, String> env, Duration timeout,
      Optional<Path> log, Consumer<String> onLine) {
    return run(argv, dir, env, timeout, log, onLine, new Stop(), false);
  }

  /**
   * Runs in a session of its own, so that ending it ends everything it started; {@code stop} may end it early. For
   * agents and verify commands.
   */
  public static Result runIsolated(List<String> argv, Path dir, Map<String, String> env, Duration timeout,
      Optional<Path> log, Consumer<String> onLine, Stop stop) {
    return run(argv, dir, env, timeout, log, onLine, stop, SETSID.isPresent());
  }

  private static Result run(List<String> argv, Path dir, Map<String, String> env, Duration timeout,
      Optional<Path> log, Consumer<String> onLine, Stop stop, boolean ownSession) {
    long start = System.nanoTime();
    Map<String, String> environment = new java.util.HashMap<>(System.getenv());
    GIT_LOCATION.forEach(environment::remove);
    environment.putAll(env);
    String program = executable(argv.get(0), environment.get("PATH"), dir);
    List<String> command = new java.util.ArrayList<>();
    if (ownSession) {
      command.add(SETSID.get());
      command.add("-w");
    }
    command.add(program);
    command.addAll(argv.subList(1, argv.size()));
    ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
    // The working directory, not whatever repository the caller's environment points at, decides what git sees.
    builder.environment().clear();
    builder.environment().putAll(environment);
    Process process;
    try {
      process = builder.start();
    } catch (IOException e) {
      throw new ProcessException("cannot start " + argv.get(0) + " in " + dir + ": " + e.getMessage(), e);
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
    if (!stop.attach(process)) {
      end(process);
    }
    boolean finished = waitFor(process, timeout);
    if (!finished) {
      end(process);
    }
    if (ownSession) {
      // What the child left running in its session (a daemon, a forgotten background job) ends with it.
      endGroup(process.pid());
    }
    join(reader);
    Optional<String> stopped = stop.reason();
    int exit = finished && stopped.isEmpty() ? process.exitValue() : -1;
    return new Result(exit, !finished && stopped.isEmpty(), stopped, output.text(),
        Duration.ofNanos(System.nanoTime() - start));
  }

  private static final Optional<String> SETSID = java.util.stream.Stream.of("/usr/bin/setsid", "/bin/setsid")
      .filter(p -> Files.isExecutable(Path.of(p))).findFirst();

  /**
   * Finds the program the way a shell would (a name with a slash is a path, relative to {@code dir}; a bare name is
   * looked up on PATH), so that a missing program is reported as such before anything starts.
   */
  static String executable(String name, String path, Path dir) {
    if (name.contains("/")) {
      Path p = dir.resolve(name);
      if (Files.isExecutable(p) && !Files.isDirectory(p)) {
        return name;
      }
      throw new ProcessException("cannot start " + name + " in " + dir + ": no executable file at " + p);
    }
    for (String entry : (path == null ? "" : path).split(java.io.File.pathSeparator)) {
      Path p = Path.of(entry.isEmpty() ? "." : entry).resolve(name);
      if (Files.isExecutable(p) && !Files.isDirectory(p)) {
        return p.toString();
      }
    }
    throw new ProcessException("cannot start " + name + " in " + dir + ": not found on PATH (" + path + ")");
  }

  private static boolean waitFor(Process process, Duration timeout) {
    try {
      return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      end(process);
      throw new ProcessException("interrupted while waiting for process " + process.pid());
    }
  }

  /**
   * Ends the process, its process group and every descendant: TERM to all, then KILL to whatever is left after a
   * grace period. The group reaches processes that left the tree; the tree reaches those that left the group.
   */
  static void end(Process process) {
    List<ProcessHandle> all = new java.util.ArrayList<>(process.descendants().toList());
    all.add(process.toHandle());
    signalGroup(process.pid(), "TERM");
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
    signalGroup(process.pid(), "KILL");
  }

  /** TERM to the process group, then KILL once the grace period is over if any member is left. */
  private static void endGroup(long pid) {
    if (!groupAlive(pid)) {
      return;
    }
    signalGroup(pid, "TERM");
    long deadline = System.nanoTime() + GRACE.toNanos();
    while (System.nanoTime() < deadline && groupAlive(pid)) {
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    signalGroup(pid, "KILL");
  }

  /**
   * Whether the group has a member that is still running. Where /proc exists, zombies do not count: where nothing
   * reaps orphans (PID 1 in some containers), a dead member stays a zombie, which kill -0 would still find.
   */
  private static boolean groupAlive(long pgid) {
    Path proc = Path.of("/proc");
    if (!Files.isDirectory(proc)) {
      return signalGroup(pgid, "0");
    }
    try (var entries = Files.list(proc)) {
      return entries.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
          .anyMatch(p -> runningInGroup(p.resolve("stat"), pgid));
    } catch (IOException e) {
      return signalGroup(pgid, "0");
    }
  }

  /** /proc/PID/stat: "pid (comm) state ppid pgrp ...", where comm may hold spaces and parentheses. */
  private static boolean runningInGroup(Path stat, long pgid) {
    try {
      String s = Files.readString(stat);
      String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
      return f.length > 2 && !f[0].equals("Z") && !f[0].equals("X") && Long.parseLong(f[2]) == pgid;
    } catch (IOException | RuntimeException e) {
      return false; // gone while we looked
    }
  }

  /**
   * Signals the process group led by {@code pid}, if there is one (there is when the child ran under setsid); signal
   * {@code 0} only asks whether any member is left. Returns whether the group exists.
   */
  private static boolean signalGroup(long pid, String signal) {
    if (SETSID.isEmpty()) {
      return false;
    }
    try {
      Process kill = new ProcessBuilder("kill", "-s", signal, "--", "-" + pid).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      return kill.waitFor(2, TimeUnit.SECONDS) && kill.exitValue() == 0;
    } catch (IOException e) {
      return false; // no kill(1) here: the tree walk still ends the descendants it can see
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
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
