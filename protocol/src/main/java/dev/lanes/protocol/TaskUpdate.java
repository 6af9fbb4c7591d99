package dev.lanes.protocol;

import java.util.Optional;

/**
 * The lead changed a task's state: its decision, recorded before it takes effect. {@code detail} says why in words,
 * for people watching the run.
 *
 * @param base the commit the current attempt starts from, once offered
 * @param commit the commit being landed or landed
 */
public record TaskUpdate(String run, String task, TaskState state, int epoch, String worker, String detail,
    Optional<String> base, Optional<String> commit) implements Message {
  public TaskUpdate {
    base = base == null ? Optional.empty() : base;
    commit = commit == null ? Optional.empty() : commit;
  }

  @Override
  public String key() {
    return TaskRef.key(run, task);
  }
}
