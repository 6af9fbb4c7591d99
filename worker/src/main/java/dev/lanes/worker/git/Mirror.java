package dev.lanes.worker.git;

import dev.lanes.git.GitCli;
import dev.lanes.git.GitException;
import dev.lanes.git.GitPaths;
import dev.lanes.git.GitRepository;
import dev.lanes.worker.WorkerException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The worker's own copy of the repository, reached only through its URL (a plain path counts as one): a bare mirror
 * that task worktrees are created from and task branches are pushed back from. Nothing is shared with the lead but
 * the remote itself.
 *
 * <p>This uses the git CLI throughout, through the git layer's runner ({@link GitCli}: argv only, hooks off, a scrubbed
 * environment, output as bytes): JGit cannot create linked worktrees, and the CLI's {@code worktree add} is the
 * fastest way to get a checkout. Operations that change the mirror's refs or worktree list are serialized on the
 * mirror, since git locks them and concurrent slots would otherwise collide on those locks.
 */
public final class Mirror {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Mirror.class);
  /** A pathspec that leaves out the agent's {@code .lanes/} directory at the top of the worktree. */
  private static final String NOT_LANES = ":(top,exclude).lanes";

  private final Path dir;
  private final String url;

  private Mirror(Path dir, String url) {
    this.dir = dir;
    this.url = url;
  }

  /** Opens the mirror in {@code dir}, creating it for {@code url} on first use; refuses a mirror of another remote. */
  public static Mirror open(Path dir, String url) {
    return open(dir, url, false);
  }

  /**
   * Opens the mirror in {@code dir}, creating it for {@code url} on first use. A mirror of another remote (a worker
   * started again with another {@code --repo}) would fetch from the old one, so it is refused, naming both, unless
   * {@code reset}: then the old remote and its branches are forgotten and {@code url} is mirrored from now on. The
   * mirror's local branches, where kept attempts live, stay.
   */
  public static Mirror open(Path dir, String url, boolean reset) {
    Mirror mirror = new Mirror(dir, url);
    if (!Files.isRegularFile(dir.resolve("HEAD"))) {
      mirror.create();
      return mirror;
    }
    String old = git(dir, "config", "--get", "remote.origin.url").strip();
    if (sameRemote(old, url)) {
      return mirror;
    }
    if (!reset) {
      throw new WorkerException(dir + " mirrors " + old + ", not " + url + " (--repo): start with --reset-mirror to"
          + " mirror " + url + " instead (kept attempts stay), or give this worker a --dir of its own");
    }
    git(dir, "remote", "remove", "origin"); // with the old remote's branches, which no attempt may start from
    mirror.addRemote();
    LOG.warn("{} mirrored {}; it mirrors {} from now on (--reset-mirror)", dir, old, url);
    return mirror;
  }

  /**
   * Whether two remotes are the same repository: equal as written, or, for paths on this machine, the same directory
   * once resolved (a repository's working tree and its {@code .git} alike).
   */
  static boolean sameRemote(String a, String b) {
    return a.equals(b) || isLocalPath(a) && isLocalPath(b) && resolved(a).equals(resolved(b));
  }

  /** A remote given as a plain path: no {@code scheme://} and not git's {@code host:path} form. */
  public static boolean isLocalPath(String url) {
    int colon = url.indexOf(':');
    int slash = url.indexOf('/');
    return !url.contains("://") && (colon < 0 || slash >= 0 && slash < colon);
  }

  private static Path resolved(String path) {
    Path p = Path.of(path).toAbsolutePath().normalize();
    if (Files.isDirectory(p.resolve(".git"))) {
      p = p.resolve(".git");
    }
    try {
      return p.toRealPath();
    } catch (java.io.IOException e) {
      return p; // gone: compared as written
    }
  }

  /** Opens a mirror that exists, its remote as its configuration names it. */
  public static Mirror existing(Path dir) {
    return new Mirror(dir, git(dir, "config", "--get", "remote.origin.url").strip());
  }

  private void create() {
    try {
      Files.createDirectories(dir);
    } catch (java.io.IOException e) {
      throw new WorkerException("cannot create " + dir + ": " + e.getMessage(), e);
    }
    git(dir, "init", "-q", "--bare");
    addRemote();
    // The agent's findings file is for Lanes, never for the commit.
    try {
      Files.createDirectories(dir.resolve("info"));
      Files.writeString(dir.resolve("info/exclude"), "/.lanes/\n");
    } catch (java.io.IOException e) {
      throw new WorkerException("cannot write " + dir.resolve("info/exclude") + ": " + e.getMessage(), e);
    }
  }

  private void addRemote() {
    git(dir, "remote", "add", "origin", url);
    git(dir, "config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*");
  }

  public Path dir() {
    return dir;
  }

  /** The remote it mirrors. */
  public String url() {
    return url;
  }

  /** Fetches the remote's branches; afterwards every commit reachable from them can be checked out. */
  public synchronized void fetch() {
    try {
      GitCli.in(dir).run("fetch", "-q", "--prune", "--no-tags", "origin");
    } catch (dev.lanes.git.GitCommandException e) {
      // git's own words say why (a repository gone, a refused login): they are what a person needs to read.
      throw new WorkerException("cannot fetch from " + url + ": " + e.stderr().strip().replaceAll("\\s*\n\\s*", " "), e);
    } catch (GitException e) {
      throw new WorkerException(e.getMessage(), e);
    }
  }

  public boolean hasCommit(String commit) {
    return test(dir, "cat-file", "-e", commit + "^{commit}");
  }

  /** Creates a worktree at {@code path} on a new branch that starts at exactly {@code commit}. */
  public synchronized void addWorktree(Path path, String branch, String commit) {
    git(dir, "worktree", "add", "-q", "--no-track", "-B", branch, path.toString(), commit);
  }

  /** Removes the worktree and its local branch; the pushed branch on the remote stays. */
  public synchronized void removeWorktree(Path path, String branch) {
    git(dir, "worktree", "remove", "--force", path.toString());
    git(dir, "branch", "-q", "-D", branch);
  }

  /**
   * Commits everything the agent changed in the worktree, as the worker. Hooks and signing are off: this is a
   * machine's commit of another program's work. {@code .lanes/} stays out even when the agent un-ignored it.
   *
   * @return the new commit, or empty when nothing changed
   */
  public Optional<String> commitAll(Path worktree, String message) {
    git(worktree, "add", "-A");
    // info/exclude keeps .lanes/ out, unless the agent's own .gitignore let it back in; an exclude pathspec on the add
    // would make git fail for naming an ignored path, so it is unstaged afterwards in the rare case that it got in.
    List<String> staged = nulSeparated(git(worktree, "diff", "--cached", "--name-only", "--no-renames", "-z"));
    if (staged.stream().anyMatch(p -> p.equals(".lanes") || p.startsWith(".lanes/"))) {
      git(worktree, "reset", "-q", "--", ".lanes");
      staged.removeIf(p -> p.equals(".lanes") || p.startsWith(".lanes/"));
    }
    if (staged.isEmpty()) {
      return Optional.empty();
    }
    git(worktree, "-c", "user.name=Lanes worker", "-c", "user.email=lanes-worker@localhost",
        "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", message);
    return Optional.of(git(worktree, "rev-parse", "HEAD").strip());
  }

  /**
   * Paths that differ between two commits, renames listed as a delete and an add. Read as bytes ({@code -z}); a
   * name that is not valid UTF-8 is listed with its bytes escaped ({@code \xNN}), and the lead, which reads the same
   * diff from the objects, refuses it.
   */
  public List<String> changedFiles(Path worktree, String from, String to) {
    try {
      return GitCli.in(worktree).run("diff", "--name-only", "--no-renames", "-z", from, to).fields().stream()
          .map(name -> GitPaths.decode(name).orElseGet(() -> GitPaths.escape(name))).toList();
    } catch (GitException e) {
      throw new WorkerException(e.getMessage(), e);
    }
  }

  /** The change from {@code from} to {@code to} as a unified diff, cut at {@code maxChars}; written through {@code file}. */
  public String diff(Path worktree, String from, String to, Path file, int maxChars) {
    git(worktree, "diff", "--no-color", "--no-ext-diff", "--output=" + file, from, to);
    try {
      // Only what can be shown is read: an agent's diff may be larger than the worker's heap.
      String text;
      try (var in = java.nio.file.Files.newInputStream(file)) {
        text = new String(in.readNBytes(4 * maxChars + 4), java.nio.charset.StandardCharsets.UTF_8);
      }
      return text.length() <= maxChars ? text : text.substring(0, maxChars) + "\n… (cut at " + maxChars + " characters)";
    } catch (java.io.IOException e) {
      throw new WorkerException("cannot read the diff in " + file + ": " + e.getMessage(), e);
    }
  }

  /** NUL-separated paths, so that any path survives; the output reader ends the text with one newline of its own. */
  private static List<String> nulSeparated(String out) {
    List<String> files = new ArrayList<>(Arrays.asList(out.stripTrailing().split("\0")));
    files.removeIf(String::isEmpty);
    return files;
  }

  /** Pushes the branch to the remote under the same name. */
  public void push(String branch) {
    git(dir, "push", "-q", "origin", "refs/heads/" + branch + ":refs/heads/" + branch);
  }

  /**
   * Whether the worktree holds changes that are not committed: tracked or untracked files, ignored ones and
   * {@code .lanes/} aside (ignored files are build output by the repository's own account).
   */
  public boolean isDirty(Path worktree) {
    return !git(worktree, "status", "--porcelain", "--untracked-files=all", "--", ":/", NOT_LANES).isBlank();
  }

  /** The commit checked out in a worktree. */
  public String head(Path worktree) {
    return git(worktree, "rev-parse", "--verify", "HEAD^{commit}").strip();
  }

  /**
   * How many commits {@code commit} has that are neither in {@code base} nor on any branch of the remote (as last
   * fetched or pushed): work that exists nowhere but here.
   */
  public int commitsBeyond(String commit, Optional<String> base) {
    List<String> args = new ArrayList<>(List.of("rev-list", "--count", commit));
    base.filter(this::hasCommit).ifPresent(b -> args.add("^" + b));
    args.addAll(List.of("--not", "--remotes=origin"));
    return Integer.parseInt(git(dir, args.toArray(String[]::new)).strip());
  }

  public boolean hasBranch(String branch) {
    return test(dir, "show-ref", "--verify", "--quiet", "refs/heads/" + branch);
  }

  /** The commit a local branch points to. */
  public String branchCommit(String branch) {
    return git(dir, "rev-parse", "--verify", "refs/heads/" + branch + "^{commit}").strip();
  }

  /** Local branches whose names start with {@code prefix}. */
  public List<String> branches(String prefix) {
    String out = git(dir, "for-each-ref", "--format=%(refname:strip=2)", "refs/heads/" + prefix);
    return out.lines().filter(l -> !l.isBlank()).toList();
  }

  public boolean isAncestor(String ancestor, String commit) {
    return test(dir, "merge-base", "--is-ancestor", ancestor, commit);
  }

  /** Creates a local branch at {@code commit}; fails if it exists. Never pushed by the mirror itself. */
  public synchronized void createBranch(String branch, String commit) {
    git(dir, "branch", "-q", "--no-track", branch, commit);
  }

  public synchronized void deleteBranch(String branch) {
    git(dir, "branch", "-q", "-D", branch);
  }

  /** Removes a worktree even if it is locked (a crash during {@code worktree add} leaves it locked); not its branch. */
  public synchronized void removeStaleWorktree(Path path) {
    git(dir, "worktree", "remove", "--force", "--force", path.toString());
  }

  /** Forgets worktrees whose directories are gone. */
  public synchronized void pruneWorktrees() {
    git(dir, "worktree", "prune");
  }

  /** A linked worktree as git records it. */
  public record Worktree(Path path, String head, Optional<String> branch, Optional<String> locked) {}

  /** The linked worktrees git knows of, their paths as git resolved them (real paths); the bare mirror itself aside. */
  public List<Worktree> worktrees() {
    try {
      return GitRepository.worktrees(GitCli.in(dir)).stream().filter(w -> !w.bare())
          .map(w -> new Worktree(w.path(), w.head(), w.branch(), w.locked())).toList();
    } catch (GitException e) {
      throw new WorkerException(e.getMessage(), e);
    }
  }

  private static String git(Path where, String... args) {
    try {
      return GitCli.in(where).run(args).text();
    } catch (GitException e) {
      throw new WorkerException(e.getMessage(), e);
    }
  }

  /** For commands whose exit code is the answer. */
  private static boolean test(Path where, String... args) {
    try {
      return GitCli.in(where).probe(args).ok();
    } catch (GitException e) {
      throw new WorkerException(e.getMessage(), e);
    }
  }
}
