package dev.lanes.protocol;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The plan-level ownership check: tasks that may run at the same time must own disjoint parts of the repository.
 *
 * <p>Two tasks may run at the same time unless one depends on the other through {@code after}, directly or through
 * other tasks; the plan's {@link TaskGraph} answers that, with two bit tests per pair. The claims of all tasks go
 * into one {@link ClaimIndex}, which compares exactly only the claims whose literal prefixes could meet, and only for
 * tasks that may run together.
 *
 * <p>Each pair of tasks is reported once, with the first pair of their claims found to overlap. With the files of the
 * base commit, a conflict also lists the existing files both of those claims cover, and each claim that covers no file
 * is reported as a warning, since a typo in a claim silently owns nothing. Conflicts are few, so the files are filtered
 * per conflict; a claim is tried only on the files under its literal prefix, and a claim that starts with a wildcard
 * only on the files whose name its last segment matches.
 *
 * <p>{@link #serialize} resolves conflicts instead of reporting them: it orders each conflicting pair, the later task
 * in the plan running after the earlier one.
 */
public final class OwnershipCheck {
  private final Plan plan;
  private final TaskGraph order;
  private final ClaimIndex<Integer> index = new ClaimIndex<>();

  private OwnershipCheck(Plan plan) {
    this.plan = plan;
    this.order = graph(plan);
    for (int i = 0; i < plan.tasks().size(); i++) {
      for (Claim claim : plan.tasks().get(i).owns()) {
        index.add(i, claim);
      }
    }
  }

  /**
   * Prepares the check of a plan: its order and its claim index.
   *
   * @throws ProtocolException when task ids repeat, an {@code after} names no task, or the dependencies form a cycle
   *     (never for a plan from {@link PlanParser})
   */
  public static OwnershipCheck of(Plan plan) {
    return new OwnershipCheck(Objects.requireNonNull(plan, "plan"));
  }

  /** Conflicts among tasks that may run at the same time, without looking at any files. */
  public static OwnershipReport check(Plan plan) {
    return of(plan).report();
  }

  /** Conflicts, with the files of the base commit each covers, and warnings for claims that cover no file. */
  public static OwnershipReport check(Plan plan, List<String> baseFiles) {
    return of(plan).report(baseFiles);
  }

  /** Conflicts among tasks that may run at the same time, without looking at any files. */
  public OwnershipReport report() {
    return new OwnershipReport(conflicts(Optional.empty()), List.of());
  }

  /** Conflicts, with the files of {@code baseFiles} both claims cover, and claims that cover none of them. */
  public OwnershipReport report(List<String> baseFiles) {
    OwnershipFiles files = OwnershipFiles.of(Objects.requireNonNull(baseFiles, "baseFiles"));
    return new OwnershipReport(conflicts(Optional.of(files)), uncovered(files));
  }

  /**
   * Whether neither task depends on the other, directly or transitively.
   *
   * @throws IllegalArgumentException when either is not a task of the plan
   */
  public boolean mayRunTogether(String task, String other) {
    return !order.ordered(known(order, task), known(order, other));
  }

  /** Pairs of claim alternatives compared exactly so far, against all pairs for a naive check; for benchmarks. */
  public long comparedPairs() {
    return index.comparedPairs();
  }

  private List<OwnershipReport.Conflict> conflicts(Optional<OwnershipFiles> files) {
    List<OwnershipReport.Conflict> conflicts = new ArrayList<>();
    for (ClaimIndex.Conflict<Integer> c : index.conflicts((x, y) -> !order.ordered(x, y))) {
      List<String> both = files.map(f -> f.coveredByBoth(c.firstClaim(), c.secondClaim())).orElse(List.of());
      conflicts.add(new OwnershipReport.Conflict(
          List.of(id(c.first()), id(c.second())),
          List.of(c.firstClaim().text(), c.secondClaim().text()),
          c.example(),
          both));
    }
    return conflicts;
  }

  private List<String> uncovered(OwnershipFiles files) {
    Map<Claim, Boolean> covers = new HashMap<>();
    List<String> warnings = new ArrayList<>();
    for (int i = 0; i < plan.tasks().size(); i++) {
      List<Claim> owns = plan.tasks().get(i).owns();
      for (int j = 0; j < owns.size(); j++) {
        if (!covers.computeIfAbsent(owns.get(j), files::coversAny)) {
          warnings.add("tasks[" + i + "].owns[" + j + "]: \"" + owns.get(j).text()
              + "\" covers no file at the base commit (new files are fine; typos are not)");
        }
      }
    }
    return warnings;
  }

  private String id(int task) {
    return plan.tasks().get(task).id();
  }

  /**
   * A plan in which no two conflicting tasks may run together: for each conflict, in order, the task later in the plan
   * gets an {@code after} edge on the earlier one, unless the two are ordered already (an edge added for an earlier
   * conflict may have ordered them). Since an edge is added only between tasks that are not ordered either way, it
   * never closes a cycle. Tasks keep their place in the plan; the rest of the plan is unchanged.
   *
   * @param conflicts usually {@code check(plan).conflicts()}
   * @throws IllegalArgumentException when a conflict names a task the plan does not have
   */
  public static Serialized serialize(Plan plan, List<OwnershipReport.Conflict> conflicts) {
    TaskGraph order = graph(plan);
    List<List<String>> after = new ArrayList<>();
    plan.tasks().forEach(t -> after.add(new ArrayList<>(t.after())));
    List<Edge> added = new ArrayList<>();
    for (OwnershipReport.Conflict conflict : conflicts) {
      int x = known(order, conflict.tasks().get(0));
      int y = known(order, conflict.tasks().get(1));
      int earlier = Math.min(x, y);
      int later = Math.max(x, y);
      if (earlier == later || order.ordered(earlier, later)) {
        continue;
      }
      order.addEdge(later, earlier);
      String dependency = plan.tasks().get(earlier).id();
      after.get(later).add(dependency);
      added.add(new Edge(plan.tasks().get(later).id(), dependency, conflict));
    }
    List<Plan.Task> tasks = new ArrayList<>();
    for (int i = 0; i < plan.tasks().size(); i++) {
      tasks.add(plan.tasks().get(i).withAfter(after.get(i)));
    }
    return new Serialized(plan.withTasks(tasks), added);
  }

  /** The plan's dependencies, refused unless every task can run some day. */
  private static TaskGraph graph(Plan plan) {
    TaskGraph graph = TaskGraph.of(plan);
    graph.requireRunnable();
    return graph;
  }

  private static int known(TaskGraph order, String task) {
    int i = order.index(task);
    if (i < 0) {
      throw new IllegalArgumentException("task \"" + task + "\" is not in the plan");
    }
    return i;
  }

  /**
   * The outcome of {@link #serialize}.
   *
   * @param plan the plan with the added edges
   * @param added the edges added, in the order of the conflicts they resolve
   */
  public record Serialized(Plan plan, List<Edge> added) {
    public Serialized {
      Objects.requireNonNull(plan, "plan");
      added = List.copyOf(added);
    }
  }

  /**
   * An ordering edge added to resolve a conflict: {@code task} now runs after {@code after} has landed.
   *
   * @param reason the conflict the edge resolves
   */
  public record Edge(String task, String after, OwnershipReport.Conflict reason) {
    public Edge {
      Objects.requireNonNull(task, "task");
      Objects.requireNonNull(after, "after");
      Objects.requireNonNull(reason, "reason");
    }
  }
}
