package dev.lanes.deploy;

import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskRef;
import dev.lanes.worker.WorkDir;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * The per-task setup benchmark: what a worker does around each agent run, next to the bare git commands it wraps, on
 * a generated repository of realistic size and depth.
 *
 * <p>The Lanes side is exactly what a task run calls: {@link WorkDir#prepare} (the offer's checks, the attempt's
 * directories and bookkeeping, the base commit looked up in the mirror and fetched only if missing, {@code git
 * worktree add} on the attempt's branch) and {@link WorkDir#finish} ({@code git worktree remove}, the branch deleted,
 * the attempt out of the registry). The bare side is {@code git worktree add -b} and {@code git worktree remove
 * --force} plus {@code git branch -D} on the same mirror. The two alternate, and which goes first alternates too, so
 * that neither gets the warmer page cache.
 */
final class SetupBench {
  private SetupBench() {}

  static void run(int files, int iterations, int warmup, PrintWriter out) {
    Path dir = LocalCluster.tempDir("lanes-bench-setup-");
    try {
      Path repo = dir.resolve("repo");
      long t0 = System.nanoTime();
      Tree tree = generate(repo, files);
      String base = BareGit.init(repo);
      out.printf(Locale.ROOT, "generated %d files in %d directories (depth up to %d) in %.1f s%n", files,
          tree.directories(), tree.depth(), (System.nanoTime() - t0) / 1e9);
      try (WorkDir work = WorkDir.open(dir.resolve("work"), repo.toString(), Clock.systemUTC())) {
        measure(work, dir.resolve("bare"), base, iterations, warmup, out);
      }
      out.flush();
    } finally {
      LocalCluster.deleteTree(dir);
    }
  }

  private static void measure(WorkDir work, Path bare, String base, int iterations, int warmup, PrintWriter out) {
    long start = System.nanoTime();
    WorkDir.Attempt first = work.prepare(offer("first", base));
    double firstMs = (System.nanoTime() - start) / 1e6;
    work.finish(first);
    out.printf(Locale.ROOT, "first setup, with the mirror's fetch of the base commit: %.0f ms%n", firstMs);
    double[] lanesSetup = new double[iterations];
    double[] lanesTeardown = new double[iterations];
    double[] gitAdd = new double[iterations];
    double[] gitRemove = new double[iterations];
    for (int i = -warmup; i < iterations; i++) {
      String task = (i < 0 ? "w" : "t") + Math.abs(i);
      double[] lanes = null;
      double[] git = null;
      for (int side = 0; side < 2; side++) {
        // even rounds Lanes first, odd rounds git first
        if ((side == 0) == (Math.floorMod(i, 2) == 0)) {
          lanes = lanesRound(work, offer(task, base));
        } else {
          git = gitRound(work.mirror().dir(), bare.resolve(task), "bench/" + task, base);
        }
      }
      if (i >= 0) {
        lanesSetup[i] = lanes[0];
        lanesTeardown[i] = lanes[1];
        gitAdd[i] = git[0];
        gitRemove[i] = git[1];
      }
    }
    double[] lanesTotal = sum(lanesSetup, lanesTeardown);
    double[] gitTotal = sum(gitAdd, gitRemove);
    out.printf(Locale.ROOT, "per task, n=%d after %d warm-up round(s), Lanes and git alternating:%n", iterations,
        warmup);
    line(out, "lanes setup    (checks, bookkeeping, base lookup, worktree add)", lanesSetup);
    line(out, "lanes teardown (worktree remove, branch delete, registry)     ", lanesTeardown);
    line(out, "lanes total                                                    ", lanesTotal);
    line(out, "git worktree add -b                                            ", gitAdd);
    line(out, "git worktree remove --force + git branch -D                    ", gitRemove);
    line(out, "git total                                                      ", gitTotal);
    double lanesP50 = pct(lanesTotal, 50);
    double gitP50 = pct(gitTotal, 50);
    out.printf(Locale.ROOT, "setup n=%d lanes_ms_p50=%.1f git_ms_p50=%.1f ratio=%.2f%n", iterations, lanesP50, gitP50,
        lanesP50 / gitP50);
  }

