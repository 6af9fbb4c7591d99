package dev.lanes.coordinator;

import dev.lanes.protocol.TaskState;
import java.time.Duration;
import java.util.List;

/** Where every task of a run ended, for the summary a user reads at the end. */
public record RunReport(String run, String plan, String target, String targetCommit, Duration elapsed, List<Row> tasks) {
  public RunReport {
    tasks = List.copyOf(tasks);
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
