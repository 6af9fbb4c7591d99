package dev.lanes.coordinator.git;

import dev.lanes.coordinator.LeadException;
import dev.lanes.process.ChildProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The lead's own worktrees, in which the merge queue runs the plan's verify command on a merged tree before the target
 * moves to it. They live under the repository's git directory ({@code .git/lanes/verify/N}), detached, one per verify
 * that may run at once, and are kept between runs: moving one to the next commit rewrites only the files that differ,
 * and build outputs the repository ignores stay, so an incremental build stays incremental. Files the last verify
 * created and git does not ignore are removed before each use.
 *
 * <p>JGit cannot create linked worktrees, so this uses the git CLI, with hooks off (nothing the tasks committed may
 * run here but the verify command itself).
 */
public final class VerifyTrees {
  private static final Duration GIT_TIMEOUT = Duration.ofMinutes(5);
  private static final Map<String, String> GIT_ENV = Map.of("GIT_TERMINAL_PROMPT", "0");

  private final Path gitDir;
  private final Path root;
  private final Deque<Path> idle = new ArrayDeque<>();
  private int made;

  public VerifyTrees(Path commonGitDir) {
    this.gitDir = commonGitDir;
    this.root = commonGitDir.resolve("lanes").resolve("verify");
  }

  /** A worktree at {@code commit}, clean; give it back with {@link #release}. */
  public synchronized Path acquire(String commit) {
    Path tree = idle.isEmpty() ? make() : idle.pop();
    try {
      git(tree, "checkout", "--quiet", "--detach", "--force", commit);
      git(tree, "clean", "-ffdq");
      return tree;
    } catch (LeadException e) {
      // A worktree git cannot move is dropped and made afresh next time.
      forget(tree);
      throw e;
    }
  }

  public synchronized void release(Path tree) {
    idle.push(tree);
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
    List<String> argv = new ArrayList<>(List.of("git", "-c", "core.hooksPath=/dev/null"));
    argv.addAll(List.of(args));
    ChildProcess.Result r = ChildProcess.run(argv, where, GIT_ENV, GIT_TIMEOUT, Optional.empty(), line -> {});
    if (!r.ok()) {
      throw new LeadException("git " + String.join(" ", args) + " failed in " + where + " (exit " + r.exit() + "): "
          + r.output().strip());
    }
  }
}
