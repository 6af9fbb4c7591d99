package dev.lanes.protocol;

/**
 * The lead's decision: this attempt at the task belongs to this worker. Every worker sees it; those who also claimed
 * the task release the slot they had reserved for it.
 */
public record ClaimGranted(String run, String task, int epoch, String worker) implements Message {
  @Override
  public String key() {
    return TaskRef.key(run, task);
  }
}
