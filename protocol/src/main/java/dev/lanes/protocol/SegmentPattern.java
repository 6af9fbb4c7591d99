package dev.lanes.protocol;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * One segment of a claim: the glob between two slashes, or the {@code **} that stands for any number of segments.
 *
 * <p>A segment glob is a sequence of tokens, each either a star (any run of characters) or a set of characters that
 * matches exactly one character; a literal is a one-member set and {@code ?} the full set. That makes the segment a
 * tiny automaton with one state per token, and two segments intersect exactly when the product of their automata
 * reaches the pair of final states. The product also runs a four-state automaton that rejects the names a path may
 * not contain (empty, {@code .}, {@code ..}), so an intersection found here is always a usable file name.
 */
final class SegmentPattern {
  /** The whole-segment {@code **}; its tokens are never used. */
  static final SegmentPattern ANY_SEGMENTS = new SegmentPattern("**", new Token[0], false);
  /** Any one name; stands in for {@code **} when it consumes a segment. */
  static final SegmentPattern ANY_NAME = new SegmentPattern("*", new Token[] {Token.STAR}, false);

  private static final int EMPTY = 0;
  private static final int DOT = 1;
  private static final int DOT_DOT = 2;
  private static final int NAME = 3;
  private static final int UNREACHED = Integer.MAX_VALUE;
  /** In a search, the step consumed no character (skipped a star). */
  private static final int SKIP = -1;
  /** In a search, the step consumed some character other than '.'; which one is chosen when spelling the name. */
  private static final int OTHER = -2;

  private final String text;
  private final Token[] tokens;
  private final boolean literal;
  /** Shortest name this segment matches, once computed; racing threads compute the same immutable value. */
  private volatile Optional<String> ownName;

  private SegmentPattern(String text, Token[] tokens, boolean literal) {
    this.text = text;
    this.tokens = tokens;
    this.literal = literal;
  }

  /** Parses a segment that is non-empty, has no slash and whose brackets are closed (the claim parser checked). */
  static SegmentPattern parse(String segment, String claim) {
    if (segment.equals("**")) {
      return ANY_SEGMENTS;
    }
    int[] cps = segment.codePoints().toArray();
    List<Token> tokens = new ArrayList<>();
    for (int k = 0; k < cps.length; k++) {
      if (cps[k] == '[') {
        int close = closingBracket(cps, k);
        tokens.add(new Token(false, characterClass(cps, k, close, claim)));
        k = close;
      } else {
        addToken(tokens, cps[k]);
      }
    }
    long wildcards = tokens.stream().filter(t -> t.star() || !t.chars().isSingle()).count();
    if (wildcards > Claim.MAX_WILDCARDS) {
      throw Claim.invalid(claim, "segment \"" + segment + "\" has more than " + Claim.MAX_WILDCARDS + " wildcards ("
          + wildcards + ")");
    }
    // literal is a matter of syntax: "[a]" is a wildcard segment even though it matches one name
    boolean literal = segment.chars().noneMatch(c -> c == '*' || c == '?' || c == '[');
    return new SegmentPattern(segment, tokens.toArray(new Token[0]), literal);
  }

  private static void addToken(List<Token> tokens, int cp) {
    if (cp == '*') {
      // a** or a*** are the same as a*: one star state suffices
      if (tokens.isEmpty() || !tokens.get(tokens.size() - 1).star()) {
        tokens.add(Token.STAR);
      }
    } else if (cp == '?') {
      tokens.add(Token.ANY_CHAR);
    } else {
      tokens.add(Token.literal(cp));
    }
  }

  private static int closingBracket(int[] cps, int open) {
    int k = open + 1;
    if (cps[k] == '!' || cps[k] == '^') {
      k++;
    }
    for (k++; cps[k] != ']'; k++) {
      // the claim parser guaranteed a closing bracket after a non-empty body
    }
    return k;
  }

