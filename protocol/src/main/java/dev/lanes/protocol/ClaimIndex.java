package dev.lanes.protocol;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.BiPredicate;

/**
 * Finds every pair of owners whose claims overlap, without comparing every claim with every other: an exact check
 * costs microseconds, and a plan with thousands of claims has millions of pairs.
 *
 * <p>Every path a claim covers starts with the claim's literal leading segments ({@code mod1/src/**} starts with
 * {@code mod1/src}), so two claims can only overlap when the literal prefix of one is a prefix of the other's. Claims
 * therefore sit in a trie at the node of their literal prefix, and each is compared exactly only with the claims at
 * its own node and at the nodes above it; a claim that starts with a wildcard sits at the root and meets everything.
 * Brace alternatives are placed separately, since each may have a different prefix.
 *
 * <p>Not thread-safe: build it, then search it, on one thread.
 *
 * @param <T> who owns a claim, such as a task id; compared with {@code equals}
 */
public final class ClaimIndex<T> {
  private final Map<T, Integer> ids = new HashMap<>();
  private final List<T> owners = new ArrayList<>();
  private final Node root = new Node();
  private long comparedPairs;

  /** Records that {@code owner} owns {@code claim}; an owner may add any number of claims. */
  public void add(T owner, Claim claim) {
    Objects.requireNonNull(owner, "owner");
    Objects.requireNonNull(claim, "claim");
    int id = ids.computeIfAbsent(owner, o -> {
      owners.add(o);
      return owners.size() - 1;
    });
    for (PathPattern alternative : claim.alternatives()) {
      root.descend(alternative.literalPrefix()).entries.add(new Entry(id, claim, alternative));
    }
  }

  /**
   * Every unordered pair of distinct owners that may run together and own some path in common, once, ordered by when
   * each owner was first added; {@code first} is the owner added earlier and is passed first to the predicate.
   */
  public List<Conflict<T>> conflicts(BiPredicate<? super T, ? super T> mayRunTogether) {
    Objects.requireNonNull(mayRunTogether, "mayRunTogether");
    Search search = new Search(mayRunTogether);
    search.visit(root, new ArrayList<>());
    comparedPairs += search.compared;
    List<Conflict<T>> found = new ArrayList<>(search.found.values());
    found.sort(Comparator.comparing((Conflict<T> c) -> ids.get(c.first())).thenComparing(c -> ids.get(c.second())));
    return found;
  }

  /** How many pairs of claim alternatives all searches so far checked exactly; for benchmarks. */
  public long comparedPairs() {
    return comparedPairs;
  }

  /**
   * Two owners claim a common path; {@code example} is one such path.
   *
   * @param <T> who owns a claim
   */
  public record Conflict<T>(T first, Claim firstClaim, T second, Claim secondClaim, String example) {
    public Conflict {
      Objects.requireNonNull(first, "first");
      Objects.requireNonNull(firstClaim, "firstClaim");
      Objects.requireNonNull(second, "second");
      Objects.requireNonNull(secondClaim, "secondClaim");
      Objects.requireNonNull(example, "example");
    }
  }

  private record Entry(int owner, Claim claim, PathPattern pattern) {}

  private static final class Node {
    final Map<String, Node> children = new LinkedHashMap<>();
    final List<Entry> entries = new ArrayList<>();

    Node descend(List<String> path) {
      Node node = this;
      for (String segment : path) {
        node = node.children.computeIfAbsent(segment, s -> new Node());
      }
      return node;
    }
  }

  /** One depth-first walk of the trie, carrying the entries of the nodes above. */
  private final class Search {
    private final BiPredicate<? super T, ? super T> mayRunTogether;
    private final Map<Long, Boolean> allowed = new HashMap<>();
    private final Map<Long, Conflict<T>> found = new HashMap<>();
    private long compared;

    Search(BiPredicate<? super T, ? super T> mayRunTogether) {
      this.mayRunTogether = mayRunTogether;
    }

    void visit(Node node, List<Entry> above) {
      int mark = above.size();
      for (Entry entry : node.entries) {
        for (Entry earlier : above) {
          compare(earlier, entry);
        }
        above.add(entry);
      }
      for (Node child : node.children.values()) {
        visit(child, above);
      }
      above.subList(mark, above.size()).clear();
    }

    private void compare(Entry x, Entry y) {
      if (x.owner() == y.owner()) {
        return;
      }
      Entry first = x.owner() < y.owner() ? x : y;
      Entry second = first == x ? y : x;
      long pair = ((long) first.owner() << 32) | second.owner();
      if (found.containsKey(pair) || !allowed.computeIfAbsent(pair, p -> mayRun(first, second))) {
        return;
      }
      compared++;
      Optional<String> example = first.pattern().overlap(second.pattern());
      example.ifPresent(path -> found.put(pair, new Conflict<>(owners.get(first.owner()), first.claim(),
          owners.get(second.owner()), second.claim(), path)));
    }

    private boolean mayRun(Entry first, Entry second) {
      return mayRunTogether.test(owners.get(first.owner()), owners.get(second.owner()));
    }
  }
}
