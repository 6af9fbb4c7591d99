package dev.lanes.coordinator;

import dev.lanes.coordinator.git.TargetBranch;
import dev.lanes.coordinator.git.VerifyTrees;
import dev.lanes.process.ChildProcess;
import dev.lanes.process.Environment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lands finished work on one target branch, one entry at a time, so that the target only ever moves to a commit that
 * merged cleanly and passed the verify command.
 *
 * <p>For each entry the queue computes, without a worktree, the commit the target would become (git's merge-tree onto
 * the commit ahead of it, see {@link TargetBranch#mergeOnto}), runs the verify command on that tree in one of the
 * lead's own worktrees ({@link VerifyTrees}), and on success moves the target there with a compare-and-swap. A
 * conflict or a failing verify <em>evicts</em> the entry: it leaves the queue and its listener hears why, with the
 * context a fix needs.
 *
 * <p>Verification is speculative: the first {@code window} entries are merged in a chain (target+A, target+A+B, …) and
 * verified at once. Entries still land strictly in order. A failure at position k evicts that entry only once
 * everything ahead of it has landed (until then, the failure may be the fault of an entry ahead); whatever was built
 * on top of an evicted or re-built entry is built again without it, and verifies still running for it are stopped.
 * The window starts at one, doubles with each landing up to its limit, and halves with each eviction, so a queue
 * of good work runs wide and a queue of bad work wastes little.
 *
 * <p>Confined to the lead's event loop, like {@link Run}; only the verify commands run elsewhere, and their outcomes
 * come back through the loop.
 */
public final class MergeQueue implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(MergeQueue.class);
  private static final int MAX_CONTEXT = 16 * 1024;

  /** One piece of finished work waiting to land. */
  public record Entry(String task, String commit, String base, String message, Optional<String> verify,
      Duration timeout) {}

  /** Why an entry left the queue without landing, with what a fix task needs to know. */
  public record Eviction(String reason, String context, List<String> paths) {}

  /** What the queue tells its owner; called on the loop. */
  public interface Listener {
    /** The entry's merged tree is being verified (progress only). */
    default void verifying(Entry entry, String merged, int position) {}

    /**
     * The target is about to move to {@code merged}: a lead records the decision before this returns; a caller with
     * no log to keep has nothing to do.
     */
    default void landing(Entry entry, String merged) {}

    void landed(Entry entry, String tip);

    void evicted(Entry entry, Eviction why);
  }

  private final String target;
  private final TargetBranch repo;
  private final VerifyTrees trees;
  private final Executor loop;
  private final ExecutorService verifiers;
  private final Listener listener;
  private final int maxWindow;
  private final Environment env;
  private final List<Spot> queue = new ArrayList<>();
  private int window = 1;

  MergeQueue(String target, TargetBranch repo, VerifyTrees trees, Executor loop, int maxWindow, Environment env,
      Listener listener) {
    if (maxWindow < 1) {
      throw new IllegalArgumentException("--merge-window: " + maxWindow + " must be at least 1");
    }
    this.target = target;
    this.repo = repo;
    this.trees = trees;
    this.loop = loop;
    this.maxWindow = maxWindow;
    this.env = env;
    this.listener = listener;
    this.verifiers = Executors.newFixedThreadPool(maxWindow, r -> {
      Thread t = new Thread(r, "lanes-merge-verify");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * A queue on its own, as the merge benchmark uses it: every decision is made on {@code loop}, which must run one
   * task at a time. Queues on one repository share one {@link VerifyTrees}.
   */
  public static MergeQueue open(TargetBranch repo, VerifyTrees trees, String target, int window, Executor loop,
      Listener listener) {
    return new MergeQueue(target, repo, trees, loop, window, Environment.allowing(List.of()), listener);
  }

  /** Adds finished work at the back of the queue; call on the loop. */
  public void add(Entry entry) {
    queue.add(new Spot(entry));
    pump();
  }

  /** Takes an entry out without landing it (its run was cancelled); what was built on it is built again. */
  void remove(String task) {
    for (int i = 0; i < queue.size(); i++) {
      if (queue.get(i).entry.task().equals(task)) {
        queue.remove(i).reset("withdrawn");
        resetFrom(i, "an entry ahead was withdrawn");
        pump();
        return;
      }
    }
  }

  List<String> tasks() {
    return queue.stream().map(s -> s.entry.task()).toList();
  }

  int window() {
    return window;
  }

  /** Lands what can land, evicts what must go, and starts the verifies the window allows. */
  private void pump() {
    while (step()) {
      // each step changed the queue; look again
    }
  }

  private boolean step() {
    if (queue.isEmpty()) {
      return false;
    }
    String tip = repo.tip(target).orElseThrow(() -> new LeadException("target " + target + " vanished"));
    Spot head = queue.get(0);
    if (head.parent != null && !head.parent.equals(tip)) {
      // The target moved under the queue (another writer): everything is built again on the new tip.
      resetFrom(0, "the target moved");
    }
    if (head.state == State.PASSED) {
      listener.landing(head.entry, head.merged);
      if (!repo.advance(target, tip, head.merged)) {
        resetFrom(0, "the target moved");
        return true;
      }
      queue.remove(0);
      window = Math.min(maxWindow, window * 2);
      listener.landed(head.entry, head.merged);
      return true;
    }
    if (head.state == State.FAILED) {
      queue.remove(0);
      window = Math.max(1, window / 2);
      resetFrom(0, head.entry.task() + " was evicted");
      listener.evicted(head.entry, head.failure);
      return true;
    }
    String parent = tip;
    for (int i = 0; i < Math.min(window, queue.size()); i++) {
      Spot spot = queue.get(i);
      if (spot.parent == null || !spot.parent.equals(parent)) {
        spot.reset("rebuilt");
        try {
          spot.merged = repo.mergeOnto(parent, spot.entry.commit(), spot.entry.message());
          spot.parent = parent;
        } catch (TargetBranch.MergeConflict e) {
          if (i > 0) {
            return false; // may be an entry ahead's doing: decided when this one reaches the head
          }
          spot.parent = parent;
          spot.fail(conflict(spot.entry, e));
          return true;
        }
        verify(spot, i);
        if (spot.state == State.PASSED && i == 0) {
          return true;
        }
      }
      if (spot.state == State.FAILED) {
        return false; // nothing is built on a tree known to fail
      }
      parent = spot.merged;
    }
    return false;
  }

  private Eviction conflict(Entry entry, TargetBranch.MergeConflict e) {
    String context = "Merging your work onto " + target + " conflicted in: " + String.join(", ", e.paths()) + "\n"
        + "The target has moved since your work began; redo the change on top of it.\n\nYour earlier change:\n"
        + repo.diff(entry.base(), entry.commit(), MAX_CONTEXT);
    return new Eviction("merge conflict in " + String.join(", ", e.paths()), context, e.paths());
  }

  private void verify(Spot spot, int position) {
    Optional<String> command = spot.entry.verify();
    if (command.isEmpty()) {
      spot.state = State.PASSED;
      return;
    }
    spot.state = State.VERIFYING;
    int generation = spot.generation;
    ChildProcess.Stop stop = spot.stop;
    String merged = spot.merged;
    listener.verifying(spot.entry, merged, position);
    verifiers.execute(() -> {
      Path tree;
      try {
        tree = trees.take();
      } catch (RuntimeException e) {
        tree = null;
      }
      Outcome outcome = tree == null ? new Outcome(false, "could not make a verify worktree", "")
          : runVerify(tree, command.get(), merged, spot.entry.timeout(), stop);
      loop.execute(() -> {
        if (spot.generation != generation || !queue.contains(spot)) {
          return; // rebuilt or gone meanwhile
        }
        if (outcome.passed) {
          spot.state = State.PASSED;
        } else {
          spot.fail(new Eviction("verify failed on the merged tree: " + outcome.summary, "After merging your work"
              + " onto " + target + ", the verify command failed:\n    " + command.get() + "\n" + outcome.summary
              + "\nIts last output:\n" + outcome.output + "\n\nYour earlier change:\n"
              + repo.diff(spot.entry.base(), spot.entry.commit(), MAX_CONTEXT), List.of()));
        }
        pump();
      });
      // Cleaned after the outcome is out, so that landing does not wait for it; taken again only once clean.
      if (tree != null && !outcome.checkoutFailed) {
        trees.clean(tree);
      }
    });
  }

  private record Outcome(boolean passed, String summary, String output, boolean checkoutFailed) {
    Outcome(boolean passed, String summary, String output) {
      this(passed, summary, output, false);
    }
  }

  private Outcome runVerify(Path tree, String command, String merged, Duration timeout, ChildProcess.Stop stop) {
    try {
      // The output goes to a file and only its tail stays in memory: a verify may print more than the lead's heap.
      ChildProcess.Result r = ChildProcess.runIsolated(VerifyTrees.verify(merged, command), tree, env, timeout,
          Optional.of(trees.log(tree)), line -> {}, stop);
      if (r.exit() == VerifyTrees.CHECKOUT_FAILED && r.output().contains("lanes: could not check out")) {
        trees.discard(tree);
        return new Outcome(false, "could not check out the merged tree", r.output(), true);
      }
      String summary = r.stopped().map(why -> "stopped: " + why)
          .orElse(r.timedOut() ? "timed out after " + timeout.toSeconds() + "s" : "exit " + r.exit());
      return new Outcome(r.ok(), summary, r.output());
    } catch (RuntimeException e) {
      LOG.warn("verify of {} could not run: {}", merged, e.toString());
      return new Outcome(false, "could not run: " + e.getMessage(), "");
    }
  }

  private void resetFrom(int index, String why) {
    for (int i = index; i < queue.size(); i++) {
      queue.get(i).reset(why);
    }
  }

  /** Stops every verify still running; call on the loop. */
  @Override
  public void close() {
    queue.forEach(s -> s.reset("the lead is closing"));
    // Not shutdownNow: a verify thread may be cleaning its worktree, which must finish before anyone takes it again.
    verifiers.shutdown();
  }

  private enum State { NEW, VERIFYING, PASSED, FAILED }

  /** An entry's place in the queue and what has been built for it. */
  private static final class Spot {
    final Entry entry;
    State state = State.NEW;
    /** The commit this entry was merged onto, and the result; null until built. */
    String parent;
    String merged;
    Eviction failure;
    int generation;
    ChildProcess.Stop stop = new ChildProcess.Stop();

    Spot(Entry entry) {
      this.entry = entry;
    }

    void fail(Eviction why) {
      state = State.FAILED;
      failure = why;
    }

    /** Forgets what was built; a verify still running for it is stopped and its outcome ignored. */
    void reset(String why) {
      if (state == State.VERIFYING) {
        stop.stop(why);
      }
      generation++;
      stop = new ChildProcess.Stop();
      state = State.NEW;
      parent = null;
      merged = null;
      failure = null;
    }
  }
}