  private static CharSet characterClass(int[] cps, int open, int close, String claim) {
    boolean negated = cps[open + 1] == '!' || cps[open + 1] == '^';
    List<int[]> ranges = new ArrayList<>();
    for (int k = negated ? open + 2 : open + 1; k < close; k++) {
      if (k + 2 < close && cps[k + 1] == '-') {
        if (cps[k] > cps[k + 2]) {
          throw new ProtocolException(String.format("claim \"%s\": range %s in a character class is reversed",
              claim, new String(cps, k, 3)));
        }
        ranges.add(new int[] {cps[k], cps[k + 2]});
        k += 2;
      } else {
        ranges.add(new int[] {cps[k], cps[k]});
      }
    }
    return CharSet.of(ranges, negated);
  }

  String text() {
    return text;
  }

  boolean isAnySegments() {
    return this == ANY_SEGMENTS;
  }

  /** True when the segment has no wildcard, so it matches only its own text. */
  boolean isLiteral() {
    return literal;
  }

  /** Whether this one-segment glob matches a name (a string without slashes). */
  boolean matches(String name) {
    return matches(tokens, name.codePoints().toArray());
  }

  /** Classic glob matching: on a mismatch, let the most recent star absorb one more character and retry. */
  private static boolean matches(Token[] tokens, int[] name) {
    int p = 0;
    int k = 0;
    int starP = -1;
    int starK = 0;
    while (k < name.length) {
      if (p < tokens.length && tokens[p].star()) {
        starP = p++;
        starK = k;
      } else if (p < tokens.length && tokens[p].chars().contains(name[k])) {
        p++;
        k++;
      } else if (starP >= 0) {
        p = starP + 1;
        k = ++starK;
      } else {
        return false;
      }
    }
    while (p < tokens.length && tokens[p].star()) {
      p++;
    }
    return p == tokens.length;
  }

  /** A short file name both segments match, or empty when there is none. Neither may be {@code **}. */
  Optional<String> intersection(SegmentPattern other) {
    if (this == ANY_NAME || other == ANY_NAME) {
      return (this == ANY_NAME ? other : this).ownName();
    }
    if (isLiteral() && other.isLiteral()) {
      return text.equals(other.text) ? Optional.of(text) : Optional.empty();
    }
    if (isLiteral() || other.isLiteral()) {
      SegmentPattern fixed = isLiteral() ? this : other;
      SegmentPattern glob = isLiteral() ? other : this;
      // a literal segment is never empty, "." or "..": the claim parser rejects those
      return glob.matches(fixed.text) ? Optional.of(fixed.text) : Optional.empty();
    }
    return product(tokens, other.tokens).map(name -> readable(name, other));
  }

  /** The shortest name this segment matches; {@code **} meets a segment this way on every overlap check. */
  private Optional<String> ownName() {
    Optional<String> name = ownName;
    if (name == null) {
      name = isLiteral() ? Optional.of(text) : product(tokens, ANY_NAME.tokens).map(n -> readable(n, ANY_NAME));
      ownName = name;
    }
    return name;
  }

  /** A dot at either end usually comes from a star that matched nothing; "x.md" reads better than ".md". */
  private String readable(String name, SegmentPattern other) {
    String prefixed = name.startsWith(".") ? "x" + name : name;
    String padded = prefixed.endsWith(".") ? prefixed + "x" : prefixed;
    return matches(padded) && other.matches(padded) ? padded : name;
  }

  /**
   * Breadth-first search over (position in a, position in b, name-validity state), where moving past a star costs
   * nothing and consuming a character costs one, so the first accepting state reached gives a shortest name.
   */
  private static Optional<String> product(Token[] a, Token[] b) {
    return new Product(a, b).run();
  }

  /** State of one product search; states are numbered ((i * (b.length + 1)) + j) * 4 + validity. */
  private static final class Product {
    private final Token[] a;
    private final Token[] b;
    private final int[] dist;
    private final int[] parent;
    private final int[] via;
    private final IntDeque queue = new IntDeque();

    Product(Token[] a, Token[] b) {
      this.a = a;
      this.b = b;
      int states = (a.length + 1) * (b.length + 1) * 4;
      this.dist = new int[states];
      this.parent = new int[states];
      this.via = new int[states];
      Arrays.fill(dist, UNREACHED);
    }

