package dev.lanes.protocol;

/**
 * The lead withdraws an attempt at a task: the worker running it ends its agent or verify command and reports the
 * attempt failed with this reason.
 */
public record TaskCancelled(String run, String task, int epoch, String reason) implements Message {
  @Override
  public String key() {
    return TaskRef.key(run, task);
  }
}
