package dev.lanes.protocol;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The dependencies of a plan's tasks ({@code after}) as a graph: which tasks wait for which, in what order they can
 * run, whether the dependencies form a cycle, and whether two tasks may run at the same time. The one place these are
 * computed, for the plan parser, the ownership check and the lead alike.
 *
 * <p>Tasks are numbered in plan order; a dependency that names no task of the graph is kept aside as
 * {@link #dangling} rather than refused, so that a parser can report it with its position. The topological order is
 * found once, by Kahn's algorithm, without recursion (a plan may be a chain of thousands of tasks). Reachability is a
 * transitive closure with one bit set per task, computed when it is first asked for, so that asking whether two tasks
 * are ordered is two bit tests; it costs n² bits in the worst case (a chain), 12 MB for 10,000 tasks.
 */
public final class TaskGraph {
  private final List<String> ids;
  private final Map<String, Integer> index;
  /** {@code deps[i]}: the tasks task i waits for directly, each once. */
  private final int[][] deps;
  /** {@code dependents[i]}: the tasks that wait for task i directly. */
  private final int[][] dependents;
  private final List<Dangling> dangling;
  /** Task indices in an order where each comes after its dependencies; tasks on or behind a cycle are left out. */
  private final int[] order;
  private BitSet[] reach;

  private TaskGraph(List<String> ids, Map<String, Integer> index, int[][] deps, List<Dangling> dangling) {
    this.ids = ids;
    this.index = index;
    this.deps = deps;
    this.dangling = dangling;
    this.dependents = invert(deps);
    this.order = kahn(deps, dependents);
  }

  /**
   * The graph of these tasks, in their order.
   *
   * @throws ProtocolException when two tasks have the same id
   */
  public static TaskGraph of(List<Plan.Task> tasks) {
    Map<String, Integer> index = new LinkedHashMap<>();
    for (int i = 0; i < tasks.size(); i++) {
      Integer first = index.putIfAbsent(tasks.get(i).id(), i);
      if (first != null) {
        throw new ProtocolException("tasks[" + i + "].id: \"" + tasks.get(i).id() + "\" is already the id of tasks["
            + first + "]; ids are unique");
      }
    }
    int[][] deps = new int[tasks.size()][];
    List<Dangling> dangling = new ArrayList<>();
    for (int i = 0; i < tasks.size(); i++) {
      List<String> after = tasks.get(i).after();
      BitSet seen = new BitSet();
      int[] mine = new int[after.size()];
      int n = 0;
      for (int j = 0; j < after.size(); j++) {
        Integer d = index.get(after.get(j));
        if (d == null) {
          dangling.add(new Dangling(i, j, after.get(j)));
        } else if (!seen.get(d)) { // a repeated dependency counts once
          seen.set(d);
          mine[n++] = d;
        }
      }
      deps[i] = java.util.Arrays.copyOf(mine, n);
    }
    return new TaskGraph(List.copyOf(index.keySet()), index, deps, List.copyOf(dangling));
  }

  /** The graph of a plan's tasks. */
  public static TaskGraph of(Plan plan) {
    return of(Objects.requireNonNull(plan, "plan").tasks());
  }

  /**
   * A dependency that names no task of the graph.
   *
   * @param task the position of the task that names it
   * @param position its position in the task's {@code after} list
   * @param id the id it names
   */
  public record Dangling(int task, int position, String id) {}

  public int size() {
    return ids.size();
  }

  /** The task ids in plan order. */
  public List<String> ids() {
    return ids;
  }

  /** Dependencies that name no task, in plan order; they take no part in the graph. */
  public List<Dangling> dangling() {
    return dangling;
  }

  /** Whether every task can run some day: no cycle, and no task waits for one. */
  public boolean isAcyclic() {
    return order.length == ids.size();
  }

  /**
   * The first dependency cycle, looking from the tasks in plan order, as a closed path along {@code after}
   * ({@code a -> b -> a}: a waits for b, which waits for a); empty when there is none.
   */
  public Optional<List<String>> cycle() {
    if (isAcyclic()) {
      return Optional.empty();
    }
    BitSet blocked = blockedSet();
    // Every blocked task waits for another blocked task, so following such dependencies must come back to one seen.
    int start = blocked.nextSetBit(0);
    Map<Integer, Integer> step = new HashMap<>();
    List<Integer> path = new ArrayList<>();
    int at = start;
    while (!step.containsKey(at)) {
      step.put(at, path.size());
      path.add(at);
      at = firstBlocked(deps[at], blocked);
    }
    List<String> cycle = new ArrayList<>();
    path.subList(step.get(at), path.size()).forEach(i -> cycle.add(ids.get(i)));
    cycle.add(ids.get(at));
    return Optional.of(cycle);
  }

  /** Tasks that can never start: on a cycle, or waiting for a task that is; in plan order. */
  public List<String> blocked() {
    BitSet blocked = blockedSet();
    List<String> out = new ArrayList<>();
    blocked.stream().forEach(i -> out.add(ids.get(i)));
    return out;
  }

  /** The tasks in an order in which each comes after every task it waits for; blocked tasks are left out. */
  public List<String> order() {
    List<String> out = new ArrayList<>(order.length);
    for (int i : order) {
      out.add(ids.get(i));
    }
    return out;
  }

  /**
   * The tasks that wait directly for {@code task}, in plan order.
   *
   * @throws IllegalArgumentException when it is not a task of the graph
   */
  public List<String> dependents(String task) {
    List<String> out = new ArrayList<>();
    for (int d : dependents[known(task)]) {
      out.add(ids.get(d));
    }
    return out;
  }

  /**
   * Whether neither task waits for the other, directly or through other tasks: then they may run at the same time.
   *
   * @throws IllegalArgumentException when either is not a task of the graph
   * @throws ProtocolException when the dependencies form a cycle
   */
  public boolean mayRunTogether(String task, String other) {
    return !ordered(known(task), known(other));
  }

  /** The position of a task in plan order, or -1. */
  int index(String task) {
    return index.getOrDefault(task, -1);
  }

  /** Whether one of the two tasks waits for the other, by position. */
  boolean ordered(int x, int y) {
    BitSet[] r = reach();
    return r[x].get(y) || r[y].get(x);
  }

  /**
   * Records that task {@code later} now waits for {@code earlier} too, for the reachability questions only (the
   * order and the dependents stay those of the plan). The caller makes sure that no cycle follows: it adds an edge
   * only between tasks that are not ordered either way.
   */
  void addEdge(int later, int earlier) {
    BitSet[] r = reach();
    BitSet gained = (BitSet) r[earlier].clone();
    gained.set(earlier);
    for (int w = 0; w < r.length; w++) {
      if (w == later || r[w].get(later)) {
        r[w].or(gained);
      }
    }
  }

  /**
   * Makes sure every task can run some day, the way the ownership check needs it.
   *
   * @throws ProtocolException naming the first dependency that names no task, or the tasks a cycle blocks
   */
  void requireRunnable() {
    if (!dangling.isEmpty()) {
      Dangling d = dangling.get(0);
      throw new ProtocolException("tasks[" + d.task() + "].after[" + d.position() + "]: \"" + d.id()
          + "\" is not the id of any task in the plan");
    }
    reach();
  }

  private int known(String task) {
    int i = index(task);
    if (i < 0) {
      throw new IllegalArgumentException("task \"" + task + "\" is not in the plan");
    }
    return i;
  }

  /** {@code reach[i]}: every task that task i waits for, directly or not; built in topological order. */
  private BitSet[] reach() {
    if (reach == null) {
      if (!isAcyclic()) {
        throw new ProtocolException("tasks: dependency cycle; these tasks wait for it and can never start: "
            + String.join(", ", blocked()));
      }
      BitSet[] r = new BitSet[ids.size()];
      for (int u : order) {
        r[u] = new BitSet();
        for (int d : deps[u]) {
          r[u].set(d);
          r[u].or(r[d]);
        }
      }
      reach = r;
    }
    return reach;
  }

  private BitSet blockedSet() {
    BitSet blocked = new BitSet(ids.size());
    blocked.set(0, ids.size());
    for (int i : order) {
      blocked.clear(i);
    }
    return blocked;
  }

  private static int firstBlocked(int[] candidates, BitSet blocked) {
    for (int c : candidates) {
      if (blocked.get(c)) {
        return c;
      }
    }
    throw new IllegalStateException("a blocked task waits for no blocked task");
  }

  private static int[][] invert(int[][] deps) {
    int[] count = new int[deps.length];
    for (int[] ds : deps) {
      for (int d : ds) {
        count[d]++;
      }
    }
    int[][] out = new int[deps.length][];
    for (int i = 0; i < deps.length; i++) {
      out[i] = new int[count[i]];
      count[i] = 0;
    }
    for (int w = 0; w < deps.length; w++) {
      for (int d : deps[w]) {
        out[d][count[d]++] = w;
      }
    }
    return out;
  }

  /** Kahn's algorithm: a task is ready once every task it waits for is placed. */
  private static int[] kahn(int[][] deps, int[][] dependents) {
    int n = deps.length;
    int[] waiting = new int[n];
    Deque<Integer> ready = new ArrayDeque<>();
    for (int i = 0; i < n; i++) {
      waiting[i] = deps[i].length;
      if (waiting[i] == 0) {
        ready.add(i);
      }
    }
    int[] order = new int[n];
    int placed = 0;
    while (!ready.isEmpty()) {
      int u = ready.poll();
      order[placed++] = u;
      for (int w : dependents[u]) {
        if (--waiting[w] == 0) {
          ready.add(w);
        }
      }
    }
    return java.util.Arrays.copyOf(order, placed);
  }
}
