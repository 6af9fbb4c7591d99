package dev.lanes.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Optional;

/**
 * A validated plan: what to do, split into tasks that own disjoint parts of the repository. Built only by
 * {@link PlanParser}, so a {@code Plan} is always internally consistent (ids unique, dependencies known and acyclic,
 * claims well formed).
 *
 * @param base the branch or commit tasks start from; empty means the repository's current branch
 * @param target the branch results land on
 * @param verify the plan's verify command: the merge queue runs it on the merged tree before the target moves
 * @param leadAgent a command the lead asks, with the plan's state and new findings, for a plan delta; absent: the lead
 *     re-plans by its built-in rules only
 * @param budget what the whole run may spend on its agents ({@code budget-usd}, {@code budget-stop}); absent: no
 *     budget of its own
 */
public record Plan(String name, Optional<String> base, String target, List<Task> tasks,
    @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<String> verify,
    @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<AgentSpec> leadAgent,
    @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<Budget> budget) {
  public Plan {
    tasks = List.copyOf(tasks);
    verify = verify == null ? Optional.empty() : verify; // absent in plans recorded before it was added
    leadAgent = leadAgent == null ? Optional.empty() : leadAgent;
    budget = budget == null ? Optional.empty() : budget;
  }

  /** A plan without a budget. */
  public Plan(String name, Optional<String> base, String target, List<Task> tasks, Optional<String> verify,
      Optional<AgentSpec> leadAgent) {
    this(name, base, target, tasks, verify, leadAgent, Optional.empty());
  }

  /** A plan without a plan-wide verify command, lead agent or budget. */
  public Plan(String name, Optional<String> base, String target, List<Task> tasks) {
    this(name, base, target, tasks, Optional.empty(), Optional.empty());
  }

  /** The same plan with other tasks: how the lead re-plans, never in place. */
  public Plan withTasks(List<Task> next) {
    return new Plan(name, base, target, next, verify, leadAgent, budget);
  }

  /** The same plan with another budget. */
  public Plan withBudget(Optional<Budget> next) {
    return new Plan(name, base, target, tasks, verify, leadAgent, next);
  }

  /**
   * What a run may spend on its agents, all its attempts together, and what happens when it has: the lead starts no
   * new attempt and pauses the run until the budget is raised.
   *
   * @param usd the budget in US dollars, to the millionth
   * @param stop what becomes of attempts still running when the budget is reached
   */
  public record Budget(java.math.BigDecimal usd, Stop stop) {
    public Budget {
      usd = Usd.exact(usd);
    }

    /** {@code budget-stop:} in a plan file. */
    public enum Stop {
      /** Running attempts finish, within their own per-task budget; their work still lands. */
      @com.fasterxml.jackson.annotation.JsonProperty("finish") FINISH,
      /** Running attempts are cancelled at once; their workers keep their worktrees for a person. */
      @com.fasterxml.jackson.annotation.JsonProperty("now") NOW
    }
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
   * @param review present when another worker reviews the task's work before it may land: the agent that reviews
   */
  public record Task(
      String id,
      String title,
      String prompt,
      List<Claim> owns,
      List<String> after,
      List<String> requires,
      AgentSpec agent,
      Optional<String> verify,
      @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<AgentSpec> review) {
    public Task {
      owns = List.copyOf(owns);
      after = List.copyOf(after);
      requires = List.copyOf(requires);
      review = review == null ? Optional.empty() : review; // absent in plans recorded before it was added
    }

    /** A task nobody reviews. */
    public Task(String id, String title, String prompt, List<Claim> owns, List<String> after, List<String> requires,
        AgentSpec agent, Optional<String> verify) {
      this(id, title, prompt, owns, after, requires, agent, verify, Optional.empty());
    }

    public Task withOwns(List<Claim> claims) {
      return new Task(id, title, prompt, claims, after, requires, agent, verify, review);
    }

    public Task withAfter(List<String> ids) {
      return new Task(id, title, prompt, owns, ids, requires, agent, verify, review);
    }
  }
}
