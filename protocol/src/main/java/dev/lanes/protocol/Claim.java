package dev.lanes.protocol;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The part of a repository a task owns, written as a glob relative to the repository root. Tasks that may run at the
 * same time must own disjoint parts, otherwise their branches may collide when they merge; this type answers that
 * question exactly and names a path that proves a collision.
 *
 * <p>Segments are split on {@code /}. In a segment, {@code *} is any run of characters, {@code ?} one character,
 * {@code [abc]}, {@code [a-z]} and {@code [!a]} are character classes; {@code **} as a whole segment is any number of
 * segments, zero included. {@code {x,y}} gives alternatives and is expanded first, before the claim is split into
 * segments, so an alternative may contain slashes. A claim whose last segment has no wildcard ({@code core},
 * {@code docs/README.md}) or which ends in {@code /} also covers everything beneath it. Matching is case-sensitive.
 *
 * <p>Two claims are equal when they are written the same way.
 */
public final class Claim {
  /*
   * Limits, so that one overlap check stays a few milliseconds whatever a plan, a delta or an agent's finding says:
   * intersecting two claims is quadratic in what their wildcard segments hold (8 KB claims took 16 s), and every pair
   * of alternatives is intersected. ClaimLimitsTest measures the worst pairs these allow.
   */
  /** Characters of a claim as written. */
  static final int MAX_LENGTH = 256;
  /** Alternatives once braces are expanded: {@code {a,b}{c,d}} is four. */
  static final int MAX_ALTERNATIVES = 32;
  /** Braces inside braces inside braces. */
  static final int MAX_NESTING = 2;
  /** Characters of all the alternatives together, once braces are expanded. */
  static final int MAX_EXPANDED = 256;
  /** Segments of one alternative. */
  static final int MAX_SEGMENTS = 32;
  /** Wildcards ({@code *}, {@code ?}, character classes) in one segment; a run of stars counts once. */
  static final int MAX_WILDCARDS = 8;
  /** Characters between the brackets of one character class. */
  static final int MAX_CLASS = 32;

  /** Fewest segments first, then fewest characters, then alphabetical, so that the example is stable. */
  private static final Comparator<String> SHORTEST = Comparator.comparingInt(Claim::segmentCount)
      .thenComparingInt(String::length).thenComparing(Comparator.naturalOrder());

  private final String text;
  private final List<PathPattern> alternatives;

  private Claim(String text, List<PathPattern> alternatives) {
    this.text = text;
    this.alternatives = alternatives;
  }

  /** Parses and validates a claim; the exception message names the claim and the rule it breaks. */
  @com.fasterxml.jackson.annotation.JsonCreator
  public static Claim parse(String text) {
    Objects.requireNonNull(text, "text");
    if (text.isBlank() || text.chars().allMatch(c -> c == '/')) {
      throw invalid(text, "a claim may not be empty");
    }
    if (text.indexOf('\\') >= 0) {
      throw invalid(text, "backslash escapes are not supported");
    }
    if (text.startsWith("/")) {
      throw invalid(text, "absolute claims are not allowed; a claim is relative to the repository root");
    }
    if (text.length() > MAX_LENGTH) {
      throw invalid(text, "longer than " + MAX_LENGTH + " characters (" + text.length() + ")");
    }
    List<String> expanded = new BraceExpansion(text).expand();
    int characters = expanded.stream().mapToInt(String::length).sum();
    if (characters > MAX_EXPANDED) {
      throw invalid(text, "its alternatives hold more than " + MAX_EXPANDED + " characters together (" + characters
          + ")");
    }
    Map<String, PathPattern> parsed = new LinkedHashMap<>();
    for (String alternative : expanded) {
      parsed.computeIfAbsent(alternative, a -> PathPattern.parse(a, text));
    }
    return new Claim(text, List.copyOf(parsed.values()));
  }

  static ProtocolException invalid(String claim, String rule) {
    // An over-long claim is not echoed whole: the refusal is published, and must not be the next thing too big to send.
    String shown = claim.length() <= MAX_LENGTH ? claim : claim.substring(0, 64) + "…";
    return new ProtocolException("claim \"" + shown + "\": " + rule);
  }

  /** The claim as written. */
  @com.fasterxml.jackson.annotation.JsonValue
  public String text() {
    return text;
  }

  /** Whether this claim owns a file path such as {@code core/src/Main.java}; false for paths that are not valid. */
  public boolean covers(String path) {
    Optional<String[]> names = segments(path);
    return names.isPresent() && alternatives.stream().anyMatch(p -> p.covers(names.get()));
  }