    Optional<String> run() {
      relax(-1, state(0, 0, EMPTY), 0, SKIP);
      int accept = state(a.length, b.length, NAME);
      while (!queue.isEmpty()) {
        int s = queue.pollFirst();
        if (s == accept) {
          return Optional.of(spell(s));
        }
        expand(s);
      }
      return Optional.empty();
    }

    private void expand(int s) {
      int validity = s % 4;
      int j = (s / 4) % (b.length + 1);
      int i = (s / 4) / (b.length + 1);
      if (i < a.length && a[i].star()) {
        relax(s, state(i + 1, j, validity), dist[s], SKIP);
      }
      if (j < b.length && b[j].star()) {
        relax(s, state(i, j + 1, validity), dist[s], SKIP);
      }
      if (i < a.length && j < b.length) {
        consume(s, i, j, validity);
      }
    }

    /** The name-validity automaton only tells '.' from the rest, so the search need not pick characters yet. */
    private void consume(int s, int i, int j, int validity) {
      int kinds = a[i].chars().commonKinds(b[j].chars());
      int ni = a[i].star() ? i : i + 1;
      int nj = b[j].star() ? j : j + 1;
      if ((kinds & CharSet.HAS_DOT) != 0) {
        relax(s, state(ni, nj, afterDot(validity)), dist[s] + 1, '.');
      }
      if ((kinds & CharSet.HAS_OTHER) != 0) {
        relax(s, state(ni, nj, NAME), dist[s] + 1, OTHER);
      }
    }

    private void relax(int from, int to, int cost, int character) {
      if (cost >= dist[to]) {
        return;
      }
      dist[to] = cost;
      parent[to] = from;
      via[to] = character;
      if (from >= 0 && cost == dist[from]) {
        queue.addFirst(to);
      } else {
        queue.addLast(to);
      }
    }

    private String spell(int s) {
      StringBuilder reversed = new StringBuilder();
      for (int t = s; parent[t] >= 0; t = parent[t]) {
        if (via[t] != SKIP) {
          reversed.appendCodePoint(via[t] == OTHER ? otherThanDot(parent[t]) : via[t]);
        }
      }
      // code points were appended in reverse order; reversing the builder keeps surrogate pairs intact
      return reversed.reverse().toString();
    }

    private int otherThanDot(int from) {
      int j = (from / 4) % (b.length + 1);
      int i = (from / 4) / (b.length + 1);
      return a[i].chars().intersect(b[j].chars()).pickOtherThanDot().orElseThrow();
    }

    private int state(int i, int j, int validity) {
      return ((i * (b.length + 1)) + j) * 4 + validity;
    }
  }

  private static int afterDot(int validity) {
    return validity == EMPTY ? DOT : validity == DOT ? DOT_DOT : NAME;
  }

  @Override
  public String toString() {
    return text;
  }

  /** A star, or a set of characters that matches exactly one character. */
  record Token(boolean star, CharSet chars) {
    static final Token STAR = new Token(true, CharSet.ANY);
    static final Token ANY_CHAR = new Token(false, CharSet.ANY);
    /**
     * The token of each ASCII character, shared by every pattern: a lead holds the claims of every task of a plan,
     * and one token and set per character of each was most of a task's memory.
     */
    private static final Token[] ASCII = new Token[128];

    static {
      for (int c = 0; c < ASCII.length; c++) {
        ASCII[c] = new Token(false, CharSet.of(c));
      }
    }

    /** The token that matches exactly {@code cp}. */
    static Token literal(int cp) {
      return cp < ASCII.length ? ASCII[cp] : new Token(false, CharSet.of(cp));
    }
  }

  /**
   * A set of code points as sorted, disjoint, inclusive ranges. It never contains {@code /}, so negated classes and
   * {@code ?} cannot cross a segment boundary.
   */
  static final class CharSet {
    static final int HAS_DOT = 1;
    static final int HAS_OTHER = 2;
    static final CharSet ANY = new CharSet(new int[] {0, '/' - 1, '/' + 1, Character.MAX_CODE_POINT});
    /** Characters a witness prefers, so that examples read like file names. */
    private static final String PREFERRED =
        "xabcdefghijklmnopqrstuvwyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_-";

