package dev.lanes.coordinator.git;

import dev.lanes.coordinator.LeadException;
import dev.lanes.git.GitCli;
import dev.lanes.git.GitException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

/**
 * The lead's own worktrees, in which the merge queue runs the plan's verify command on a merged tree before the target
 * moves to it. They live under the repository's git directory ({@code .git/lanes/verify/N}), detached, one per verify
 * that may run at once, and are kept between runs: moving one to the next commit rewrites only the files that differ,
 * and build outputs the repository ignores stay, so an incremental build stays incremental. Files the last verify
 * created and git does not ignore are removed before each use.
 *
 * <p>JGit cannot create linked worktrees, so this uses the git layer's CLI runner ({@link GitCli}: hooks off, a
 * scrubbed environment). The checkout before each verify is the one git command that is not run through it: it is
 * part of the verify's own process ({@link #verify}), which saves a process per queue entry, and runs with hooks off
 * too.
 */
public final class VerifyTrees {
  private static final Duration GIT_TIMEOUT = Duration.ofMinutes(5);

  private final Path gitDir;
  private final Path root;
  private final Deque<Path> idle = new ArrayDeque<>();
  private int made;

  public VerifyTrees(Path commonGitDir) {
    this.gitDir = commonGitDir;
    this.root = commonGitDir.resolve("lanes").resolve("verify");
  }

  /** Exit code of {@link #verify} when the worktree could not be moved to the commit; the verify did not run. */
  public static final int CHECKOUT_FAILED = 125;

  /** An idle, clean worktree, or a new one; give it back with {@link #clean}, or {@link #discard} it if it failed. */
  public synchronized Path take() {
    return idle.isEmpty() ? make() : idle.pop();
  }

  /**
   * Removes what the last verify left that git does not ignore, and gives the worktree back; a worktree git cannot
   * clean is dropped instead.
   */
  public void clean(Path tree) {
    try {
      git(tree, "clean", "-ffdq");
      release(tree);
    } catch (RuntimeException e) {
      discard(tree);
    }
  }

  private synchronized void release(Path tree) {
    idle.push(tree);
  }

  /** Drops a worktree git could not move; a new one is made when needed. */
  public synchronized void discard(Path tree) {
    forget(tree);
  }

  /**
   * The argv that, run in a worktree from {@link #take}, moves it to {@code commit} and runs {@code command} with
   * {@code sh -c}; it exits with {@value #CHECKOUT_FAILED} if git cannot move it. One process where two would do: on
   * a queue of small changes the processes are most of the cost. The commit and the command are arguments of the
   * script, never part of it. Replacement refs are off, as in {@link GitCli}: the tree verified is the one landed.
   */
  public static List<String> verify(String commit, String command) {
    return List.of("sh", "-c", "GIT_NO_REPLACE_OBJECTS=1 git -c core.hooksPath=/dev/null -c core.fsmonitor=false"
        + " checkout -q --detach --force \"$1\""
        + " || { echo \"lanes: could not check out $1 in the verify worktree\"; exit " + CHECKOUT_FAILED + "; }\n"
        + "exec sh -c \"$2\"", "lanes-verify", commit, command);
  }

  /**
   * A fresh file beside {@code tree} for the output of its next verify; it is kept until that worktree's next verify,
   * outside the worktree so that cleaning it does not remove the log and the verify does not see it.
   */
  public Path log(Path tree) {
    Path log = tree.resolveSibling(tree.getFileName() + ".log");
    try {
      Files.deleteIfExists(log);
    } catch (java.io.IOException e) {
      throw new LeadException("cannot remove the verify log " + log + ": " + e.getMessage(), e);
    }
    return log;
  }

  private Path make() {
    Path tree = root.resolve(Integer.toString(made++));
    if (Files.isDirectory(tree.resolve(".git")) || Files.isRegularFile(tree.resolve(".git"))) {
      return tree; // kept from an earlier run
    }
    forget(tree);
    git(gitDir, "worktree", "add", "--quiet", "--detach", "--force", tree.toString(), "HEAD");
    return tree;
  }

  private void forget(Path tree) {
    try {
      if (Files.exists(tree)) {
        try (var walk = Files.walk(tree)) {
          for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
            Files.deleteIfExists(p);
          }
        }
      }
      git(gitDir, "worktree", "prune");
    } catch (java.io.IOException e) {
      throw new LeadException("cannot remove the verify worktree " + tree + ": " + e.getMessage(), e);
    }
  }

  private static void git(Path where, String... args) {
    try {
      GitCli.in(where).withTimeout(GIT_TIMEOUT).run(args);
    } catch (GitException e) {
      throw new LeadException(e.getMessage(), e);
    }
  }
}
