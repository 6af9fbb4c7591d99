package dev.lanes.protocol;

import java.util.List;
import java.util.Optional;

/**
 * A validated plan: what to do, split into tasks that own disjoint parts of the repository. Built only by
 * {@link PlanParser}, so a {@code Plan} is always internally consistent (ids unique, dependencies known and acyclic,
 * claims well formed).
 *
 * @param base the branch or commit tasks start from; empty means the repository's current branch
 * @param target the branch results land on
 */
public record Plan(String name, Optional<String> base, String target, List<Task> tasks) {
  public Plan {
    tasks = List.copyOf(tasks);
  }

  public Optional<Task> task(String id) {
    return tasks.stream().filter(t -> t.id().equals(id)).findFirst();
  }

  /** The default target branch of a plan. */
  public static String defaultTarget(String name) {
    return "lanes/" + name;
  }

  /**
   * One unit of work for one agent.
   *
   * @param agent the plan's agent unless the task sets its own
   * @param verify the task's verify command, else the plan's, else none
   */
  public record Task(
      String id,
      String title,
      String prompt,
      List<Claim> owns,
      List<String> after,
      List<String> requires,
      AgentSpec agent,
      Optional<String> verify) {
    public Task {
      owns = List.copyOf(owns);
      after = List.copyOf(after);
      requires = List.copyOf(requires);
    }
  }
}
