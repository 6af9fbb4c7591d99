package dev.lanes.protocol;

/** Where a task stands in the lead's view. The last four are final. */
public enum TaskState {
  /** Waiting for the tasks it depends on to land. */
  WAITING,
  /** Offered to the workers, no claim granted yet. */
  OFFERED,
  /** Granted to one worker, which is running it. */
  RUNNING,
  /** Passed on its worker; queued to land on the target branch. */
  LANDING,
  /** On the target branch. */
  LANDED,
  /** Its attempt failed: the agent, the verification or the merge. */
  FAILED,
  /** Not run, because a task it depends on did not land. */
  SKIPPED,
  /** Failed as many times as the lead allows; set aside, with its reasons, for a person to look at. */
  PARKED;

  public boolean isFinal() {
    return this == LANDED || this == FAILED || this == SKIPPED || this == PARKED;
  }
}
