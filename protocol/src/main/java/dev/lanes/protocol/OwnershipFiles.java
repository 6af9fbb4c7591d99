package dev.lanes.protocol;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.IntPredicate;
import java.util.stream.IntStream;

/**
 * The files of a base commit, arranged so that a claim is tried on as few of them as possible.
 *
 * <p>Two necessary conditions narrow the candidates before the exact test. First the literal prefix: every path a
 * pattern covers is its literal prefix {@code p} itself or starts with {@code p/}, and in sorted order the latter form
 * one run, from {@code p/} up to (not including) {@code p0}, since {@code '0'} follows {@code '/'}; so a module-scoped
 * claim meets a few hundred of 100,000 files, found by binary search. Second, for a pattern that starts with a
 * wildcard and so has no prefix, the last segment: unless it is {@code **} or literal (which also covers everything
 * beneath), it must match the file's own name, and a repository has far fewer distinct names than files. So
 * {@code **}{@code /*.kt} tests each distinct name once instead of testing every file.
 */
final class OwnershipFiles {
  /** Runs at most this long are tested file by file; beyond it the name filter pays for itself. */
  private static final int SCAN = 4096;

  private final String[] sorted;
  /** File name (the last segment) to the ascending indexes of the files with that name; built on first use. */
  private Map<String, int[]> byName;
  private final Map<Claim, BitSet> candidates = new HashMap<>();
  private final Map<Claim, Answers> answers = new HashMap<>();

  private OwnershipFiles(String[] sorted) {
    this.sorted = sorted;
  }

  /** Git lists a tree in byte order, which is already sorted for ASCII paths: then this does not sort again. */
  static OwnershipFiles of(List<String> files) {
    String[] paths = files.toArray(new String[0]);
    for (int i = 1; i < paths.length; i++) {
      if (paths[i - 1].compareTo(paths[i]) > 0) {
        Arrays.sort(paths);
        break;
      }
    }
    return new OwnershipFiles(paths);
  }

  /** Whether the claim covers at least one of the files. */
  boolean coversAny(Claim claim) {
    return claim.alternatives().stream().anyMatch(a -> anyCandidate(a, i -> claim.covers(sorted[i])));
  }

  /**
   * The files both claims cover, sorted. Only the candidates of the claim with fewer are tried, and each claim's
   * candidates and answers are kept: one claim such as {@code **}{@code /*.md} may be in many conflicts.
   */
  List<String> coveredByBoth(Claim a, Claim b) {
    BitSet candidates = candidates(a);
    BitSet other = candidates(b);
    if (other.cardinality() < candidates.cardinality()) {
      candidates = other;
    }
    List<String> both = new ArrayList<>();
    for (int i = candidates.nextSetBit(0); i >= 0; i = candidates.nextSetBit(i + 1)) {
      if (covers(a, i) && covers(b, i)) {
        both.add(sorted[i]);
      }
    }
    return both;
  }

  private boolean covers(Claim claim, int file) {
    Answers tried = answers.computeIfAbsent(claim, c -> new Answers(new BitSet(), new BitSet()));
    if (!tried.known.get(file)) {
      tried.known.set(file);
      tried.yes.set(file, claim.covers(sorted[file]));
    }
    return tried.yes.get(file);
  }

  /** Indexes of the files that pass both necessary conditions for some alternative of the claim. */
  private BitSet candidates(Claim claim) {
    return candidates.computeIfAbsent(claim, this::findCandidates);
  }

  private BitSet findCandidates(Claim claim) {
    BitSet candidates = new BitSet();
    for (PathPattern alternative : claim.alternatives()) {
      anyCandidate(alternative, i -> {
        candidates.set(i);
        return false;
      });
    }
    return candidates;
  }

  /**
   * Whether {@code test} holds for some file that passes both necessary conditions for the pattern; stops at the
   * first. Files are visited in ascending order only where no name filter applies.
   */
  private boolean anyCandidate(PathPattern pattern, IntPredicate test) {
    Run run = run(pattern);
    if (run.exact >= 0 && test.test(run.exact)) {
      return true;
    }
    Optional<Claim> name = run.size() > SCAN ? lastName(pattern) : Optional.empty();
    if (name.isEmpty()) {
      return IntStream.range(run.from, run.to).anyMatch(test);
    }
    for (Map.Entry<String, int[]> files : byName().entrySet()) {
      if (name.get().covers(files.getKey())) {
        for (int i : files.getValue()) {
          if (run.contains(i) && test.test(i)) {
            return true;
          }
        }
      }
    }
    return false;
  }

  /** The pattern's last segment as a one-segment claim, when every path it covers must end in a name it matches. */
  private static Optional<Claim> lastName(PathPattern pattern) {
    String text = pattern.text();
    String last = text.substring(text.lastIndexOf('/') + 1);
    boolean wildcard = last.chars().anyMatch(c -> c == '*' || c == '?' || c == '[');
    if (text.endsWith("/") || last.equals("**") || !wildcard) {
      return Optional.empty();
    }
    return Optional.of(Claim.parse(last));
  }

  /** Groups the files by name: one hash lookup a file, then counting sort by name, so indexes stay ascending. */
  private Map<String, int[]> byName() {
    if (byName == null) {
      Map<String, Integer> ids = new HashMap<>();
      List<String> names = new ArrayList<>();
      int[] nameOf = new int[sorted.length];
      for (int i = 0; i < sorted.length; i++) {
        String name = sorted[i].substring(sorted[i].lastIndexOf('/') + 1);
        Integer id = ids.putIfAbsent(name, names.size());
        if (id == null) {
          id = names.size();
          names.add(name);
        }
        nameOf[i] = id;
      }
      int[] start = new int[names.size() + 1];
      for (int id : nameOf) {
        start[id + 1]++;
      }
      for (int k = 0; k < names.size(); k++) {
        start[k + 1] += start[k];
      }
      int[] order = new int[sorted.length];
      int[] next = Arrays.copyOf(start, names.size());
      for (int i = 0; i < sorted.length; i++) {
        order[next[nameOf[i]]++] = i;
      }
      Map<String, int[]> grouped = new HashMap<>();
      for (int k = 0; k < names.size(); k++) {
        grouped.put(names.get(k), Arrays.copyOfRange(order, start[k], start[k + 1]));
      }
      byName = grouped;
    }
    return byName;
  }

  private Run run(PathPattern pattern) {
    List<String> prefix = pattern.literalPrefix();
    if (prefix.isEmpty()) {
      return new Run(-1, 0, sorted.length);
    }
    String p = String.join("/", prefix);
    int exact = Arrays.binarySearch(sorted, p);
    return new Run(exact >= 0 ? exact : -1, lowerBound(p + "/"), lowerBound(p + "0"));
  }

  private int lowerBound(String key) {
    int at = Arrays.binarySearch(sorted, key);
    return at >= 0 ? at : -at - 1;
  }

  /** Which files a claim has been tried on, and which of those it covers. */
  private record Answers(BitSet known, BitSet yes) {}

  /** The file equal to a literal prefix ({@code -1} if none), and the run of files beneath it. */
  private record Run(int exact, int from, int to) {
    int size() {
      return to - from;
    }

    boolean contains(int i) {
      return i >= from && i < to;
    }
  }
}
