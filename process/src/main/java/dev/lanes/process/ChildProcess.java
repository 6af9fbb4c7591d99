package dev.lanes.process;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
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
  private static final int TAIL_LINE_CHARS = 2048;
  /** A stream-json event with a large tool result fits; a child that never ends its line does not fill the heap. */
  private static final int LINE_BYTES = 1024 * 1024;
  private static final long KEEP_ALL_BYTES = 16L * 1024 * 1024;
  private static final Duration GRACE = Duration.ofSeconds(3);

  private ChildProcess() {}

  /**
   * The outcome of one run.
   *
   * @param exit the exit code, or -1 when the process was ended at its time limit
   * @param output the whole output (at most 16 MiB) when no log file was given, else its last lines, each cut to a few KiB
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

  /**
   * Runs git and waits, with this process's whole environment and {@code env} on top ({@link
   * Environment#inherited}). {@code log} receives the whole output when present; {@code onLine} sees each line.
   */
  public static Result run(List<String> argv, Path dir, Map<String, String> env, Duration timeout,
      Optional<Path> log, Consumer<String> onLine) {
    return run(argv, dir, Environment.inherited().with(env), timeout, log, onLine);
  }

  /** Runs and waits, with the environment {@code env} makes of this process's. */
  public static Result run(List<String> argv, Path dir, Environment env, Duration timeout,
      Optional<Path> log, Consumer<String> onLine) {
    return run(argv, dir, env, timeout, log, onLine, new Stop(), false);
  }

  /**
   * Runs in a session of its own, so that ending it ends everything it started; {@code stop} may end it early. For
   * agents and verify commands, which see only what {@code env} allows of this process's environment.
   */
  public static Result runIsolated(List<String> argv, Path dir, Environment env, Duration timeout,
      Optional<Path> log, Consumer<String> onLine, Stop stop) {
    return run(argv, dir, env, timeout, log, onLine, stop, SETSID.isPresent(), new byte[0]);
  }

  /**
   * As {@link #runIsolated}, with {@code input} written to the child's standard input, which is then closed. A child
   * that does not read it is not waited for: the bytes are written from a thread of their own.
   */
  public static Result runIsolated(List<String> argv, byte[] input, Path dir, Environment env, Duration timeout,
      Optional<Path> log, Consumer<String> onLine) {
    return run(argv, dir, env, timeout, log, onLine, new Stop(), SETSID.isPresent(), input.clone());
  }

  private static Result run(List<String> argv, Path dir, Environment env, Duration timeout,
      Optional<Path> log, Consumer<String> onLine, Stop stop, boolean ownSession) {
    return run(argv, dir, env, timeout, log, onLine, stop, ownSession, new byte[0]);
  }

  private static Result run(List<String> argv, Path dir, Environment env, Duration timeout,
      Optional<Path> log, Consumer<String> onLine, Stop stop, boolean ownSession, byte[] input) {
    long start = System.nanoTime();
    Map<String, String> environment = env.resolve();
    String program = executable(argv.get(0), environment.get("PATH"), dir);
    List<String> command = new java.util.ArrayList<>();
    if (ownSession) {
      command.add(SETSID.get());
      command.add("-w");
    }
    command.add(program);
    command.addAll(argv.subList(1, argv.size()));
    ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
    builder.environment().clear();
    builder.environment().putAll(environment);
    Process process;
    try {
      process = builder.start();
    } catch (IOException e) {
      throw new ProcessException("cannot start " + argv.get(0) + " in " + dir + ": " + e.getMessage(), e);
    }
    feed(process, input);
    Output output = new Output(log, onLine, stop);
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

  /** Writes {@code input} to the child's standard input and closes it; with nothing to write, closes it at once. */
  private static void feed(Process process, byte[] input) {
    if (input.length == 0) {
      closeInput(process);
      return;
    }
    Thread writer = new Thread(() -> {
      try (OutputStream in = process.getOutputStream()) {
        in.write(input);
      } catch (IOException e) {
        // the child ended or closed its input without reading all of it: what it read is its business
      }
    }, "child-input-" + process.pid());
    writer.setDaemon(true);
    writer.start();
  }

  private static void closeInput(Process process) {
    try {
      process.getOutputStream().close();
    } catch (IOException e) {
      // the child closed its input already; nothing to do
    }
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
      ProcessBuilder builder = new ProcessBuilder("kill", "-s", signal, "--", "-" + pid).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD);
      builder.environment().clear();
      builder.environment().putAll(Environment.allowing(List.of()).resolve());
      Process kill = builder.start();
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

  /**
   * Collects output: every byte to the log file as it comes, and in memory only a bounded part: the last
   * {@value #TAIL_LINES} lines, each cut to {@value #TAIL_LINE_CHARS} characters, or, with no log, the whole output up
   * to {@value #KEEP_ALL_BYTES} bytes (past that the child is stopped). Lines are split from the bytes themselves, so a
   * child that never prints a newline cannot make a line of unbounded length: {@code onLine} sees at most
   * {@value #LINE_BYTES} bytes of a line and a note of how many were cut.
   */
  private static final class Output {
    private static final int START = 8192;
    private final Optional<Path> log;
    private final boolean keepAll;
    private final Consumer<String> onLine;
    private final Stop stop;
    /** With no log the caller wants the output as it was (git's NUL-separated lists are one line): never cut it. */
    private final long limit;
    private final Deque<String> tail = new ArrayDeque<>();
    private final StringBuilder all = new StringBuilder();
    private byte[] line = new byte[START];
    private int length;
    private long cut;
    private long total;

    Output(Optional<Path> log, Consumer<String> onLine, Stop stop) {
      this.log = log;
      this.keepAll = log.isEmpty();
      this.onLine = onLine;
      this.stop = stop;
      this.limit = keepAll ? KEEP_ALL_BYTES : LINE_BYTES;
    }

    void drain(Process process) {
      byte[] buffer = new byte[64 * 1024];
      try (InputStream in = process.getInputStream();
           OutputStream out = log.isPresent() ? Files.newOutputStream(log.get(), StandardOpenOption.CREATE,
               StandardOpenOption.APPEND) : OutputStream.nullOutputStream()) {
        int n;
        while ((n = in.read(buffer)) > 0) {
          out.write(buffer, 0, n);
          split(buffer, n);
        }
        if (length > 0 || cut > 0) {
          emit();
        }
      } catch (IOException e) {
        accept("[lanes: output lost: " + e.getMessage() + "]");
      }
    }

    private void split(byte[] buffer, int n) {
      if (keepAll && (total += n) > KEEP_ALL_BYTES) {
        stop.stop("output over " + KEEP_ALL_BYTES + " bytes");
        return;
      }
      int from = 0;
      for (int i = 0; i < n; i++) {
        if (buffer[i] == '\n') {
          append(buffer, from, i - from);
          emit();
          from = i + 1;
        }
      }
      append(buffer, from, n - from);
    }

    private void append(byte[] bytes, int from, int n) {
      int room = (int) Math.min(n, limit - length);
      if (length + room > line.length) {
        line = java.util.Arrays.copyOf(line, (int) Math.min(limit, Math.max(length + room, 2L * line.length)));
      }
      System.arraycopy(bytes, from, line, length, room);
      length += room;
      cut += n - room;
    }

    private void emit() {
      int n = length > 0 && line[length - 1] == '\r' ? length - 1 : length;
      String text = new String(line, 0, n, StandardCharsets.UTF_8);
      accept(cut == 0 ? text : text + " [lanes: " + cut + " more bytes of this line cut]");
      length = 0;
      cut = 0;
      if (line.length > LINE_BYTES) {
        line = new byte[START]; // one long line does not keep its buffer for the rest of the run
      }
    }

    private synchronized void accept(String text) {
      if (keepAll) {
        all.append(text).append('\n');
      } else {
        tail.addLast(text.length() <= TAIL_LINE_CHARS ? text : text.substring(0, TAIL_LINE_CHARS)
            + " [lanes: " + (text.length() - TAIL_LINE_CHARS) + " more characters cut]");
        if (tail.size() > TAIL_LINES) {
          tail.removeFirst();
        }
      }
      onLine.accept(text);
    }

    synchronized String text() {
      return keepAll ? all.toString() : String.join("\n", tail);
    }
  }
}
