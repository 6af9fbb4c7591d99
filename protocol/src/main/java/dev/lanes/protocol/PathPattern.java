package dev.lanes.protocol;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * One brace-free alternative of a claim, as a sequence of segment patterns in which {@code **} is a loop.
 *
 * <p>The "covers everything beneath" rule is not a special case anywhere: a claim that ends in a literal segment or a
 * slash simply gets a trailing {@code **} here. Matching a path is then a walk of an automaton whose states are
 * positions in the sequence, and two patterns overlap exactly when the product of their two automata, with segment
 * intersection as the edge test, reaches the pair of end positions.
 */
final class PathPattern {
  private static final int UNREACHED = Integer.MAX_VALUE;

  private final String text;
  private final SegmentPattern[] segments;

  private PathPattern(String text, SegmentPattern[] segments) {
    this.text = text;
    this.segments = segments;
  }

  /** Parses one alternative of {@code claim}: no braces, brackets already checked to be closed and slash-free. */
  static PathPattern parse(String alternative, String claim) {
    boolean directory = alternative.endsWith("/");
    String body = directory ? alternative.substring(0, alternative.length() - 1) : alternative;
    if (body.isEmpty()) {
      throw Claim.invalid(claim, "an alternative is empty");
    }
    if (body.startsWith("/")) {
      throw Claim.invalid(claim, "an alternative is absolute (\"" + alternative + "\"); claims are relative to the"
          + " repository root");
    }
    String[] names = body.split("/", -1);
    if (names.length > Claim.MAX_SEGMENTS) {
      throw Claim.invalid(claim, "an alternative has more than " + Claim.MAX_SEGMENTS + " segments (" + names.length
          + ")");
    }
    List<SegmentPattern> parsed = new ArrayList<>();
    for (String segment : names) {
      checkSegment(segment, claim);
      append(parsed, SegmentPattern.parse(segment, claim));
    }
    if (directory || parsed.get(parsed.size() - 1).isLiteral()) {
      append(parsed, SegmentPattern.ANY_SEGMENTS);
    }
    return new PathPattern(alternative, parsed.toArray(new SegmentPattern[0]));
  }

  private static void checkSegment(String segment, String claim) {
    if (segment.isEmpty()) {
      throw Claim.invalid(claim, "empty segment (two slashes in a row)");
    }
    if (segment.equals(".")) {
      throw Claim.invalid(claim, "segment \".\" is not allowed; name the directory itself");
    }
    if (segment.equals("..")) {
      throw Claim.invalid(claim, "segment \"..\" leaves the repository");
    }
  }

  /** {@code **}/{@code **} means the same as {@code **}; one loop keeps the automaton small. */
  private static void append(List<SegmentPattern> parsed, SegmentPattern segment) {
    boolean repeat = !parsed.isEmpty() && parsed.get(parsed.size() - 1).isAnySegments();
    if (!(repeat && segment.isAnySegments())) {
      parsed.add(segment);
    }
  }

  String text() {
    return text;
  }

  /** The literal segments before the first wildcard; every path this pattern covers starts with them. */
  List<String> literalPrefix() {
    List<String> prefix = new ArrayList<>();
    for (int i = 0; i < segments.length && segments[i].isLiteral(); i++) {
      prefix.add(segments[i].text());
    }
    return prefix;
  }

  /** Whether the pattern matches a path already split into valid segments. */
  boolean covers(String[] names) {
    boolean[] current = closure(new boolean[segments.length + 1], 0);
    for (String name : names) {
      boolean[] next = new boolean[segments.length + 1];
      boolean alive = false;
      for (int i = 0; i < segments.length; i++) {
        if (current[i] && (segments[i].isAnySegments() || segments[i].matches(name))) {
          int to = segments[i].isAnySegments() ? i : i + 1;
          next[to] = true;
          alive = true;
        }
      }
      if (!alive) {
        return false;
      }
      current = closure(next, -1);
    }
    return current[segments.length];
  }

