package dev.lanes.protocol;

/** The lead changed a task's state. {@code detail} says why in words, for people watching the run. */
public record TaskUpdate(String run, String task, TaskState state, int epoch, String worker, String detail)
    implements Message {
  @Override
  public String key() {
    return TaskRef.key(run, task);
  }
}
