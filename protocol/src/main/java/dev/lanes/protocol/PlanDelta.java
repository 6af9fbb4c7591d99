package dev.lanes.protocol;

import java.util.List;
import java.util.Map;

/**
 * A change to a running plan proposed by a lead agent, checked for form by {@link PlanParser#delta}: added tasks are
 * whole tasks, every id named exists, and the dependencies stay acyclic. Whether it may take effect now (a task that
 * runs cannot be dropped or re-scoped; tasks that may run at once must own disjoint paths) is the lead's to decide,
 * and a delta is applied whole or not at all.
 *
 * @param add new tasks; what they leave out they take from the task whose findings the lead agent answered
 * @param drop tasks to skip (only tasks no worker has started)
 * @param order new {@code after} lists, by task id (replacing the old ones)
 * @param scope new claims, by task id (replacing the old ones)
 */
public record PlanDelta(List<Plan.Task> add, List<String> drop, Map<String, List<String>> order,
    Map<String, List<Claim>> scope) {
  public PlanDelta {
    add = List.copyOf(add);
    drop = List.copyOf(drop);
    order = Map.copyOf(order);
    scope = Map.copyOf(scope);
  }

  public boolean isEmpty() {
    return add.isEmpty() && drop.isEmpty() && order.isEmpty() && scope.isEmpty();
  }

  /** The plan with this delta applied: added tasks at the end, orders and scopes replaced; dropped tasks stay. */
  public Plan applyTo(Plan plan) {
    List<Plan.Task> tasks = new java.util.ArrayList<>();
    for (Plan.Task t : plan.tasks()) {
      Plan.Task next = order.containsKey(t.id()) ? t.withAfter(order.get(t.id())) : t;
      tasks.add(scope.containsKey(t.id()) ? next.withOwns(scope.get(t.id())) : next);
    }
    tasks.addAll(add);
    return plan.withTasks(tasks);
  }
}