  /**
   * How many leading segments of the path the claim names literally: the longest literal prefix among the alternatives
   * that cover it, 0 when none covers it. {@link OwnershipRules} lets a claim change a protected path only when this
   * reaches past the protected segment.
   */
  int literalDepth(String[] names) {
    int depth = 0;
    for (PathPattern p : alternatives) {
      if (p.covers(names)) {
        depth = Math.max(depth, p.literalPrefix().size());
      }
    }
    return depth;
  }

  static Optional<String[]> segments(String path) {
    String[] names = path.split("/", -1);
    for (String name : names) {
      if (name.isEmpty() || name.equals(".") || name.equals("..")) {
        return Optional.empty();
      }
    }
    return Optional.of(names);
  }

  /**
   * A path both claims cover, or empty when no path is covered by both. The answer is exact; the example is among the
   * shortest of the paths with the fewest segments that some pair of alternatives yields.
   */
  public Optional<String> overlap(Claim other) {
    if (alternatives.size() == 1 && other.alternatives.size() == 1) {
      return alternatives.get(0).overlap(other.alternatives.get(0));
    }
    return alternatives.stream()
        .flatMap(a -> other.alternatives.stream().map(a::overlap))
        .flatMap(Optional::stream)
        .min(SHORTEST);
  }

  private static int segmentCount(String path) {
    return (int) path.chars().filter(c -> c == '/').count();
  }

  /** The brace-free alternatives, for the index. */
  List<PathPattern> alternatives() {
    return alternatives;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Claim && ((Claim) o).text.equals(text);
  }

  @Override
  public int hashCode() {
    return text.hashCode();
  }

  @Override
  public String toString() {
    return text;
  }

  /**
   * Expands braces by recursive descent. Brackets bind tighter than braces: inside {@code [...]} the characters
   * {@code {}} and {@code ,} are class members. Outside braces a comma is an ordinary character.
   */
  private static final class BraceExpansion {
    private final String claim;
    private int pos;
    private int depth;

    BraceExpansion(String claim) {
      this.claim = claim;
    }

    List<String> expand() {
      return sequence(false);
    }

    /** Parses up to the end, or, inside braces, up to the next ',' or '}' at this nesting level. */
    private List<String> sequence(boolean nested) {
      List<String> result = List.of("");
      while (pos < claim.length()) {
        char c = claim.charAt(pos);
        if (nested && (c == ',' || c == '}')) {
          break;
        }
        if (c == '}') {
          throw invalid(claim, "unbalanced braces: '}' at offset " + pos + " has no matching '{'");
        }
        result = concatenate(result, c == '{' ? alternatives() : List.of(c == '[' ? bracket() : next()));
      }
      return result;
    }

    private List<String> alternatives() {
      int open = pos++;
      if (++depth > MAX_NESTING) {
        throw invalid(claim, "braces nest more than " + MAX_NESTING + " deep at offset " + open);
      }
      List<String> all = new ArrayList<>();
      while (true) {
        all.addAll(sequence(true));
        checkCount(all.size());
        if (pos >= claim.length()) {
          throw invalid(claim, "unbalanced braces: '{' at offset " + open + " is never closed");
        }
        if (claim.charAt(pos++) == '}') {
          depth--;
          return all;
        }
      }
    }

    private String bracket() {
      int open = pos;
      int body = open + 1;
      if (body < claim.length() && (claim.charAt(body) == '!' || claim.charAt(body) == '^')) {
        body++;
      }
      if (body < claim.length() && claim.charAt(body) == ']') {
        throw invalid(claim, "malformed character class at offset " + open + ": it is empty");
      }
      int close = claim.indexOf(']', body);
      if (close < 0) {
        throw invalid(claim, "malformed character class: '[' at offset " + open + " is never closed");
      }
      String span = claim.substring(open, close + 1);
      if (span.indexOf('/') >= 0) {
        throw invalid(claim, "malformed character class " + span + ": it may not contain '/'");
      }
      if (span.length() - 2 > MAX_CLASS) {
        throw invalid(claim, "character class at offset " + open + " holds more than " + MAX_CLASS + " characters ("
            + (span.length() - 2) + ")");
      }
      pos = close + 1;
      return span;
    }

    private String next() {
      return String.valueOf(claim.charAt(pos++));
    }

    private List<String> concatenate(List<String> heads, List<String> tails) {
      checkCount((long) heads.size() * tails.size());
      List<String> out = new ArrayList<>(heads.size() * tails.size());
      for (String head : heads) {
        for (String tail : tails) {
          out.add(head + tail);
        }
      }
      return out;
    }

    private void checkCount(long count) {
      if (count > MAX_ALTERNATIVES) {
        throw invalid(claim, "braces expand to more than " + MAX_ALTERNATIVES + " alternatives");
      }
    }
  }
}
