package dev.lanes.protocol;

/** A worker reports that it is still working on a task, and in which phase (for example {@code agent}). */
public record Heartbeat(String run, String task, int epoch, String worker, String phase, String detail)
    implements Message {
  @Override
  public String key() {
    return TaskRef.key(run, task);
  }
}