  private static double[] lanesRound(WorkDir work, TaskOffered offer) {
    long t0 = System.nanoTime();
    WorkDir.Attempt attempt = work.prepare(offer);
    long t1 = System.nanoTime();
    work.finish(attempt);
    long t2 = System.nanoTime();
    return new double[] {(t1 - t0) / 1e6, (t2 - t1) / 1e6};
  }

  private static double[] gitRound(Path mirror, Path worktree, String branch, String base) {
    long t0 = System.nanoTime();
    BareGit.git(mirror, "worktree", "add", "-q", "-b", branch, worktree.toString(), base);
    long t1 = System.nanoTime();
    BareGit.git(mirror, "worktree", "remove", "--force", worktree.toString());
    BareGit.git(mirror, "branch", "-q", "-D", branch);
    long t2 = System.nanoTime();
    return new double[] {(t1 - t0) / 1e6, (t2 - t1) / 1e6};
  }

  private static TaskOffered offer(String task, String base) {
    return new TaskOffered("bench", "bench", task, 1, "bench " + task, "nothing", List.of("src/"), List.of(),
        new AgentSpec(List.of("true"), 60_000), Optional.empty(), base, TaskRef.branch("bench", task, 1),
        Optional.empty());
  }

  /** What the generated tree looks like. */
  record Tree(int directories, int depth) {}

  /**
   * A multi-module Java project: modules, main and test sources in packages two levels below the module's own, a few
   * resources and docs. Deterministic, about a kilobyte a file.
   */
  static Tree generate(Path repo, int files) {
    Set<Path> dirs = new HashSet<>();
    int depth = 0;
    for (int i = 0; i < files; i++) {
      String module = String.format(Locale.ROOT, "module-%02d", i % 10);
      String path;
      switch (i % 20) {
        case 0 -> path = module + "/src/main/resources/config/settings-" + i + ".properties";
        case 1 -> path = "docs/" + module + "/guide/page-" + i + ".md";
        case 2, 3, 4, 5 -> path = String.format(Locale.ROOT, "%s/src/test/java/com/example/m%02d/p%d/s%d/C%05dTest.java",
            module, i % 10, (i / 20) % 8, (i / 160) % 4, i);
        default -> path = String.format(Locale.ROOT, "%s/src/main/java/com/example/m%02d/p%d/s%d/C%05d.java", module,
            i % 10, (i / 20) % 8, (i / 160) % 4, i);
      }
      Path file = repo.resolve(path);
      dirs.add(file.getParent());
      depth = Math.max(depth, path.split("/").length - 1);
      write(file, content(path, i));
    }
    return new Tree(dirs.size(), depth);
  }

  private static String content(String path, int i) {
    StringBuilder text = new StringBuilder("// ").append(path).append('\n');
    for (int line = 0; line < 24; line++) {
      text.append("  value").append(line).append(" = ").append((i * 31L + line) % 9973).append("; // line of file ")
          .append(i).append('\n');
    }
    return text.toString();
  }

  private static void write(Path file, String content) {
    try {
      Files.createDirectories(file.getParent());
      Files.writeString(file, content);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static double[] sum(double[] a, double[] b) {
    double[] out = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i] + b[i];
    }
    return out;
  }

  private static void line(PrintWriter out, String label, double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    out.printf(Locale.ROOT, "  %s p50 %7.1f ms  p90 %7.1f ms  min %7.1f ms  max %7.1f ms%n", label, pct(sorted, 50),
        pct(sorted, 90), sorted[0], sorted[sorted.length - 1]);
  }

  private static double pct(double[] values, int p) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(i, sorted.length - 1))];
  }
}
