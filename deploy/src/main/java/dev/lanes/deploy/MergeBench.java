package dev.lanes.deploy;

import dev.lanes.coordinator.MergeQueue;
import dev.lanes.coordinator.git.TargetBranch;
import dev.lanes.coordinator.git.VerifyTrees;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The merge benchmark: N finished, non-conflicting branches on a generated repository landed through the lead's
 * merge queue (in-core merge, the verify command on each merged tree in the lead's verify worktrees, compare-and-swap
 * of the target), next to a bare git loop doing only the merging: {@code git merge-tree --write-tree},
 * {@code git commit-tree}, {@code git update-ref}, once per branch. The verify command is a no-op ({@code true}), so
 * the difference is what the queue costs around it. Rounds alternate which side goes first; one warm-up round of each
 * is not counted.
 */
final class MergeBench {
  private MergeBench() {}

  static void run(int branches, int files, int rounds, int window, PrintWriter out) {
    Path dir = LocalCluster.tempDir("lanes-bench-merge-");
    try {
      Path repo = dir.resolve("repo");
      SetupBench.generate(repo, files);
      String base = BareGit.init(repo);
      List<String> work = new ArrayList<>();
      for (int i = 0; i < branches; i++) {
        work.add(branch(repo, base, i));
      }
      out.printf(Locale.ROOT, "generated %d files and %d branches of one commit each, verify: true, window %d%n",
          files, branches, window);
      List<Long> lanes = new ArrayList<>();
      List<Long> git = new ArrayList<>();
      try (TargetBranch target = TargetBranch.open(repo)) {
        VerifyTrees trees = new VerifyTrees(target.commonGitDir());
        for (int round = -1; round < rounds; round++) {
          boolean lanesFirst = round % 2 == 0;
          long a = lanesFirst ? viaQueue(target, trees, repo, base, work, window, round) : viaGit(repo, base, work, round);
          long b = lanesFirst ? viaGit(repo, base, work, round) : viaQueue(target, trees, repo, base, work, window, round);
          long lanesMs = lanesFirst ? a : b;
          long gitMs = lanesFirst ? b : a;
          if (round >= 0) {
            lanes.add(lanesMs);
            git.add(gitMs);
            out.printf(Locale.ROOT, "round %d: lanes %d ms, git %d ms%n", round + 1, lanesMs, gitMs);
          }
        }
      }
      long lanesMedian = median(lanes);
      long gitMedian = median(git);
      out.printf(Locale.ROOT, "lanes (queue, verify on each merged tree): min %d, median %d, max %d ms%n",
          lanes.stream().min(Long::compare).orElseThrow(), lanesMedian, lanes.stream().max(Long::compare).orElseThrow());
      out.printf(Locale.ROOT, "git (merge-tree + commit-tree + update-ref): min %d, median %d, max %d ms%n",
          git.stream().min(Long::compare).orElseThrow(), gitMedian, git.stream().max(Long::compare).orElseThrow());
      out.printf(Locale.ROOT, "merge n=%d lanes_ms=%d git_ms=%d ratio=%.2f%n", branches, lanesMedian, gitMedian,
          (double) lanesMedian / Math.max(1, gitMedian));
      out.flush();
    } finally {
      LocalCluster.deleteTree(dir);
    }
  }

  /**
   * A branch off the base that adds one file of its own, so no two branches conflict. Made with plumbing and a
   * scratch index, without a worktree: checking out thousands of files sixteen times is slow on some filesystems.
   */
  private static String branch(Path repo, String base, int i) {
    try {
      Path file = Files.writeString(repo.resolve(".git/bench-blob"), "branch " + i + "\n");
      String blob = BareGit.git(repo, "hash-object", "-w", file.toString()).strip();
      String index = repo.resolve(".git/bench-index").toString();
      bareWithIndex(repo, index, "read-tree", base);
      bareWithIndex(repo, index, "update-index", "--add", "--cacheinfo",
          "100644," + blob + ",merged-" + i + ".txt");
      String tree = bareWithIndex(repo, index, "write-tree").strip();
      String commit =
          BareGit.git(repo, BareGit.withIdentity("commit-tree", tree, "-p", base, "-m", "work " + i)).strip();
      BareGit.git(repo, "update-ref", "refs/heads/work/" + i, commit);
      return commit;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String bareWithIndex(Path repo, String index, String... args) {
    return BareGit.git(repo, Map.of("GIT_INDEX_FILE", index), args);
  }

  private static long viaQueue(TargetBranch target, VerifyTrees trees, Path repo, String base, List<String> work, int window,
      int round) {
    String branch = "lanes/bench-" + (round + 1);
    BareGit.git(repo, "branch", "-f", branch, base);
    ExecutorService loop = Executors.newSingleThreadExecutor();
    CompletableFuture<Void> all = new CompletableFuture<>();
    int[] landed = {0};
    try {
      long start = System.nanoTime();
      MergeQueue queue = CompletableFuture.supplyAsync(() -> {
        MergeQueue q = MergeQueue.open(target, trees, branch, window, loop, new MergeQueue.Listener() {

          @Override
          public void landed(MergeQueue.Entry entry, String tip) {
            if (++landed[0] == work.size()) {
              all.complete(null);
            }
          }

          @Override
          public void evicted(MergeQueue.Entry entry, MergeQueue.Eviction why) {
            all.completeExceptionally(new IllegalStateException(entry.task() + " was evicted: " + why.reason()));
          }
        });
        for (int i = 0; i < work.size(); i++) {
          q.add(new MergeQueue.Entry("t" + i, work.get(i), base, "Land t" + i, Optional.of("true"),
              Duration.ofMinutes(1)));
        }
        return q;
      }, loop).join();
      all.get(5, TimeUnit.MINUTES);
      long ms = (System.nanoTime() - start) / 1_000_000;
      loop.execute(queue::close);
      return ms;
    } catch (Exception e) {
      throw new IllegalStateException("the merge queue did not land every branch: " + e.getMessage(), e);
    } finally {
      loop.shutdown();
    }
  }

  private static long viaGit(Path repo, String base, List<String> work, int round) {
    String ref = "refs/heads/git/bench-" + (round + 1);
    BareGit.git(repo, "update-ref", ref, base);
    long start = System.nanoTime();
    String tip = base;
    for (String commit : work) {
      String tree = BareGit.git(repo, "merge-tree", "--write-tree", tip, commit).strip();
      String next =
          BareGit.git(repo, BareGit.withIdentity("commit-tree", tree, "-p", tip, "-p", commit, "-m", "land")).strip();
      BareGit.git(repo, "update-ref", ref, next, tip);
      tip = next;
    }
    return (System.nanoTime() - start) / 1_000_000;
  }

  private static long median(List<Long> values) {
    List<Long> sorted = values.stream().sorted().toList();
    return sorted.get(sorted.size() / 2);
  }
}
