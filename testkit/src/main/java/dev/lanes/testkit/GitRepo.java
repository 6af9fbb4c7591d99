package dev.lanes.testkit;

import dev.lanes.git.GitCli;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A real git repository in a test's temporary directory, driven by the git CLI through Lanes' git layer: the kind of
 * repository a user points Lanes at. Every commit names its author on the command line, because CI machines have no git identity. Shared by
 * the tests of every module (a module's tests cannot see another's).
 */
public class GitRepo {
  private static final List<String> IDENTITY =
      List.of("-c", "user.name=Lanes Test", "-c", "user.email=test@lanes.invalid", "-c", "commit.gpgsign=false");

  private final Path dir;

  protected GitRepo(Path dir) {
    this.dir = dir;
  }

  /** A new repository on branch {@code main} with one commit holding {@code files}. */
  public static GitRepo withFiles(Path dir, Map<String, String> files) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    GitRepo repo = new GitRepo(dir);
    repo.git("init", "-q", "-b", "main");
    files.forEach(repo::write);
    repo.commitAll("initial");
    return repo;
  }

  /** A repository with a typical small layout: {@code core/file.txt}, {@code docs/README.md}. */
  public static GitRepo sample(Path dir) {
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

  /** Writes a file of the working tree. */
  public GitRepo write(String path, String content) {
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

  /**
   * Writes a commit with parent {@code parent} whose tree is the parent's with {@code files} replaced, and points
   * {@code branch} at it. Uses a private index file, so the working tree, the index and HEAD are not touched, as
   * when a worker pushes a task branch.
   */
  public String commitOnto(String parent, String branch, Map<String, String> files) {
    try {
      Path scratch = Files.createTempDirectory("lanes-index");
      Map<String, String> env = Map.of("GIT_INDEX_FILE", scratch.resolve("index").toString());
      run(env, List.of("read-tree", parent)).orThrow();
      int n = 0;
      for (Map.Entry<String, String> file : files.entrySet()) {
        Path blob = scratch.resolve("blob" + n++);
        Files.writeString(blob, file.getValue());
        String id = git("hash-object", "-w", blob.toString());
        run(env, List.of("update-index", "--add", "--cacheinfo", "100644," + id + "," + file.getKey())).orThrow();
      }
      String tree = run(env, List.of("write-tree")).orThrow();
      List<String> commit = new ArrayList<>(IDENTITY);
      commit.addAll(List.of("commit-tree", tree, "-p", parent, "-m", "change " + files.keySet()));
      String id = run(env, commit).orThrow();
      git("update-ref", "refs/heads/" + branch, id);
      deleteTree(scratch);
      return id;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void deleteTree(Path root) throws IOException {
    try (var paths = Files.walk(root)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
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

  /**
   * Runs git in {@code dir} through the git layer's runner: hooks off, the environment scrubbed of anything that
   * points git elsewhere, {@code env} added.
   */
  public static Result exec(Path dir, Map<String, String> env, List<String> args) {
    List<String> argv = new ArrayList<>();
    argv.add("git");
    argv.addAll(args);
    GitCli.Result r = GitCli.in(dir).withEnv(env).withTimeout(java.time.Duration.ofSeconds(60))
        .probe(args.toArray(String[]::new));
    return new Result(argv, r.exit(), r.text(), r.err());
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
}
