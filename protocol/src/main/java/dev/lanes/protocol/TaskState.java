package dev.lanes.protocol;

/** Where a task stands in the lead's view. The last four are final. */
public enum TaskState {
  /** Waiting for the tasks it depends on to land. */
  WAITING,
  /** Offered to the workers, no claim granted yet. */
  OFFERED,
  /** Granted to one worker, which is running it. */
  RUNNING,
  /** Passed on its worker; another worker reviews its change before it may land. */
  REVIEWING,
  /** Passed (and approved, when reviewed); waiting in the merge queue, or being verified on the merged tree. */
  QUEUED,
  /** Verified on the merged tree; the target branch is being moved to it. */
  LANDING,
  /** On the target branch. */
  LANDED,
  /** Its attempt failed: the agent, the verification or the merge. */
  FAILED,
  /** Not run, because a task it depends on did not land. */
  SKIPPED,
  /**
   * Set aside for a person to look at, with its reasons: it failed or was evicted as many times as the lead allows,
   * or its agent asked a question.
   */
  PARKED;

  public boolean isFinal() {
    return this == LANDED || this == FAILED || this == SKIPPED || this == PARKED;
  }
}
