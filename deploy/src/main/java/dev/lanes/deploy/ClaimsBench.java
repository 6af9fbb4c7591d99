package dev.lanes.deploy;

import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.Claim;
import dev.lanes.protocol.OwnershipCheck;
import dev.lanes.protocol.OwnershipReport;
import dev.lanes.protocol.Plan;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import java.util.Set;

/**
 * The ownership-check benchmark: a generated plan of module-scoped tasks over a generated tree, all tasks concurrent,
 * checked exactly as {@code lanes check} does it (claim index, conflicts, files at base, warnings).
 *
 * <p>Task i owns module {@code modNNNN}: its Java sources, its top-level XML and Markdown, its properties and its page
 * under {@code docs/}. A few tasks own something else instead of their last claim, which makes the check realistic:
 * every 200th (from 50) also claims the utility classes of the next module, a real conflict, and every 200th (from 150)
 * holds a claim that starts with a wildcard, which the index must compare with every other claim (one of those meets
 * the Markdown claims of fifty modules, another covers no file at all). The bare tool here is the naive check of every
 * pair of claims; its cost is estimated from a timed sample of pairs, as running it would take minutes.
 */
final class ClaimsBench {
  static final long SEED = 42;
  private static final int SAMPLE_PAIRS = 20_000;
  private static final String[] CROSS = {
    "mod00[0-4]?/*.md", "mod*/db/*.sql", "mod*/src/**/*.kt", "{tools,scripts}/**", ".github/**",
  };
  private static final String[] STEMS = {"Service", "Util", "Model", "Controller", "Repository", "Config"};
  private static final String[] TOPICS = {"design", "usage", "faq", "changes", "ops"};
  private static final AgentSpec NOOP = new AgentSpec(List.of("true"), 60_000);

  private ClaimsBench() {}

  static void run(int tasks, int claims, int paths, int runs, PrintWriter out) {
    List<String> files = tree(tasks, paths);
    Plan plan = plan(tasks, claims);
    int patterns = tasks * claims;
    out.printf(Locale.ROOT, "generated %d paths and %d tasks x %d claims = %d patterns (seed %d); all tasks may run"
        + " at the same time%n", files.size(), tasks, claims, patterns, SEED);
    long[] ms = new long[runs];
    OwnershipReport report = null;
    long compared = 0;
    for (int r = 0; r < runs; r++) {
      long start = System.nanoTime();
      OwnershipCheck check = OwnershipCheck.of(plan);
      report = check.report(files);
      ms[r] = Math.round((System.nanoTime() - start) / 1e6);
      compared = check.comparedPairs();
      out.printf(Locale.ROOT, "run %d (%s): %d ms, %d pairs compared, %d conflicts, %d warnings%n", r + 1,
          r == 0 ? "cold" : "warm", ms[r], compared, report.conflicts().size(), report.warnings().size());
    }
    long[] warm = Arrays.copyOfRange(ms, 1, runs);
    Arrays.sort(warm);
    if (warm.length > 0) {
      out.printf(Locale.ROOT, "cold %d ms; warm median %d ms (min %d, max %d)%n", ms[0], warm[warm.length / 2],
          warm[0], warm[warm.length - 1]);
    }
    out.printf(Locale.ROOT, "conflicts found: %d%n", report.conflicts().size());
    report.conflicts().stream().limit(3).forEach(c -> out.println("  e.g. " + c.describe(2)));
    long naive = naivePairs(plan);
    double microsPerPair = sampleMicrosPerPair(plan);
    out.printf(Locale.ROOT, "naive all pairs: %d claim pairs, %.0fx the pairs compared; at %.1f us a pair (timed on"
        + " %d sampled pairs) that is ~%.1f s%n", naive, naive / (double) Math.max(1, compared), microsPerPair,
        SAMPLE_PAIRS, naive * microsPerPair / 1e6);
    out.printf(Locale.ROOT, "claims tasks=%d patterns=%d ms=%d compared_pairs=%d%n", tasks, patterns, ms[0], compared);
    out.flush();
  }

  static String module(int i) {
    return String.format(Locale.ROOT, "mod%04d", i);
  }

