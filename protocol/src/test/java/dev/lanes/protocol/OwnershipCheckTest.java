package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class OwnershipCheckTest {
  private static final AgentSpec AGENT = new AgentSpec(List.of("true"), 60_000);

  @Test
  void check_reportsConcurrentConflictWithExampleAndCommonBaseFiles() {
    Plan plan = plan(
        "core: [core/]",
        "api: ['**/*.java']",
        "docs: ['docs/*.md']");
    List<String> files = List.of("core/A.java", "core/B.java", "core/README.md", "api/X.java", "docs/x.md");

    OwnershipReport report = OwnershipCheck.check(plan, files);

    assertThat(report.conflicts()).singleElement().satisfies(c -> {
      assertThat(c.tasks()).containsExactly("core", "api");
      assertThat(c.claims()).containsExactly("core/", "**/*.java");
      assertThat(Claim.parse("core/").covers(c.example())).isTrue();
      assertThat(Claim.parse("**/*.java").covers(c.example())).isTrue();
      assertThat(c.files()).containsExactly("core/A.java", "core/B.java");
    });
    assertThat(report.warnings()).isEmpty();
    assertThat(report.hasConflicts()).isTrue();
  }

  @Test
  void check_withoutFiles_reportsConflictsButNoFilesAndNoWarnings() {
    Plan plan = plan("core: [core/]", "api: ['**/*.java']", "typo: ['crore/*.md']");

    OwnershipReport report = OwnershipCheck.check(plan);

    assertThat(report.conflicts()).singleElement()
        .satisfies(c -> assertThat(c.files()).isEmpty());
    assertThat(report.warnings()).isEmpty();
  }

  @Test
  void check_disjointClaimsAreClean() {
    Plan plan = plan("java: ['**/*.java']", "kotlin: ['**/*.kt']", "txt: ['src/*.txt']", "c: ['lib/*.[ch]']");

    OwnershipReport report = OwnershipCheck.check(plan, List.of("src/a.txt", "lib/x/y.kt", "a.java", "lib/a.c"));

    assertThat(report.conflicts()).isEmpty();
    assertThat(report.hasConflicts()).isFalse();
    assertThat(report.warnings()).isEmpty();
  }

  @Test
  void check_tasksOrderedDirectlyAreNotReported() {
    Plan plan = plan("core: [core/]", "api: ['**/*.java'] after [core]");

    assertThat(OwnershipCheck.check(plan).conflicts()).isEmpty();
    assertThat(OwnershipCheck.of(plan).mayRunTogether("core", "api")).isFalse();
  }

  @Test
  void check_tasksOrderedTransitivelyAreNotReported() {
    Plan plan = plan(
        "last: [shared/] after [middle]",
        "middle: [middle/] after [first]",
        "first: [shared/]",
        "side: [side/]");

    OwnershipCheck check = OwnershipCheck.of(plan);

    assertThat(check.report().conflicts()).isEmpty();
    assertThat(check.mayRunTogether("first", "last")).isFalse();
    assertThat(check.mayRunTogether("last", "first")).isFalse();
    assertThat(check.mayRunTogether("side", "last")).isTrue();
  }

  @Test
  void check_siblingsOfADiamondMayRunTogether() {
    Plan plan = plan(
        "root: [root/]",
        "left: [shared/] after [root]",
        "right: ['shared/**/*.md'] after [root]",
        "join: [shared/] after [left, right]");

    assertThat(OwnershipCheck.check(plan).conflicts())
        .singleElement()
        .satisfies(c -> assertThat(c.tasks()).containsExactly("left", "right"));
  }

  @Test
  void check_warnsAboutEachClaimThatCoversNoFileAtBase() {
    Plan plan = plan("core: [core/, core/x]", "docs: ['**/*.md', 'dcos/']");

    OwnershipReport report = OwnershipCheck.check(plan, List.of("core/A.java", "README.md"));

    assertThat(report.warnings()).containsExactly(
        "tasks[0].owns[1]: \"core/x\" covers no file at the base commit (new files are fine; typos are not)",
        "tasks[1].owns[1]: \"dcos/\" covers no file at the base commit (new files are fine; typos are not)");
  }

  @Test
  void check_filesUnderAPrefixAreFoundExactlyInAnUnsortedList() {
    Plan plan = plan("a: [core/]", "b: ['{core,core-x}/**']");
    List<String> files = List.of("core/z", "core-x/a", "core", "corf", "core/a/b", "cord/a", "core.txt");

    OwnershipReport report = OwnershipCheck.check(plan, files);

    assertThat(report.conflicts()).singleElement()
        .satisfies(c -> assertThat(c.files()).containsExactly("core", "core/a/b", "core/z"));
    assertThat(report.warnings()).isEmpty();
  }

  /**
   * Against a brute force over every file, with enough files that wildcard-first claims take the file-name shortcut:
   * the files listed for each conflict and the claims warned about are exactly those a plain filter finds.
   */
  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {11, 12, 13})
  void check_baseFilesMatchAFilterOverEveryFile(long seed) {
    Random random = new Random(seed);
    String[] dirs = {"a", "b", "core", "src", "a/src", "core/src/main", "b/x/y", "docs", "lib/deep/er"};
    String[] names = {"x.java", "y.md", "README.md", "z.kt", "Main.java", "a", "notes.txt", "x.jav", "core"};
    Set<String> unique = new TreeSet<>();
    while (unique.size() < 6_000) {
      unique.add(dirs[random.nextInt(dirs.length)] + "/" + "d" + random.nextInt(400) + "/"
          + names[random.nextInt(names.length)]);
    }
    unique.addAll(List.of("core", "README.md", "core.txt", "core-x/a.md"));
    List<String> files = new ArrayList<>(unique);
    java.util.Collections.shuffle(files, random);
    String[] claims = {
      "**/*.md", "**/*.kt", "**/*.scala", "*/src/**", "core/", "core", "a/*/*.java", "{a,b}/**/x*", "[ab]/*/y.md",
      "*/d1?/*", "docs/d7/", "lib/deep/er/**/Main.java", "b/x/y/d3/a", "core/src/main/d12/core", "**/core",
      "*.txt", "nothing/here/", "src/d5/*.{java,kt}", "**/d399/**", "core-x/*.md",
    };
    List<Plan.Task> tasks = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      tasks.add(task("t" + i, List.of(claims[random.nextInt(claims.length)], claims[random.nextInt(claims.length)]),
          List.of()));
    }
    Plan plan = new Plan("files", Optional.empty(), "lanes/files", tasks);

    OwnershipReport report = OwnershipCheck.check(plan, files);

    Map<String, List<String>> covered = new HashMap<>();
    for (String claim : claims) {
      covered.put(claim, unique.stream().filter(Claim.parse(claim)::covers).toList());
    }
    for (OwnershipReport.Conflict c : report.conflicts()) {
      List<String> both = new ArrayList<>(covered.get(c.claims().get(0)));
      both.retainAll(new HashSet<>(covered.get(c.claims().get(1))));
      assertThat(c.files()).as(c.claims().toString()).isEqualTo(both);
    }
    List<String> warned = new ArrayList<>();
    for (int i = 0; i < tasks.size(); i++) {
      for (int j = 0; j < 2; j++) {
        Claim claim = tasks.get(i).owns().get(j);
        if (covered.get(claim.text()).isEmpty()) {
          warned.add("tasks[" + i + "].owns[" + j + "]: \"" + claim.text() + "\" covers no file at the base commit"
              + " (new files are fine; typos are not)");
        }
      }
    }
    assertThat(report.warnings()).isEqualTo(warned).isNotEmpty();
    assertThat(report.conflicts()).anySatisfy(c -> assertThat(c.files()).hasSizeGreaterThan(100));
  }

  @Test
  void report_mapsToTheDocumentedJson() throws Exception {
    Plan plan = plan("core: [core/]", "api: ['**/*.java']", "x: ['x/*.md']");

    OwnershipReport report = OwnershipCheck.check(plan, List.of("core/A.java"));

    assertThat(Json.mapper().writeValueAsString(report)).isEqualTo(
        "{\"conflicts\":[{\"tasks\":[\"core\",\"api\"],\"claims\":[\"core/\",\"**/*.java\"],"
            + "\"example\":\"" + report.conflicts().get(0).example() + "\",\"files\":[\"core/A.java\"]}],"
            + "\"warnings\":[\"tasks[2].owns[0]: \\\"x/*.md\\\" covers no file at the base commit"
            + " (new files are fine; typos are not)\"]}");
    assertThat(Json.mapper().readValue(Json.mapper().writeValueAsString(report), OwnershipReport.class))
        .isEqualTo(report);
  }

  @Test
  void describe_listsSomeFilesAndCountsTheRest() {
    OwnershipReport.Conflict c = new OwnershipReport.Conflict(List.of("core", "api"), List.of("core/**", "**/*.java"),
        "core/x.java", List.of("core/A.java", "core/B.java", "core/C.java", "core/D.java", "core/E.java"));

    assertThat(c.describe(2)).isEqualTo(
        "core (core/**) and api (**/*.java) both own core/x.java; at base: core/A.java, core/B.java (+3 more)");
    assertThat(c.describe(5)).endsWith("core/E.java");
    assertThat(new OwnershipReport.Conflict(c.tasks(), c.claims(), c.example(), List.of()).describe(3))
        .isEqualTo("core (core/**) and api (**/*.java) both own core/x.java");
  }

  @Test
  void of_rejectsACycleAndAnUnknownDependencyInAHandBuiltPlan() {
    Plan cycle = new Plan("p", Optional.empty(), "lanes/p", List.of(
        task("a", List.of("a/"), List.of("b")), task("b", List.of("b/"), List.of("a")), task("c", List.of("c/"),
            List.of("b"))));
    Plan unknown = new Plan("p", Optional.empty(), "lanes/p", List.of(task("a", List.of("a/"), List.of("zz"))));

    assertThatThrownBy(() -> OwnershipCheck.check(cycle))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("dependency cycle")
        .hasMessageContaining("a, b, c");
    assertThatThrownBy(() -> OwnershipCheck.check(unknown))
        .isInstanceOf(ProtocolException.class)
        .hasMessage("tasks[0].after[0]: \"zz\" is not the id of any task in the plan");
  }

  @Test
  void serialize_ordersTheLaterTaskAfterTheEarlierAndLeavesNoConflict() {
    Plan plan = plan(
        "core: [core/]",
        "api: ['**/*.java']",
        "docs: ['**/*.md']",
        "web: [web/] after [core]");

    OwnershipReport report = OwnershipCheck.check(plan);
    OwnershipCheck.Serialized serialized = OwnershipCheck.serialize(plan, report.conflicts());

    assertThat(report.conflicts()).extracting(OwnershipReport.Conflict::tasks).containsExactly(
        List.of("core", "api"), List.of("core", "docs"), List.of("api", "web"), List.of("docs", "web"));
    assertThat(serialized.added()).extracting(e -> e.task() + " after " + e.after()).containsExactly(
        "api after core", "docs after core", "web after api", "web after docs");
    assertThat(serialized.added().get(0).reason()).isEqualTo(report.conflicts().get(0));
    assertThat(serialized.plan().task("web").orElseThrow().after()).containsExactly("core", "api", "docs");
    assertThat(serialized.plan().task("core").orElseThrow().after()).isEmpty();
    assertThat(serialized.plan().tasks()).extracting(Plan.Task::id).containsExactly("core", "api", "docs", "web");
    assertThat(OwnershipCheck.check(serialized.plan()).conflicts()).isEmpty();
  }

  @Test
  void serialize_ordersEveryPairOfThreeTasksOnTheSameClaim() {
    Plan plan = plan("a: [x/]", "b: [x/]", "c: [x/]");

    OwnershipCheck.Serialized serialized = OwnershipCheck.serialize(plan, OwnershipCheck.check(plan).conflicts());

    assertThat(serialized.added()).extracting(e -> e.task() + " after " + e.after())
        .containsExactly("b after a", "c after a", "c after b");
  }

  @Test
  void serialize_skipsPairsThatEarlierEdgesAlreadyOrdered() {
    // (a,b) puts b after a; c already waits for b, so it now waits for a too and (a,c) needs no edge
    Plan plan = plan("a: [x/, y/]", "b: [x/]", "c: [y/] after [b]");

    OwnershipCheck.Serialized serialized = OwnershipCheck.serialize(plan, OwnershipCheck.check(plan).conflicts());

    assertThat(OwnershipCheck.check(plan).conflicts()).hasSize(2);
    assertThat(serialized.added()).extracting(e -> e.task() + " after " + e.after()).containsExactly("b after a");
    assertThat(serialized.plan().task("c").orElseThrow().after()).containsExactly("b");
    assertThat(OwnershipCheck.check(serialized.plan()).conflicts()).isEmpty();
  }

  @Test
  void serialize_neverClosesACycle() {
    // a waits for c. Given (b,c) first, c goes after b; then a already waits for b through c, so (a,b) adds nothing,
    // where a blind "later after earlier" (b after a) would close a -> c -> b -> a.
    Plan plan = plan("a: [x/] after [c]", "b: [x/]", "c: [x/]");
    List<OwnershipReport.Conflict> conflicts = new ArrayList<>(OwnershipCheck.check(plan).conflicts());
    assertThat(conflicts).extracting(OwnershipReport.Conflict::tasks)
        .containsExactly(List.of("a", "b"), List.of("b", "c"));
    java.util.Collections.reverse(conflicts);

    OwnershipCheck.Serialized serialized = OwnershipCheck.serialize(plan, conflicts);

    assertThat(serialized.added()).extracting(e -> e.task() + " after " + e.after()).containsExactly("c after b");
    assertThat(OwnershipCheck.check(serialized.plan()).conflicts()).isEmpty();
  }

  @Test
  void serialize_rejectsAConflictAboutAnotherPlan() {
    Plan plan = plan("a: [x/]");
    OwnershipReport.Conflict foreign =
        new OwnershipReport.Conflict(List.of("a", "zz"), List.of("x/", "x/"), "x", List.of());

    assertThatThrownBy(() -> OwnershipCheck.serialize(plan, List.of(foreign)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("\"zz\"");
  }

  /**
   * A thousand tasks with dependencies on recent tasks and claims from a pool, against a brute force over all task
   * pairs: reachability by depth-first search, overlap by {@link Claim#overlap} (computed once per pair of texts).
   */
  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {7, 8})
  void check_thousandTaskPlanMatchesBruteForce(long seed) {
    Random random = new Random(seed);
    List<String> pool = new ArrayList<>();
    for (int m = 0; m < 40; m++) {
      pool.addAll(List.of("m" + m + "/a/", "m" + m + "/**/*.java", "m" + m + "/*.md", "m" + m + "/b/*.txt",
          "m" + m + "/{a,c}/**/*.java"));
    }
    pool.addAll(List.of("**/*.kt", "*/b/"));
    int n = 1_000;
    List<Plan.Task> tasks = new ArrayList<>();
    int[][] owns = new int[n][];
    int[][] after = new int[n][];
    for (int i = 0; i < n; i++) {
      owns[i] = random.ints(1 + random.nextInt(2), 0, pool.size() - (random.nextInt(50) == 0 ? 0 : 2)).toArray();
      after[i] = i == 0 || random.nextBoolean() ? new int[0]
          : random.ints(1 + random.nextInt(2), Math.max(0, i - 30), i).distinct().toArray();
      List<String> claims = new ArrayList<>();
      for (int c : owns[i]) {
        claims.add(pool.get(c));
      }
      List<String> deps = new ArrayList<>();
      for (int d : after[i]) {
        deps.add("t" + d);
      }
      tasks.add(task("t" + i, claims, deps));
    }
    Plan plan = new Plan("big", Optional.empty(), "lanes/big", tasks);

    OwnershipReport report = OwnershipCheck.check(plan, List.of("m1/a/x.java", "m2/b/y.txt"));

    Map<String, Claim> parsed = new HashMap<>();
    pool.forEach(text -> parsed.put(text, Claim.parse(text)));
    boolean[][] overlap = new boolean[pool.size()][pool.size()];
    for (int x = 0; x < pool.size(); x++) {
      for (int y = x; y < pool.size(); y++) {
        overlap[x][y] = parsed.get(pool.get(x)).overlap(parsed.get(pool.get(y))).isPresent();
        overlap[y][x] = overlap[x][y];
      }
    }
    BitSet[] waitsFor = new BitSet[n];
    for (int i = 0; i < n; i++) {
      waitsFor[i] = new BitSet(n);
      dfs(i, after, waitsFor[i]);
    }
    Set<String> expected = new TreeSet<>();
    for (int x = 0; x < n; x++) {
      for (int y = x + 1; y < n; y++) {
        if (!waitsFor[x].get(y) && !waitsFor[y].get(x) && anyOverlap(owns[x], owns[y], overlap)) {
          expected.add(x + "+" + y);
        }
      }
    }
    Set<String> found = new HashSet<>();
    List<OwnershipReport.Conflict> wrong = new ArrayList<>();
    for (OwnershipReport.Conflict c : report.conflicts()) {
      found.add(c.tasks().get(0).substring(1) + "+" + c.tasks().get(1).substring(1));
      Claim first = parsed.get(c.claims().get(0));
      Claim second = parsed.get(c.claims().get(1));
      if (!first.covers(c.example()) || !second.covers(c.example())
          || !c.files().stream().allMatch(f -> first.covers(f) && second.covers(f))) {
        wrong.add(c);
      }
    }
    assertThat(wrong).isEmpty();
    assertThat(expected).hasSizeGreaterThan(100);
    assertThat(found).isEqualTo(expected);
    assertThat(report.conflicts()).hasSameSizeAs(expected);
    assertThat(report.conflicts()).anySatisfy(c -> assertThat(c.files()).isNotEmpty());
    OwnershipCheck.Serialized serialized = OwnershipCheck.serialize(plan, report.conflicts());
    assertThat(OwnershipCheck.check(serialized.plan()).conflicts()).isEmpty();
  }

  private static void dfs(int task, int[][] after, BitSet seen) {
    for (int d : after[task]) {
      if (!seen.get(d)) {
        seen.set(d);
        dfs(d, after, seen);
      }
    }
  }

  private static boolean anyOverlap(int[] a, int[] b, boolean[][] overlap) {
    for (int x : a) {
      for (int y : b) {
        if (overlap[x][y]) {
          return true;
        }
      }
    }
    return false;
  }

  /** A plan from lines like {@code "api: ['**}{@code /*.java'] after [core]"}, through the real parser. */
  private static Plan plan(String... lines) {
    StringBuilder yaml = new StringBuilder("name: p\nagent: {command: ['true']}\ntasks:\n");
    for (String line : lines) {
      String[] idRest = line.split(": ", 2);
      String[] ownsAfter = idRest[1].split(" after ", 2);
      yaml.append("  - id: ").append(idRest[0]).append("\n    prompt: do it\n    owns: ").append(ownsAfter[0])
          .append('\n');
      if (ownsAfter.length > 1) {
        yaml.append("    after: ").append(ownsAfter[1]).append('\n');
      }
    }
    return PlanParser.parse(yaml.toString(), "test.yaml");
  }

  private static Plan.Task task(String id, List<String> owns, List<String> after) {
    List<Claim> claims = new ArrayList<>();
    owns.forEach(o -> claims.add(Claim.parse(o)));
    return new Plan.Task(id, id, "do it", claims, after, List.of(), AGENT, Optional.empty());
  }
}
