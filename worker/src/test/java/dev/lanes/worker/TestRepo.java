package dev.lanes.worker;

import dev.lanes.bus.Bus;
import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskRef;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.awaitility.Awaitility;

/**
 * A real git repository in a test's temporary directory, driven by the git CLI: the user's repository that a worker
 * fetches from and pushes to. Every commit names its author on the command line, because CI machines have no git
 * identity. Also makes the offers a lead would publish for work on this repository.
 */
public final class TestRepo {
  private static final List<String> IDENTITY =
      List.of("-c", "user.name=Lanes Test", "-c", "user.email=test@lanes.invalid", "-c", "commit.gpgsign=false");

  private final Path dir;

  private TestRepo(Path dir) {
    this.dir = dir;
  }

  /** A new repository on branch {@code main} with one commit holding {@code files}. */
  public static TestRepo withFiles(Path dir, Map<String, String> files) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    TestRepo repo = new TestRepo(dir);
    repo.git("init", "-q", "-b", "main");
    files.forEach(repo::write);
    repo.commitAll("initial");
    return repo;
  }

  /** A repository with a typical small layout: {@code core/file.txt}, {@code docs/README.md}. */
  public static TestRepo sample(Path dir) {
    Map<String, String> files = new LinkedHashMap<>();
    files.put("core/file.txt", "one\ntwo\nthree\n");
    files.put("docs/README.md", "# Sample\n");
    return withFiles(dir, files);
  }

  public Path dir() {
    return dir;
  }

  /** The URL a worker is given: the plain path of the repository. */
  public String url() {
    return dir.toString();
  }

  /**
   * An offer of epoch 1 of {@code task} in run {@code run}, starting from {@code main}, owning {@code core/} and
   * {@code out/}, with no required capability and no verify command.
   */
  public TaskOffered offer(String run, String task, List<String> agent) {
    return offer(run, task, agent, Duration.ofSeconds(30), Optional.empty(), List.of());
  }

  public TaskOffered offer(String run, String task, List<String> agent, Duration timeout, Optional<String> verify,
      List<String> requires) {
    return offer(run, task, "Do " + task, "Please do " + task, agent, timeout, verify, requires, rev("main"));
  }

  public static TaskOffered offer(String run, String task, String title, String prompt, List<String> agent,
      Duration timeout, Optional<String> verify, List<String> requires, String baseCommit) {
    return new TaskOffered(run, "sample", task, 1, title, prompt, List.of("core/", "out/"), requires,
        new AgentSpec(agent, timeout.toMillis()), verify, baseCommit, TaskRef.branch(run, task, 1), Optional.empty());
  }

  /** Writes a file of the working tree. */
  public TestRepo write(String path, String content) {
    try {
      Path file = dir.resolve(path);
      Files.createDirectories(file.getParent());
      Files.writeString(file, content);
      return this;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public String read(String path) {
    try {
      return Files.readString(dir.resolve(path));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Stages everything and commits on the checked-out branch; returns the new commit. */
  public String commitAll(String message) {
    git("add", "-A");
    gitAsUser("commit", "-q", "-m", message);
    return rev("HEAD");
  }

  /** The commit a revision names. */
  public String rev(String revision) {
    return git("rev-parse", "--verify", revision + "^{commit}");
  }

  /** A file's content at a revision ({@code git show REV:PATH}). */
  public String show(String revision, String path) {
    return run(Map.of(), List.of("show", revision + ":" + path)).orThrow(false);
  }

  /** The parents of a commit, in order. */
  public List<String> parents(String commit) {
    String line = git("rev-list", "--parents", "-n", "1", commit);
    List<String> ids = new ArrayList<>(Arrays.asList(line.split(" ")));
    ids.remove(0);
    return ids;
  }

  public boolean hasBranch(String branch) {
    return run(Map.of(), List.of("show-ref", "--verify", "--quiet", "refs/heads/" + branch)).exit() == 0;
  }

  /** The ref HEAD points to ({@code refs/heads/main}). */
  public String headRef() {
    return git("symbolic-ref", "HEAD");
  }

  /** {@code git status --porcelain}, including untracked files: empty when the working tree and index are clean. */
  public String status() {
    return run(Map.of(), List.of("status", "--porcelain", "--untracked-files=all")).orThrow(false).stripTrailing();
  }

  /** Runs git in the repository, fails unless it exits 0, and returns its standard output, stripped. */
  public String git(String... args) {
    return run(Map.of(), List.of(args)).orThrow();
  }

  /** Runs git as the test user, for commands that need an identity. */
  public String gitAsUser(String... args) {
    List<String> argv = new ArrayList<>(IDENTITY);
    argv.addAll(List.of(args));
    return run(Map.of(), argv).orThrow();
  }

  public Result run(Map<String, String> env, List<String> args) {
    return exec(dir, env, args);
  }

  /** Runs git in {@code dir}, the caller's environment cleared of anything that points git elsewhere. */
  public static Result exec(Path dir, Map<String, String> env, List<String> args) {
    List<String> argv = new ArrayList<>();
    argv.add("git");
    argv.addAll(args);
    ProcessBuilder builder = new ProcessBuilder(argv).directory(dir.toFile());
    List.of("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR")
        .forEach(builder.environment()::remove);
    builder.environment().putAll(env);
    builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    try {
      Path err = Files.createTempFile("lanes-git", ".err");
      builder.redirectError(err.toFile());
      Process p = builder.start();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("git " + args + " did not finish");
      }
      String error = Files.readString(err);
      Files.delete(err);
      return new Result(argv, p.exitValue(), new String(out, StandardCharsets.UTF_8), error);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** One git run. */
  public record Result(List<String> argv, int exit, String out, String err) {
    public String orThrow() {
      return orThrow(true);
    }

    String orThrow(boolean strip) {
      if (exit != 0) {
        throw new AssertionError(String.join(" ", argv) + " exited " + exit + ": " + err.strip());
      }
      return strip ? out.strip() : out;
    }
  }

  /** Everything published on one topic of a bus, in order, for tests that play the other side. */
  public static final class Recorder implements AutoCloseable {
    private static final Duration PATIENCE = Duration.ofSeconds(20);
    private final List<Message> seen = new CopyOnWriteArrayList<>();
    private final Bus.Subscription subscription;

    public Recorder(Bus bus, String topic) {
      subscription = bus.subscribe(topic, Bus.Start.NOW, seen::add);
    }

    public <T extends Message> List<T> all(Class<T> type) {
      return seen.stream().filter(type::isInstance).map(type::cast).toList();
    }

    public <T extends Message> List<T> all(Class<T> type, Predicate<T> which) {
      return all(type).stream().filter(which).toList();
    }

    /** The first message of the type that matches, once there is one. */
    public <T extends Message> T awaitFirst(Class<T> type, Predicate<T> which) {
      Awaitility.await().atMost(PATIENCE).until(() -> all(type).stream().anyMatch(which));
      return all(type, which).get(0);
    }

    @Override
    public void close() {
      subscription.close();
    }
  }
}