  /** A sorted tree of exactly {@code paths} files (fewer only if that is less than the fixed files): one module a task. */
  static List<String> tree(int modules, int paths) {
    Random random = new Random(SEED);
    Set<String> files = new LinkedHashSet<>(List.of(
        "pom.xml", "README.md", ".github/workflows/ci.yml", "tools/release.sh", "scripts/setup.sh", "docs/index.md"));
    for (int m = 0; m < modules; m++) {
      files.addAll(List.of(module(m) + "/pom.xml", module(m) + "/README.md", "docs/" + module(m) + ".md"));
    }
    // enough distinct names per module that the loop always ends: about 130 * spread names a module
    int spread = Math.max(100, 2 * paths / (130 * modules) + 1);
    while (files.size() < paths) {
      String mod = module(random.nextInt(modules));
      int kind = random.nextInt(100);
      int n = random.nextInt(spread);
      String pkg = "dev/example/" + mod + "/p" + random.nextInt(10) + "/";
      String stem = STEMS[random.nextInt(STEMS.length)];
      if (kind < 50) {
        files.add(mod + "/src/main/java/" + pkg + stem + n + ".java");
      } else if (kind < 75) {
        files.add(mod + "/src/test/java/" + pkg + stem + n + "Test.java");
      } else if (kind < 85) {
        files.add(mod + "/src/main/resources/" + (n % 2 == 0 ? "config/" : "") + "settings" + n + ".properties");
      } else if (kind < 90) {
        files.add(mod + "/db/V" + n + "__change.sql");
      } else {
        files.add(mod + "/docs/" + TOPICS[random.nextInt(TOPICS.length)] + n + ".adoc");
      }
    }
    List<String> result = new ArrayList<>(new ArrayList<>(files).subList(0, Math.min(paths, files.size())));
    result.sort(null); // the order git lists a tree in
    return result;
  }

  /** {@code tasks} concurrent tasks of {@code claims} claims each; see the class comment for the cross-cutting ones. */
  static Plan plan(int tasks, int claims) {
    List<Plan.Task> list = new ArrayList<>();
    for (int i = 0; i < tasks; i++) {
      String mod = module(i);
      List<Claim> owns = new ArrayList<>();
      for (int k = 0; k < claims; k++) {
        owns.add(Claim.parse(moduleClaim(mod, k)));
      }
      if (i % 200 == 50 && i + 1 < tasks) {
        owns.set(claims - 1, Claim.parse(module(i + 1) + "/src/main/java/**/Util*.java"));
      } else if (i % 200 == 150) {
        owns.set(claims - 1, Claim.parse(CROSS[(i / 200) % CROSS.length]));
      }
      String id = String.format(Locale.ROOT, "t%04d", i);
      list.add(new Plan.Task(id, "task " + i, "bench", owns, List.of(), List.of(), NOOP, Optional.empty()));
    }
    return new Plan("bench-claims", Optional.empty(), Plan.defaultTarget("bench-claims"), list);
  }

  private static String moduleClaim(String mod, int k) {
    switch (k) {
      case 0:
        return mod + "/src/**/*.java";
      case 1:
        return mod + "/*.xml";
      case 2:
        return "docs/" + mod + ".md";
      case 3:
        return mod + "/src/main/resources/**/*.properties";
      case 4:
        return mod + "/*.md";
      default:
        return mod + "/gen" + k + "/";
    }
  }

  /** Pairs of claims owned by different tasks: what a check without an index would compare. */
  private static long naivePairs(Plan plan) {
    long all = 0;
    long same = 0;
    for (Plan.Task t : plan.tasks()) {
      all += t.owns().size();
      same += (long) t.owns().size() * (t.owns().size() - 1) / 2;
    }
    return all * (all - 1) / 2 - same;
  }

  /** Times {@link Claim#overlap} on random pairs of claims of different tasks, after the runs have warmed it up. */
  private static double sampleMicrosPerPair(Plan plan) {
    Random random = new Random(SEED);
    List<Plan.Task> tasks = plan.tasks();
    if (tasks.size() < 2) {
      return 0;
    }
    long start = System.nanoTime();
    for (int s = 0; s < SAMPLE_PAIRS; s++) {
      int a = random.nextInt(tasks.size());
      int b = (a + 1 + random.nextInt(tasks.size() - 1)) % tasks.size();
      List<Claim> x = tasks.get(a).owns();
      List<Claim> y = tasks.get(b).owns();
      x.get(random.nextInt(x.size())).overlap(y.get(random.nextInt(y.size())));
    }
    return (System.nanoTime() - start) / 1e3 / SAMPLE_PAIRS;
  }
}
