package dev.lanes.git;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The git command line, run the one way Lanes runs it. Used for what JGit cannot do or does slowly: linked worktrees
 * ({@code worktree add}; JGit has no equivalent), {@code merge-tree --write-tree} (git's ort merge, 5 ms where JGit's
 * in-core merger took 40 ms), and a worker's commits, pushes and fetches in its own checkouts. Reading objects and
 * refs is {@link GitRepository}'s job, with JGit, without a process.
 *
 * <ul>
 *   <li>argv only: arguments are never joined into a shell line, so a path or branch name is one argument whatever
 *       it holds;
 *   <li>hooks off ({@code core.hooksPath=/dev/null}) and no file-system monitor ({@code core.fsmonitor=false}): an
 *       agent can write a repository's hooks and configuration through its worktree, and neither may run a program
 *       on a Lanes daemon;
 *   <li>replacement refs off ({@code GIT_NO_REPLACE_OBJECTS}): whoever can push can push {@code refs/replace/}, and
 *       the CLI would then see other objects than the lead's JGit check saw;
 *   <li>a scrubbed environment: nothing inherited but {@link #PASSED}, so an inherited {@code GIT_DIR},
 *       {@code GIT_INDEX_FILE} or {@code GIT_CONFIG_PARAMETERS} (Lanes started from a hook, say) cannot point git
 *       elsewhere; a caller adds what it means explicitly ({@link #withEnv});
 *   <li>output as bytes: standard output is kept whole, so callers that ask git for {@code -z} output get the bytes
 *       of every path, not text decoded with replacement characters;
 *   <li>typed errors: a non-zero exit is a {@link GitCommandException} with git's message, a time-out or a program
 *       that does not start a {@link GitException}.
 * </ul>
 */
public final class GitCli {
  /** What a git process inherits from the daemon's environment: where programs are, whose home, proxies, ssh agent. */
  public static final List<String> PASSED = List.of("PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "TZ",
      "SSH_AUTH_SOCK", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY");
  private static final Map<String, String> FIXED = Map.of(
      "LC_ALL", "C", // git's messages in one language, for people reading errors and for callers matching them
      "GIT_TERMINAL_PROMPT", "0", // a daemon has nobody to type a password
      "GIT_NO_REPLACE_OBJECTS", "1");
  private static final List<String> SAFE_CONFIG =
      List.of("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false");
  private static final Duration TIMEOUT = Duration.ofMinutes(10);
  /** Most bytes of standard output kept; callers with more to read (a diff) have git write it to a file. */
  private static final int MAX_OUT = 64 << 20;
  private static final int MAX_ERR = 64 << 10;

  private final Path dir;
  private final Map<String, String> env;
  private final Duration timeout;

  private GitCli(Path dir, Map<String, String> env, Duration timeout) {
    this.dir = dir;
    this.env = Map.copyOf(env);
    this.timeout = timeout;
  }

  /** Runs git with {@code dir} as its working directory (a worktree, a bare repository, or where to clone into). */
  public static GitCli in(Path dir) {
    return new GitCli(dir, Map.of(), TIMEOUT);
  }

  /** The same, with these variables set for git as well ({@code GIT_INDEX_FILE} for a scratch index, say). */
  public GitCli withEnv(Map<String, String> more) {
    Map<String, String> all = new HashMap<>(env);
    all.putAll(more);
    return new GitCli(dir, all, timeout);
  }

  public GitCli withTimeout(Duration limit) {
    return new GitCli(dir, env, limit);
  }

  public Path dir() {
    return dir;
  }

  /**
   * One finished git command.
   *
   * @param out standard output, as bytes
   * @param err the last 64 KiB of standard error, as text
   */
  public record Result(List<String> args, int exit, byte[] out, String err) {
    public boolean ok() {
      return exit == 0;
    }

    /** Standard output as text, for output git writes in ASCII (ids, ref names it validated, counts). */
    public String text() {
      return new String(out, StandardCharsets.UTF_8);
    }

    /** Standard output's first line, without its line end: a commit id, say. */
    public String line() {
      String text = text();
      int end = text.indexOf('\n');
      return (end < 0 ? text : text.substring(0, end)).strip();
    }

    /** Standard output split at NUL bytes (output of {@code -z}), each field as bytes; a trailing empty one dropped. */
    public List<byte[]> fields() {
      List<byte[]> fields = new ArrayList<>();
      int start = 0;
      for (int i = 0; i < out.length; i++) {
        if (out[i] == 0) {
          fields.add(Arrays.copyOfRange(out, start, i));
          start = i + 1;
        }
      }
      if (start < out.length) {
        fields.add(Arrays.copyOfRange(out, start, out.length));
      }
      return fields;
    }
  }

  /** Runs git and returns its result; throws {@link GitCommandException} unless it exits 0. */
  public Result run(String... args) {
    return orThrow(call(Optional.empty(), List.of(args)));
  }

  /** Runs git with {@code input} on its standard input; throws unless it exits 0. */
  public Result feed(byte[] input, String... args) {
    return orThrow(call(Optional.of(input), List.of(args)));
  }

  /**
   * Runs git and returns its result whatever its exit, for commands whose exit code is the answer
   * ({@code merge-base --is-ancestor}, {@code merge-tree}); only a time-out or a failed start throws.
   */
  public Result probe(String... args) {
    return call(Optional.empty(), List.of(args));
  }

  private Result orThrow(Result r) {
    if (!r.ok()) {
      throw new GitCommandException(r.args(), dir, r.exit(), r.err());
    }
    return r;
  }

  private Result call(Optional<byte[]> input, List<String> args) {
    List<String> argv = new ArrayList<>(args.size() + 5);
    argv.add("git");
    argv.addAll(SAFE_CONFIG);
    argv.addAll(args);
    ProcessBuilder builder = new ProcessBuilder(argv).directory(dir.toFile());
    Map<String, String> environment = builder.environment();
    Map<String, String> inherited = new HashMap<>(environment);
    environment.clear();
    PASSED.stream().filter(inherited::containsKey).forEach(name -> environment.put(name, inherited.get(name)));
    environment.putAll(FIXED);
    environment.putAll(env);
    if (input.isEmpty()) {
      builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    }
    Process process;
    try {
      process = builder.start();
    } catch (IOException e) {
      throw new GitException("cannot start git " + String.join(" ", args) + " in " + dir + ": " + e.getMessage(), e);
    }
    Tail err = new Tail(process.getErrorStream());
    Thread errReader = daemon(err::drain, "git-stderr-" + process.pid());
    Thread writer = input.map(bytes -> daemon(() -> write(process.getOutputStream(), bytes), "git-stdin-" + process.pid()))
        .orElse(null);
    java.util.concurrent.atomic.AtomicBoolean late = new java.util.concurrent.atomic.AtomicBoolean();
    try {
      byte[] out = readAll(process, args, late);
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS) || late.get()) {
        process.destroyForcibly();
        throw new GitException("git " + String.join(" ", args) + " in " + dir + " did not finish within " + timeout);
      }
      errReader.join(TimeUnit.SECONDS.toMillis(5));
      if (writer != null) {
        writer.join(TimeUnit.SECONDS.toMillis(5));
      }
      return new Result(List.copyOf(args), process.exitValue(), out, err.text());
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new GitException("interrupted while git " + String.join(" ", args) + " ran in " + dir, e);
    }
  }

  /**
   * Reads standard output to its end. The time limit is enforced by a watchdog that ends the process, which closes
   * the stream, rather than by polling: a read blocks until git writes or exits.
   */
  private byte[] readAll(Process process, List<String> args, java.util.concurrent.atomic.AtomicBoolean late) {
    Thread watchdog = daemon(() -> {
      try {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          late.set(true);
          process.destroyForcibly();
        }
      } catch (InterruptedException e) {
        // the command finished first
      }
    }, "git-watchdog-" + process.pid());
    try (InputStream in = process.getInputStream()) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buffer = new byte[64 << 10];
      for (int n; (n = in.read(buffer)) >= 0; ) {
        if (out.size() + n > MAX_OUT) {
          process.destroyForcibly();
          throw new GitException("git " + String.join(" ", args) + " in " + dir + " wrote more than " + (MAX_OUT >> 20)
              + " MiB; its output was not read further");
        }
        out.write(buffer, 0, n);
      }
      return out.toByteArray();
    } catch (IOException e) {
      process.destroyForcibly();
      throw new GitException("cannot read the output of git " + String.join(" ", args) + " in " + dir + ": "
          + e.getMessage(), e);
    } finally {
      watchdog.interrupt();
    }
  }

  private static void write(OutputStream stdin, byte[] bytes) {
    try (stdin) {
      stdin.write(bytes);
    } catch (IOException e) {
      // git stopped reading (it failed, or needed less): its exit code and message say why
    }
  }

  private static Thread daemon(Runnable task, String name) {
    Thread t = new Thread(task, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** The last {@link #MAX_ERR} bytes of standard error. */
  private static final class Tail {
    private final InputStream in;
    private byte[] kept = new byte[0];

    Tail(InputStream in) {
      this.in = in;
    }

    void drain() {
      try (in) {
        byte[] buffer = new byte[8192];
        for (int n; (n = in.read(buffer)) >= 0; ) {
          keep(buffer, n);
        }
      } catch (IOException e) {
        // the process ended; what was read is kept
      }
    }

    private synchronized void keep(byte[] buffer, int n) {
      byte[] next = new byte[Math.min(MAX_ERR, kept.length + n)];
      int fromOld = next.length - n;
      if (fromOld >= 0) {
        System.arraycopy(kept, kept.length - fromOld, next, 0, fromOld);
        System.arraycopy(buffer, 0, next, fromOld, n);
      } else {
        System.arraycopy(buffer, n - next.length, next, 0, next.length);
      }
      kept = next;
    }

    synchronized String text() {
      return new String(kept, StandardCharsets.UTF_8);
    }
  }
}
