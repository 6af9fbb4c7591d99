package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiPredicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ClaimIndexTest {
  private static final String[] FIRST = {"core", "api", "docs", "a", "b", "*", "**", "{core,api}", "c?re", "[ab]"};
  private static final String[] REST = {
      "src", "main", "test", "x.java", "README.md", "*", "**", "*.java", "*.md", "?", "{main,test}", "[!s]*",
  };

  @Test
  void conflicts_namesBothOwnersClaimsAndAnExample() {
    ClaimIndex<String> index = new ClaimIndex<>();
    index.add("core", Claim.parse("core/"));
    index.add("docs", Claim.parse("**/*.md"));
    index.add("api", Claim.parse("api/"));

    assertThat(index.conflicts((x, y) -> true))
        .extracting(c -> tuple(c.first(), c.firstClaim().text(), c.second(), c.secondClaim().text(), c.example()))
        .containsExactly(
            tuple("core", "core/", "docs", "**/*.md", "core/x.md"),
            tuple("docs", "**/*.md", "api", "api/", "api/x.md"));
  }

  @Test
  void conflicts_skipPairsThatMayNotRunTogether() {
    ClaimIndex<String> index = new ClaimIndex<>();
    index.add("core", Claim.parse("core/"));
    index.add("docs", Claim.parse("**/*.md"));
    index.add("api", Claim.parse("api/"));
    List<String> asked = new ArrayList<>();

    List<ClaimIndex.Conflict<String>> conflicts = index.conflicts((x, y) -> {
      asked.add(x + "+" + y);
      return !x.equals("core");
    });

    assertThat(conflicts).extracting(ClaimIndex.Conflict::first).containsExactly("docs");
    assertThat(asked).containsExactlyInAnyOrder("core+docs", "docs+api");
  }

  @Test
  void conflicts_ignoreOverlapsWithinOneOwner() {
    ClaimIndex<String> index = new ClaimIndex<>();
    index.add("core", Claim.parse("core/"));
    index.add("core", Claim.parse("core/src/**/*.java"));
    index.add("api", Claim.parse("api/"));

    assertThat(index.conflicts((x, y) -> true)).isEmpty();
    assertThat(index.comparedPairs()).isZero();
  }

  @Test
  void conflicts_reportEachPairOfOwnersOnce() {
    ClaimIndex<String> index = new ClaimIndex<>();
    index.add("one", Claim.parse("core/"));
    index.add("one", Claim.parse("docs/"));
    index.add("two", Claim.parse("**/*.md"));
    index.add("two", Claim.parse("core/{a,b}/"));

    assertThat(index.conflicts((x, y) -> true))
        .singleElement()
        .satisfies(c -> {
          assertThat(c.first()).isEqualTo("one");
          assertThat(c.firstClaim().covers(c.example())).isTrue();
          assertThat(c.secondClaim().covers(c.example())).isTrue();
        });
  }

  @Test
  void conflicts_findBraceAlternativesUnderDifferentPrefixes() {
    ClaimIndex<String> index = new ClaimIndex<>();
    index.add("both", Claim.parse("{core,api}/src/"));
    index.add("api", Claim.parse("api/"));
    index.add("core", Claim.parse("core/src/Main.java"));

    assertThat(index.conflicts((x, y) -> true))
        .extracting(c -> c.first() + "+" + c.second() + "@" + c.example())
        .containsExactly("both+api@api/src", "both+core@core/src/Main.java");
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3, 4, 5})
  void conflicts_matchANaiveAllPairsSearch(long seed) {
    Random random = new Random(seed);
    Map<String, List<Claim>> owned = new LinkedHashMap<>();
    ClaimIndex<String> index = new ClaimIndex<>();
    for (int k = 0; k < 200; k++) {
      String owner = "t" + random.nextInt(60);
      Claim claim = Claim.parse(randomClaim(random));
      owned.computeIfAbsent(owner, o -> new ArrayList<>()).add(claim);
      index.add(owner, claim);
    }
    BiPredicate<String, String> mayRunTogether = (x, y) -> (x.hashCode() + y.hashCode()) % 3 != 0;

    List<ClaimIndex.Conflict<String>> conflicts = index.conflicts(mayRunTogether);

    Set<String> found = new TreeSet<>();
    for (ClaimIndex.Conflict<String> c : conflicts) {
      assertThat(owned.get(c.first())).contains(c.firstClaim());
      assertThat(owned.get(c.second())).contains(c.secondClaim());
      assertThat(c.firstClaim().covers(c.example())).as(c.toString()).isTrue();
      assertThat(c.secondClaim().covers(c.example())).as(c.toString()).isTrue();
      found.add(c.first() + "+" + c.second());
    }
    Set<String> expected = naiveConflicts(owned, mayRunTogether);
    assertThat(found).isEqualTo(expected);
    assertThat(conflicts).hasSameSizeAs(expected);
    assertThat(expected).isNotEmpty();
  }

  private static Set<String> naiveConflicts(Map<String, List<Claim>> owned, BiPredicate<String, String> mayRun) {
    List<String> owners = new ArrayList<>(owned.keySet());
    Set<String> pairs = new TreeSet<>();
    for (int x = 0; x < owners.size(); x++) {
      for (int y = x + 1; y < owners.size(); y++) {
        String first = owners.get(x);
        String second = owners.get(y);
        boolean overlap = owned.get(first).stream()
            .anyMatch(a -> owned.get(second).stream().anyMatch(b -> a.overlap(b).isPresent()));
        if (overlap && mayRun.test(first, second)) {
          pairs.add(first + "+" + second);
        }
      }
    }
    return pairs;
  }

  private static String randomClaim(Random random) {
    StringBuilder claim = new StringBuilder(FIRST[random.nextInt(FIRST.length)]);
    int more = random.nextInt(3);
    for (int k = 0; k < more; k++) {
      claim.append('/').append(REST[random.nextInt(REST.length)]);
    }
    return claim.append(random.nextInt(4) == 0 ? "/" : "").toString();
  }

  @Test
  void conflicts_compareFarFewerPairsThanAllPairsOnModuleStyleClaims() {
    ClaimIndex<Integer> index = new ClaimIndex<>();
    int owners = 1_000;
    for (int i = 0; i < owners; i++) {
      index.add(i, Claim.parse("mod" + i + "/"));
      index.add(i, Claim.parse("mod" + i + "/src/**/*.java"));
      index.add(i, Claim.parse("docs/mod" + i + ".md"));
      index.add(i, Claim.parse("mod" + i + "/pom.xml"));
      index.add(i, Claim.parse(i % 200 == 0 ? "**/*.md" : "build/mod" + i + "/"));
    }

    List<ClaimIndex.Conflict<Integer>> conflicts = index.conflicts((x, y) -> true);

    // five owners claim **/*.md, which meets every other owner's docs/modN.md: 5 * 999 pairs, less the 10 counted twice
    assertThat(conflicts).hasSize(5 * 999 - 10);
    long allPairs = 5_000L * 4_999 / 2;
    assertThat(index.comparedPairs()).isLessThan(allPairs / 100);
  }
}
