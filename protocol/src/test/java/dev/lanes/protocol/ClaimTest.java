package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ClaimTest {

  private static Optional<String> overlap(String a, String b) {
    return Claim.parse(a).overlap(Claim.parse(b));
  }

  /** Checks the witness both ways round, and that both claims really cover it. */
  private static void assertOverlap(String a, String b, String expected) {
    assertThat(overlap(a, b)).contains(expected);
    assertThat(overlap(b, a)).isPresent();
    assertThat(Claim.parse(a).covers(expected)).isTrue();
    assertThat(Claim.parse(b).covers(expected)).isTrue();
  }

  private static void assertDisjoint(String a, String b) {
    assertThat(overlap(a, b)).isEmpty();
    assertThat(overlap(b, a)).isEmpty();
  }

  @Test
  void text_isKeptAsWritten() {
    assertThat(Claim.parse("core/{a,b}/").text()).isEqualTo("core/{a,b}/");
    assertThat(Claim.parse("core/").toString()).isEqualTo("core/");
  }

  @Test
  void equals_comparesTheText() {
    assertThat(Claim.parse("core/")).isEqualTo(Claim.parse("core/")).hasSameHashCodeAs(Claim.parse("core/"));
    assertThat(Claim.parse("core/")).isNotEqualTo(Claim.parse("core"));
  }

  @Test
  void star_neverCrossesSlash() {
    Claim claim = Claim.parse("src/*.java");
    assertThat(claim.covers("src/Main.java")).isTrue();
    assertThat(claim.covers("src/a/Main.java")).isFalse();
    assertDisjoint("src/*.java", "src/a/b.java");
  }

  @Test
  void doubleStar_matchesZeroSegments() {
    Claim claim = Claim.parse("a/**/b");
    assertThat(claim.covers("a/b")).isTrue();
    assertThat(claim.covers("a/x/y/b")).isTrue();
    assertThat(claim.covers("a/x/c")).isFalse();
    assertOverlap("a/**/b", "a/b", "a/b");
  }

  @Test
  void doubleStar_insideASegmentIsAStar() {
    Claim claim = Claim.parse("a**b");
    assertThat(claim.covers("axyb")).isTrue();
    assertThat(claim.covers("ax/yb")).isFalse();
  }

  @Test
  void literalClaim_coversItselfAndEverythingBeneath() {
    for (String text : new String[] {"core", "core/", "core/**"}) {
      Claim claim = Claim.parse(text);
      assertThat(claim.covers("core/src/Main.java")).as(text).isTrue();
      assertThat(claim.covers("core-api/x")).as(text).isFalse();
    }
    assertThat(Claim.parse("docs/README.md").covers("docs/README.md")).isTrue();
  }

  @Test
  void wildcardClaim_coversOnlyMatchingFiles() {
    Claim claim = Claim.parse("**/*.java");
    assertThat(claim.covers("core/Main.java")).isTrue();
    assertThat(claim.covers("core/Main.java/inner")).isFalse();
    assertThat(claim.covers("core/Main.kt")).isFalse();
  }

  @Test
  void covers_isCaseSensitive() {
    assertThat(Claim.parse("Core").covers("core/x")).isFalse();
    assertDisjoint("Core", "core");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "/core", "core//x", "core/./x", "../x", "core/"})
  void covers_invalidPathsAreOwnedByNobody(String path) {
    assertThat(Claim.parse("**").covers(path)).isFalse();
  }

  @Test
  void characterClass_versusLiterals() {
    assertOverlap("[abc].txt", "b.txt", "b.txt");
    assertDisjoint("[abc].txt", "d.txt");
  }

  @Test
  void characterClass_negated() {
    Claim claim = Claim.parse("[!a].txt");
    assertThat(claim.covers("b.txt")).isTrue();
    assertThat(claim.covers("a.txt")).isFalse();
    assertDisjoint("[!a].txt", "a.txt");
    assertDisjoint("[!ab]", "[ab]");
    assertOverlap("[!a]", "[ab]", "b");
  }

  @Test
  void characterClass_ranges() {
    assertThat(Claim.parse("v[0-9]").covers("v7")).isTrue();
    assertThat(Claim.parse("v[0-9]").covers("vx")).isFalse();
    assertOverlap("v[0-4]", "v[3-9]", "v3");
    assertDisjoint("v[0-2]", "v[3-9]");
    assertOverlap("[a-]", "-", "-");
  }

  @Test
  void characterClass_negatedClassNeverMatchesSlash() {
    assertThat(Claim.parse("a[!x]b").covers("a/b")).isFalse();
  }

  @Test
  void questionMark_isExactlyOneCharacter() {
    Claim claim = Claim.parse("?.md");
    assertThat(claim.covers("a.md")).isTrue();
    assertThat(claim.covers("ab.md")).isFalse();
    assertThat(claim.covers(".md")).isFalse();
    assertOverlap("?.md", "a*", "a.md");
    assertDisjoint("??", "???");
  }

  @Test
  void braces_areAlternatives() {
    Claim claim = Claim.parse("api/src/{main,test}/**/User*.java");
    assertThat(claim.covers("api/src/test/x/UserId.java")).isTrue();
    assertThat(claim.covers("api/src/main/UserId.java")).isTrue();
    assertThat(claim.covers("api/src/it/UserId.java")).isFalse();
    assertOverlap("api/src/{main,test}/**/User*.java", "api/src/test/", "api/src/test/User.java");
  }

  @Test
  void braces_mayNestAndContainSlashes() {
    Claim claim = Claim.parse("{core,api/{model,client}}/");
    assertThat(claim.covers("core/x")).isTrue();
    assertThat(claim.covers("api/client/x")).isTrue();
    assertThat(claim.covers("api/server/x")).isFalse();
  }

  @Test
  void braces_emptyAlternativeAndLiteralRule() {
    // each alternative follows the directory rule on its own: "core" owns its subtree, "core*" does not
    Claim claim = Claim.parse("core{,*}");
    assertThat(claim.covers("core/x")).isTrue();
    assertThat(claim.covers("core-api")).isTrue();
    assertThat(claim.covers("core-api/x")).isFalse();
  }

  @Test
  void braces_overlapPicksTheShortestExampleOfAnyPair() {
    assertOverlap("{docs,src}/**/*.md", "{src,docs}/a/", "src/a/x.md");
  }

  @Test
  void commaOutsideBraces_isLiteral() {
    assertThat(Claim.parse("a,b").covers("a,b/x")).isTrue();
  }

  @Test
  void bracesInsideAClass_areMembers() {
    assertThat(Claim.parse("[{,}]").covers("{")).isTrue();
    assertThat(Claim.parse("[{,}]").covers(",")).isTrue();
  }

  @Test
  void directoryClaim_versusDeepGlob() {
    assertOverlap("core", "**/*.java", "core/x.java");
  }

  @Test
  void fileGlob_versusDeepFileGlob() {
    assertOverlap("*.md", "**/*.md", "x.md");
  }

  @Test
  void directChildren_versusDeeperPath() {
    assertDisjoint("src/*", "src/a/b");
    assertOverlap("src/*/", "src/a/b", "src/a/b");
    assertOverlap("src/*", "src/a", "src/a");
  }

  @Test
  void differentExtensions_areDisjoint() {
    assertDisjoint("**/*.java", "**/*.kt");
  }

  @Test
  void siblingWithSharedPrefix_isDisjoint() {
    assertDisjoint("core", "core-api");
    assertDisjoint("core/", "core-api/**");
  }

  @Test
  void equivalentDirectoryForms_overlap() {
    assertOverlap("core", "core/**", "core");
    assertOverlap("core/", "core/src/Main.java", "core/src/Main.java");
  }

  @Test
  void everything_overlapsAnything() {
    assertOverlap("**", "**", "x");
    assertOverlap("*", "**", "x");
  }

  @Test
  void witness_isNeverADotSegment() {
    // ".." is the only name matching both, and no path may contain it
    assertDisjoint(".?", "*.");
    assertDisjoint("?", "[.]");
    assertOverlap("?*", "[.]*", ".x");
  }

  @Test
  void starsAgainstStars_constructAWitnessFromBothSides() {
    assertOverlap("a*", "*b", "ab");
    assertThat(overlap("*x*y*", "*y*x*")).hasValueSatisfying(name -> assertThat(name).hasSize(3));
    assertDisjoint("a*", "b*");
    assertDisjoint("*a", "*b");
  }

  @Test
  void unicodeNames_areMatchedByCharacter() {
    assertThat(Claim.parse("?.md").covers("\uD83D\uDE00.md")).isTrue();
    assertOverlap("[\uD83D\uDE00-\uD83D\uDE4F]", "\uD83D\uDE01", "\uD83D\uDE01");
  }

  @ParameterizedTest(name = "{0} is rejected: {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
      "''          | may not be empty",
      "/           | may not be empty",
      "'  '        | may not be empty",
      "/core       | absolute",
      "{/a,b}      | absolute",
      "../x        | segment \"..\" leaves the repository",
      "a/../x      | segment \"..\" leaves the repository",
      "./x         | segment \".\" is not allowed",
      "a//b        | empty segment",
      "a//         | empty segment",
      "[           | malformed character class",
      "[]          | malformed character class",
      "[!]         | malformed character class",
      "[a          | malformed character class",
      "a[b/c]      | malformed character class",
      "[z-a]       | reversed",
      "{a,         | unbalanced braces",
      "a}          | unbalanced braces",
      "{a,b}}      | unbalanced braces",
      "a\\b        | escapes are not supported",
      "{a,}/       | empty",
      "a/{b,}/c    | empty segment",
  })
  void parse_rejectsInvalidClaims(String text, String rule) {
    assertThatThrownBy(() -> Claim.parse(text))
        .isInstanceOf(ProtocolException.class)
        .hasMessageStartingWith("claim \"" + text + "\": ")
        .hasMessageContaining(rule);
  }

  @Test
  void parse_capsBraceExpansion() {
    String text = "{a,b,c,d}{a,b,c,d}{a,b}{a,b}";
    assertThatThrownBy(() -> Claim.parse(text))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining(text)
        .hasMessageContaining("more than 32 alternatives");
    assertThat(Claim.parse("{a,b,c,d}{a,b,c,d}{a,b}").covers("dcb")).isTrue();
  }
}