  /** Marks {@code start} (if not negative) and every position reachable from a marked one by skipping a {@code **}. */
  private boolean[] closure(boolean[] states, int start) {
    if (start >= 0) {
      states[start] = true;
    }
    for (int i = 0; i < segments.length; i++) {
      if (states[i] && segments[i].isAnySegments()) {
        states[i + 1] = true;
      }
    }
    return states;
  }

  /** A path with the fewest segments that both patterns cover, or empty when they are disjoint. */
  Optional<String> overlap(PathPattern other) {
    return new Product(segments, other.segments).run();
  }

  @Override
  public String toString() {
    return text;
  }

  /**
   * Breadth-first search over (position in a, position in b, at least one segment consumed). Skipping a {@code **}
   * is free, consuming a segment costs one; each consumed segment carries a name from segment intersection.
   */
  private static final class Product {
    private final SegmentPattern[] a;
    private final SegmentPattern[] b;
    private final int[] dist;
    private final int[] parent;
    private final String[] via;
    /** Segment intersections by position pair: null until computed, "" when there is none (names are never empty). */
    private final String[] names;
    private final IntDeque queue = new IntDeque();

    Product(SegmentPattern[] a, SegmentPattern[] b) {
      this.a = a;
      this.b = b;
      int states = (a.length + 1) * (b.length + 1) * 2;
      this.dist = new int[states];
      this.parent = new int[states];
      this.via = new String[states];
      this.names = new String[(a.length + 1) * (b.length + 1)];
      Arrays.fill(dist, UNREACHED);
    }

    Optional<String> run() {
      relax(-1, state(0, 0, 0), 0, "");
      int accept = state(a.length, b.length, 1);
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
      int consumed = s % 2;
      int j = (s / 2) % (b.length + 1);
      int i = (s / 2) / (b.length + 1);
      if (i < a.length && a[i].isAnySegments()) {
        relax(s, state(i + 1, j, consumed), dist[s], "");
      }
      if (j < b.length && b[j].isAnySegments()) {
        relax(s, state(i, j + 1, consumed), dist[s], "");
      }
      boolean bothLoop = i < a.length && j < b.length && a[i].isAnySegments() && b[j].isAnySegments();
      if (i < a.length && j < b.length && !(bothLoop && consumed == 1)) {
        int ni = a[i].isAnySegments() ? i : i + 1;
        int nj = b[j].isAnySegments() ? j : j + 1;
        name(i, j).ifPresent(name -> relax(s, state(ni, nj, 1), dist[s] + 1, name));
      }
    }

    /** Segment intersection for a pair of positions, computed once; {@code **} consumes any one name. */
    private Optional<String> name(int i, int j) {
      int key = i * (b.length + 1) + j;
      if (names[key] == null) {
        names[key] = oneName(a[i]).intersection(oneName(b[j])).orElse("");
      }
      return names[key].isEmpty() ? Optional.empty() : Optional.of(names[key]);
    }

    private static SegmentPattern oneName(SegmentPattern segment) {
      return segment.isAnySegments() ? SegmentPattern.ANY_NAME : segment;
    }

    private void relax(int from, int to, int cost, String name) {
      if (cost >= dist[to]) {
        return;
      }
      dist[to] = cost;
      parent[to] = from;
      via[to] = name;
      if (from >= 0 && cost == dist[from]) {
        queue.addFirst(to);
      } else {
        queue.addLast(to);
      }
    }

    private String spell(int s) {
      List<String> path = new ArrayList<>();
      for (int t = s; parent[t] >= 0; t = parent[t]) {
        if (!via[t].isEmpty()) {
          path.add(0, via[t]);
        }
      }
      return String.join("/", path);
    }

    private int state(int i, int j, int consumed) {
      return ((i * (b.length + 1)) + j) * 2 + consumed;
    }
  }
}