    private final int[] bounds;

    private CharSet(int[] bounds) {
      this.bounds = bounds;
    }

    static CharSet of(int cp) {
      return new CharSet(new int[] {cp, cp}).intersect(ANY);
    }

    static CharSet of(List<int[]> ranges, boolean negated) {
      ranges.sort((x, y) -> Integer.compare(x[0], y[0]));
      List<Integer> merged = new ArrayList<>();
      for (int[] r : ranges) {
        int last = merged.size() - 1;
        if (!merged.isEmpty() && r[0] <= merged.get(last) + 1) {
          merged.set(last, Math.max(merged.get(last), r[1]));
        } else {
          merged.add(r[0]);
          merged.add(r[1]);
        }
      }
      CharSet set = new CharSet(merged.stream().mapToInt(Integer::intValue).toArray());
      return (negated ? set.complement() : set).intersect(ANY);
    }

    private CharSet complement() {
      List<Integer> gaps = new ArrayList<>();
      int next = 0;
      for (int k = 0; k < bounds.length; k += 2) {
        if (bounds[k] > next) {
          gaps.add(next);
          gaps.add(bounds[k] - 1);
        }
        next = bounds[k + 1] + 1;
      }
      if (next <= Character.MAX_CODE_POINT) {
        gaps.add(next);
        gaps.add(Character.MAX_CODE_POINT);
      }
      return new CharSet(gaps.stream().mapToInt(Integer::intValue).toArray());
    }

    /** Whether the intersection with {@code other} holds '.', and whether it holds anything else, as bit flags. */
    int commonKinds(CharSet other) {
      int kinds = 0;
      int p = 0;
      int q = 0;
      while (p < bounds.length && q < other.bounds.length && kinds != (HAS_DOT | HAS_OTHER)) {
        int lo = Math.max(bounds[p], other.bounds[q]);
        int hi = Math.min(bounds[p + 1], other.bounds[q + 1]);
        if (lo <= hi) {
          kinds |= (lo <= '.' && '.' <= hi ? HAS_DOT : 0) | (lo != '.' || hi != '.' ? HAS_OTHER : 0);
        }
        if (bounds[p + 1] < other.bounds[q + 1]) {
          p += 2;
        } else {
          q += 2;
        }
      }
      return kinds;
    }

    CharSet intersect(CharSet other) {
      int[] out = new int[bounds.length + other.bounds.length];
      int n = 0;
      int p = 0;
      int q = 0;
      while (p < bounds.length && q < other.bounds.length) {
        int lo = Math.max(bounds[p], other.bounds[q]);
        int hi = Math.min(bounds[p + 1], other.bounds[q + 1]);
        if (lo <= hi) {
          out[n++] = lo;
          out[n++] = hi;
        }
        if (bounds[p + 1] < other.bounds[q + 1]) {
          p += 2;
        } else {
          q += 2;
        }
      }
      return new CharSet(Arrays.copyOf(out, n));
    }

    /** Whether the set is one character: a literal, or a class like {@code [a]}, which costs no more than one. */
    boolean isSingle() {
      return bounds.length == 2 && bounds[0] == bounds[1];
    }

    boolean contains(int cp) {
      for (int k = 0; k < bounds.length && bounds[k] <= cp; k += 2) {
        if (cp <= bounds[k + 1]) {
          return true;
        }
      }
      return false;
    }

    /** A member other than '.', preferring letters and digits; empty when the set is empty or just '.'. */
    OptionalInt pickOtherThanDot() {
      for (int k = 0; k < PREFERRED.length(); k++) {
        if (contains(PREFERRED.charAt(k))) {
          return OptionalInt.of(PREFERRED.charAt(k));
        }
      }
      for (int k = 0; k < bounds.length; k += 2) {
        int first = bounds[k] == '.' ? '.' + 1 : bounds[k];
        if (first <= bounds[k + 1]) {
          return OptionalInt.of(first);
        }
      }
      return OptionalInt.empty();
    }
  }
}
