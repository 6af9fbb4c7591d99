package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The limits on claims, and what they buy: the worst pairs of claims within them, intersected on one thread, each
 * well under the 50 ms the lead's loop can spare. The pairs are built to defeat the search: long literal runs behind a
 * star (the quadratic case), as many stars and classes as a segment may hold, chains of {@code **}, and as many
 * alternatives as braces may give, each pair differing only in its last character so that nothing overlaps and the
 * whole product is explored.
 */
class ClaimLimitsTest {
  private static final double BOUND_MS = 50;

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "length      | longer than 256 characters (257)",
      "nesting     | braces nest more than 2 deep at offset 6",
      "count       | braces expand to more than 32 alternatives",
      "expanded    | its alternatives hold more than 256 characters together (258)",
      "segments    | an alternative has more than 32 segments (33)",
      "wildcards   | has more than 8 wildcards (9)",
      "class       | holds more than 32 characters (33)",
  })
  void parse_refusesWhatIsOverALimit(String limit, String rule) {
    String claim = overLimit(limit);
    assertThatThrownBy(() -> Claim.parse(claim))
        .isInstanceOf(ProtocolException.class)
        .hasMessageStartingWith("claim \"" + claim.substring(0, Math.min(claim.length(), 64)))
        .hasMessageContaining(rule);
    Claim.parse(atLimit(limit));
  }

  /** For each limit, a claim one step over it and the same claim at it. */
  private static final Map<String, String[]> OVER_AND_AT = Map.of(
      "length", new String[] {"a".repeat(257), "a".repeat(256)},
      "nesting", new String[] {"{a,{b,{c,d}}}", "{a,{b,c}}"},
      "count", new String[] {"{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}", "{a,b}{a,b}{a,b}{a,b}{a,b}"},
      "expanded", new String[] {"{a,b}" + "c".repeat(128), "{a,b}" + "c".repeat(127)},
      "segments", new String[] {String.join("/", nCopies(33, "s")), String.join("/", nCopies(32, "s"))},
      "wildcards", new String[] {"a*b?c*d?e*f?g*h?[ij]", "a*b?c*d?e*f?g*h?"},
      "class", new String[] {"x[" + "a".repeat(33) + "]", "x[" + "a".repeat(32) + "]"});

  private static String overLimit(String limit) {
    return OVER_AND_AT.get(limit)[0];
  }

  private static String atLimit(String limit) {
    return OVER_AND_AT.get(limit)[1];
  }

  @Test
  void parse_countsARunOfStarsAsOneWildcardAndAOneCharacterClassAsNone() {
    assertThat(Claim.parse("a***b***c***d***e***f***g***h***[x]").covers("a1b2c3d4e5f6g7h8x")).isTrue();
  }

  @Test
  void parse_quotesAnOverLongClaimOnlyInPart() {
    String claim = "a".repeat(8192);
    assertThatThrownBy(() -> Claim.parse(claim)).hasMessageStartingWith("claim \"" + "a".repeat(64) + "…\": ")
        .hasMessageContaining("longer than 256 characters (8192)")
        .satisfies(e -> assertThat(e.getMessage()).hasSizeLessThan(200));
  }

  @Test
  void overlap_ofTheWorstPairsWithinTheLimitsIsWellUnderFiftyMilliseconds() {
    Map<String, String[]> pairs = new LinkedHashMap<>();
    // a star before a long run of one letter: every position of one run meets every position of the other
    pairs.put("literal runs", pair("{?,*}*" + "a".repeat(120), 2));
    // eight wildcards in every segment, as many segments as the length allows, behind a **
    pairs.put("stars", pair("**/" + String.join("/", nCopies(13, "*a*a*a*a*a*a*a*a")) + "/*a*a*a*a*a*a*aaa", 1));
    // ** between every segment: the path product is as wide as it can be
    pairs.put("** chains", pair(String.join("/", nCopies(16, "**/*aaaaaaaaaaa")), 1));
    // classes as wide as allowed, and negated ones, eight to a segment
    pairs.put("classes", pair("**/" + String.join("/", nCopies(4,
        "*[!z][a-y]*[abcdefghijklmnopqrstuvwxyz012345][!.]*[a-y]")) + "/[a-y]*aaa", 1));
    // thirty-two alternatives that all meet the other's: every pair of them is searched
    pairs.put("alternatives", pair("{?,*}{?,*}{?,*}{?,*}{?,*}*a", 32));
    // nested braces that expand to long alternatives with literal runs behind stars
    pairs.put("nested braces", pair("{*,?{*,?}}" + "a".repeat(38) + "*" + "a".repeat(38), 3));

    double worst = 0;
    StringBuilder figures = new StringBuilder();
    for (Map.Entry<String, String[]> e : pairs.entrySet()) {
      Claim a = Claim.parse(e.getValue()[0]);
      Claim b = Claim.parse(e.getValue()[1]);
      assertThat(a.overlap(b)).as(e.getKey()).isEmpty();
      double median = medianMillis(a, b);
      worst = Math.max(worst, median);
      figures.append(String.format(" %s=%.2fms", e.getKey().replace(' ', '_').replace("*", "star"), median));
    }
    System.out.printf("claim overlap, worst pairs within the limits, CPU ms per check:%s worst_ms=%.2f%n", figures,
        worst);
    assertThat(worst).isLessThan(BOUND_MS);
  }

  /**
   * Two claims of the given shape that differ only in their last character, so that they are disjoint; the shape must
   * parse to the given number of alternatives, which proves it is within the limits.
   */
  private static String[] pair(String shape, int alternatives) {
    String a = shape + "b";
    String b = shape + "c";
    assertThat(Claim.parse(a).alternatives()).as(a).hasSize(alternatives);
    return new String[] {a, b};
  }

  /**
   * Median CPU time of one check, over many runs after a warm-up. CPU time of this thread rather than wall time: the
   * lead's loop is slowed by other work on the machine too, but what a claim can cost is the CPU it takes, and a test
   * run shares two cores with builds that would otherwise decide the figure.
   */
  private static double medianMillis(Claim a, Claim b) {
    for (int i = 0; i < 20; i++) {
      a.overlap(b);
    }
    ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
    double[] runs = new double[41];
    for (int i = 0; i < runs.length; i++) {
      long start = cpu.getCurrentThreadCpuTime();
      a.overlap(b);
      b.overlap(a);
      runs[i] = (cpu.getCurrentThreadCpuTime() - start) / 2e6;
    }
    Arrays.sort(runs);
    return runs[runs.length / 2];
  }

  private static java.util.List<String> nCopies(int n, String s) {
    return java.util.Collections.nCopies(n, s);
  }
}
