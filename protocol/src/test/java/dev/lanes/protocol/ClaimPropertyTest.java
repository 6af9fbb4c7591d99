package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Checks {@link Claim} against a brute-force reference: a small universe of paths, random claims from a grammar over
 * the same names, and a matcher written independently with regular expressions.
 */
class ClaimPropertyTest {
  private static final String[] NAMES = {"a", "b", "ab", "x", "a.md", "x.java", ".md"};
  private static final String[] ATOMS = {
      "a", "b", "ab", "x", ".md", ".java", "*", "*", "?", "[ab]", "[!a]", "[a-c]", "{a,b}", "{.md,.java}", "{a,x*}",
  };
  private static final int POOL = 300;
  private static final int PAIRS = 5_000;

  private static List<String> universe;
  private static List<String> texts;
  private static List<Claim> claims;
  private static List<BitSet> covered;

  @BeforeAll
  static void buildPoolAndUniverse() {
    universe = new ArrayList<>();
    addPaths("", 4);
    Random random = new Random(20240611L);
    texts = new ArrayList<>();
    claims = new ArrayList<>();
    covered = new ArrayList<>();
    for (int k = 0; k < POOL; k++) {
      String text = randomClaim(random);
      while (overALimit(text)) {
        text = randomClaim(random); // drawn again: what the limits refuse is ClaimLimitsTest's business
      }
      texts.add(text);
      claims.add(Claim.parse(text));
      covered.add(reference(text));
    }
  }

  private static boolean overALimit(String text) {
    try {
      Claim.parse(text);
      return false;
    } catch (ProtocolException e) {
      return e.getMessage().contains("more than");
    }
  }

  private static void addPaths(String prefix, int depth) {
    for (String name : NAMES) {
      String path = prefix + name;
      universe.add(path);
      if (depth > 1) {
        addPaths(path + "/", depth - 1);
      }
    }
  }

  private static String randomClaim(Random random) {
    StringBuilder claim = new StringBuilder(random.nextInt(20) == 0 ? "{a/b,ab}/" : "");
    int segments = 1 + random.nextInt(3);
    for (int s = 0; s < segments; s++) {
      claim.append(s == 0 ? "" : "/").append(random.nextInt(7) == 0 ? "**" : randomSegment(random));
    }
    return claim.append(random.nextInt(5) == 0 ? "/" : "").toString();
  }

  private static String randomSegment(Random random) {
    StringBuilder segment = new StringBuilder();
    int atoms = 1 + random.nextInt(3);
    for (int k = 0; k < atoms; k++) {
      segment.append(ATOMS[random.nextInt(ATOMS.length)]);
    }
    return segment.toString();
  }

  private static BitSet reference(String claim) {
    List<List<Pattern>> alternatives = ReferenceGlob.compile(claim);
    BitSet bits = new BitSet();
    for (int p = 0; p < universe.size(); p++) {
      bits.set(p, ReferenceGlob.covers(alternatives, universe.get(p)));
    }
    return bits;
  }

  @Test
  void covers_agreesWithTheReferenceOnEveryPathOfTheUniverse() {
    for (int c = 0; c < POOL; c++) {
      for (int p = 0; p < universe.size(); p++) {
        assertThat(claims.get(c).covers(universe.get(p)))
            .as("%s covers %s", texts.get(c), universe.get(p))
            .isEqualTo(covered.get(c).get(p));
      }
    }
  }

  @Test
  void overlap_isFoundWheneverTheUniverseHasACommonPath_andAlwaysCoveredByBoth() {
    Random random = new Random(7L);
    int overlapping = 0;
    for (int k = 0; k < PAIRS; k++) {
      int x = random.nextInt(POOL);
      int y = random.nextInt(POOL);
      Optional<String> example = claims.get(x).overlap(claims.get(y));
      String pair = texts.get(x) + " vs " + texts.get(y);
      if (covered.get(x).intersects(covered.get(y))) {
        assertThat(example).as(pair).isPresent();
        overlapping++;
      }
      example.ifPresent(path -> assertCoveredByBoth(path, x, y, pair));
      assertThat(claims.get(y).overlap(claims.get(x)).isPresent()).as(pair).isEqualTo(example.isPresent());
    }
    // the grammar must produce both outcomes often, or the property says little
    assertThat(overlapping).isBetween(PAIRS / 10, PAIRS * 9 / 10);
  }

