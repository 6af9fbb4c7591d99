package dev.lanes.git;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;

/**
 * A repository opened for reading its objects and refs with JGit, in process: commits, trees, blobs, ancestry and
 * branch tips cost no child process, which matters on the lead's single loop thread (its check of a result reads two
 * trees in a few milliseconds). What JGit cannot do runs through {@link #cli()}.
 *
 * <p>The repository is found from a directory at or inside it, never from the environment: an inherited
 * {@code GIT_DIR} must not win over the directory Lanes was given.
 */
public final class GitRepository implements AutoCloseable {
  private final Repository repo;
  private final Path dir;

  private GitRepository(Repository repo, Path dir) {
    this.repo = repo;
    this.dir = dir;
  }

  /** Opens the repository at or above {@code dir}. */
  public static GitRepository open(Path dir) {
    // Said first: JGit would search upwards from a missing directory and could find the one Lanes runs in.
    if (!java.nio.file.Files.exists(dir)) {
      throw new GitException(dir + " does not exist");
    } else if (!java.nio.file.Files.isDirectory(dir)) {
      throw new GitException(dir + " is not a directory");
    }
    FileRepositoryBuilder builder = new FileRepositoryBuilder().findGitDir(dir.toAbsolutePath().toFile());
    if (builder.getGitDir() == null) {
      throw new GitException(dir + " is not inside a git repository");
    }
    try {
      return new GitRepository(builder.setMustExist(true).build(), dir);
    } catch (IOException | RuntimeException e) {
      throw new GitException("cannot open the git repository at " + dir + ": " + e.getMessage(), e);
    }
  }

  /** The directory it was opened from. */
  public Path dir() {
    return dir;
  }

  /** The git directory: {@code .git}, a bare repository, or a linked worktree's own directory. */
  public Path gitDir() {
    return repo.getDirectory().toPath().toAbsolutePath();
  }

  /** The git directory shared by all worktrees: for a linked worktree, the main repository's. */
  public Path commonDir() {
    Path gitDir = repo.getDirectory().toPath();
    Path commondir = gitDir.resolve("commondir");
    try {
      return (Files.isRegularFile(commondir) ? gitDir.resolve(Files.readString(commondir).strip()).normalize()
          : gitDir).toAbsolutePath();
    } catch (IOException e) {
      throw new GitException("cannot read " + commondir + ": " + e.getMessage(), e);
    }
  }

  /** The repository as JGit sees it, for reading (and, for the lead's target branch, writing) objects and refs. */
  public Repository jgit() {
    return repo;
  }

  /** The git CLI on this repository: its git directory named explicitly, working in {@link #dir()}. */
  public GitCli cli() {
    return GitCli.in(dir).withEnv(java.util.Map.of("GIT_DIR", gitDir().toString()));
  }

  /** Whether {@code commit} has {@code ancestor} in its history, or is it. Both must be commit ids in the repository. */
  public boolean descendsFrom(String commit, String ancestor) {
    try (RevWalk walk = new RevWalk(repo)) {
      RevCommit a = walk.parseCommit(ObjectId.fromString(ancestor));
      RevCommit c = walk.parseCommit(ObjectId.fromString(commit));
      return walk.isMergedInto(a, c);
    } catch (IOException | IllegalArgumentException e) {
      throw new GitException("cannot walk the history of " + commit + " in " + dir + ": " + e.getMessage(), e);
    }
  }

  /**
   * A worktree of the repository as git records it.
   *
   * @param path its directory, as git resolved it (a real path)
   * @param branch the branch checked out there, without {@code refs/heads/}; empty when detached
   * @param locked why it is locked, when it is
   */
  public record Worktree(Path path, String head, Optional<String> branch, boolean bare, Optional<String> locked) {}

  /**
   * Every worktree of the repository, the main one first ({@code git worktree list}: JGit does not read linked
   * worktrees' records). Its {@code -z} output is read as bytes; a path that is not UTF-8 is decoded leniently, as it
   * only names a directory to people.
   */
  public static List<Worktree> worktrees(GitCli git) {
    List<Worktree> out = new ArrayList<>();
    Map<String, String> attrs = new HashMap<>();
    for (byte[] field : git.run("worktree", "list", "--porcelain", "-z").fields()) {
      String attr = new String(field, StandardCharsets.UTF_8);
      if (attr.isEmpty()) {
        add(out, attrs);
        attrs = new HashMap<>();
        continue;
      }
      int space = attr.indexOf(' ');
      attrs.put(space < 0 ? attr : attr.substring(0, space), space < 0 ? "" : attr.substring(space + 1));
    }
    add(out, attrs);
    return out;
  }

  private static void add(List<Worktree> out, Map<String, String> attrs) {
    if (attrs.containsKey("worktree")) {
      out.add(new Worktree(Path.of(attrs.get("worktree")), attrs.getOrDefault("HEAD", ""),
          Optional.ofNullable(attrs.get("branch")).map(b -> b.replaceFirst("^refs/heads/", "")),
          attrs.containsKey("bare"), Optional.ofNullable(attrs.get("locked"))));
    }
  }

  @Override
  public void close() {
    repo.close();
  }
}
