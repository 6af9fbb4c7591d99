package dev.lanes.coordinator;

import dev.lanes.protocol.TaskState;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Where every task of a run ended, for the summary a user reads at the end.
 *
 * @param paused what holds the run paused ({@code RunBudget}'s detail: which budget, what was spent), while one does
 */
public record RunReport(String run, String plan, String target, String targetCommit, Duration elapsed, List<Row> tasks,
    Optional<String> paused) {
  public RunReport {
    tasks = List.copyOf(tasks);
  }

  /** A report of a run nothing holds paused. */
  public RunReport(String run, String plan, String target, String targetCommit, Duration elapsed, List<Row> tasks) {
    this(run, plan, target, targetCommit, elapsed, tasks, Optional.empty());
  }

  /**
   * Whether the run is paused and nothing of it is under way: no attempt runs and nothing waits to land. A run in that
   * state moves again only when someone lifts the pause.
   */
  public boolean stalled() {
    return paused.isPresent() && tasks.stream().noneMatch(t -> t.state() == TaskState.RUNNING
        || t.state() == TaskState.QUEUED || t.state() == TaskState.LANDING
        || t.state() == TaskState.REVIEWING && !t.worker().isEmpty());
  }

  public boolean allLanded() {
    return tasks.stream().allMatch(t -> t.state() == TaskState.LANDED);
  }

  /**
   * One task's line.
   *
   * @param commit the commit that landed (short), or empty
   */
  public record Row(String task, TaskState state, String worker, int attempts, Duration elapsed, String commit, String detail) {}
}