  private static void assertCoveredByBoth(String path, int x, int y, String pair) {
    for (int c : new int[] {x, y}) {
      assertThat(claims.get(c).covers(path)).as("%s: %s covers %s", pair, texts.get(c), path).isTrue();
      assertThat(ReferenceGlob.covers(ReferenceGlob.compile(texts.get(c)), path))
          .as("%s: reference %s covers %s", pair, texts.get(c), path).isTrue();
    }
  }

  @Test
  void overlap_ofAClaimWithItselfIsAPathItCovers() {
    for (int c = 0; c < POOL; c++) {
      Optional<String> example = claims.get(c).overlap(claims.get(c));
      assertThat(example).as(texts.get(c)).isPresent();
      assertThat(claims.get(c).covers(example.get())).as(texts.get(c)).isTrue();
    }
  }

  /**
   * The reference: braces expanded by textual substitution of the innermost pair, each segment translated to a
   * regular expression, and {@code **} matched by trying every split of the path.
   */
  static final class ReferenceGlob {
    private static final Pattern INNERMOST_BRACES = Pattern.compile("\\{([^{}]*)\\}");
    private static final Pattern ANY_SEGMENTS = Pattern.compile("");

    static List<List<Pattern>> compile(String claim) {
      List<List<Pattern>> alternatives = new ArrayList<>();
      for (String alternative : expand(claim)) {
        alternatives.add(segments(alternative));
      }
      return alternatives;
    }

    private static List<String> expand(String text) {
      Matcher m = INNERMOST_BRACES.matcher(text);
      if (!m.find()) {
        return List.of(text);
      }
      List<String> out = new ArrayList<>();
      for (String choice : m.group(1).split(",", -1)) {
        out.addAll(expand(text.substring(0, m.start()) + choice + text.substring(m.end())));
      }
      return out;
    }

    private static List<Pattern> segments(String alternative) {
      boolean directory = alternative.endsWith("/");
      String body = directory ? alternative.substring(0, alternative.length() - 1) : alternative;
      List<Pattern> out = new ArrayList<>();
      String last = "";
      for (String segment : body.split("/")) {
        out.add(segment.equals("**") ? ANY_SEGMENTS : Pattern.compile(regex(segment)));
        last = segment;
      }
      if (directory || !last.matches(".*[*?\\[].*")) {
        out.add(ANY_SEGMENTS);
      }
      return out;
    }

    private static String regex(String segment) {
      StringBuilder regex = new StringBuilder();
      for (int k = 0; k < segment.length(); k++) {
        char c = segment.charAt(k);
        if (c == '*') {
          regex.append("[^/]*");
        } else if (c == '?') {
          regex.append("[^/]");
        } else if (c == '[') {
          int close = segment.indexOf(']', k + 2);
          String body = segment.substring(k + 1, close);
          regex.append(body.startsWith("!") ? "[^/" + body.substring(1) + "]" : "[" + body + "]");
          k = close;
        } else {
          regex.append(Pattern.quote(String.valueOf(c)));
        }
      }
      return regex.toString();
    }

    static boolean covers(List<List<Pattern>> alternatives, String path) {
      String[] names = path.split("/");
      return alternatives.stream().anyMatch(segments -> match(segments, 0, names, 0));
    }

    private static boolean match(List<Pattern> segments, int i, String[] names, int k) {
      if (i == segments.size()) {
        return k == names.length;
      }
      if (segments.get(i) == ANY_SEGMENTS) {
        for (int t = k; t <= names.length; t++) {
          if (match(segments, i + 1, names, t)) {
            return true;
          }
        }
        return false;
      }
      return k < names.length && segments.get(i).matcher(names[k]).matches() && match(segments, i + 1, names, k + 1);
    }
  }
}
