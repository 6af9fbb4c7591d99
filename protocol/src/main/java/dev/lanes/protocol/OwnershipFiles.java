package dev.lanes.protocol;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

/**
 * The files of a base commit, sorted, so that a claim is tried only on the files under its literal prefix.
 *
 * <p>Every path a pattern covers is its literal prefix {@code p} itself or starts with {@code p/}; in sorted order the
 * latter form one run, from {@code p/} up to (not including) {@code p0}, since {@code '0'} follows {@code '/'}. So a
 * module-scoped claim meets a few hundred of 100,000 files, found by binary search, and only a claim that starts with
 * a wildcard walks them all.
 */
final class OwnershipFiles {
  private final String[] sorted;

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
    for (PathPattern alternative : claim.alternatives()) {
      int[] run = run(alternative);
      if (run[0] >= 0 && claim.covers(sorted[run[0]])) {
        return true;
      }
      for (int i = run[1]; i < run[2]; i++) {
        if (claim.covers(sorted[i])) {
          return true;
        }
      }
    }
    return false;
  }

  /** The files both claims cover, sorted; only the candidates of the narrower claim are tried. */
  List<String> coveredByBoth(Claim a, Claim b) {
    Claim narrow = candidates(a) <= candidates(b) ? a : b;
    BitSet tried = new BitSet(sorted.length);
    for (PathPattern alternative : narrow.alternatives()) {
      int[] run = run(alternative);
      if (run[0] >= 0) {
        tried.set(run[0]);
      }
      tried.set(run[1], run[2]);
    }
    List<String> both = new ArrayList<>();
    for (int i = tried.nextSetBit(0); i >= 0; i = tried.nextSetBit(i + 1)) {
      if (a.covers(sorted[i]) && b.covers(sorted[i])) {
        both.add(sorted[i]);
      }
    }
    return both;
  }

  private long candidates(Claim claim) {
    long count = 0;
    for (PathPattern alternative : claim.alternatives()) {
      int[] run = run(alternative);
      count += (run[0] >= 0 ? 1 : 0) + run[2] - run[1];
    }
    return count;
  }

  /** {index of the file equal to the prefix or -1, start of the files beneath it, end of those}. */
  private int[] run(PathPattern pattern) {
    List<String> prefix = pattern.literalPrefix();
    if (prefix.isEmpty()) {
      return new int[] {-1, 0, sorted.length};
    }
    String p = String.join("/", prefix);
    int exact = Arrays.binarySearch(sorted, p);
    return new int[] {exact >= 0 ? exact : -1, lowerBound(p + "/"), lowerBound(p + "0")};
  }

  private int lowerBound(String key) {
    int at = Arrays.binarySearch(sorted, key);
    return at >= 0 ? at : -at - 1;
  }
}
