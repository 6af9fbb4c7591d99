package dev.lanes.protocol;

import java.util.List;

/**
 * Something a worker learned while running a task that the lead may act on: an ownership violation, a suggested
 * follow-up task, a question for a human. {@code kind} names which.
 */
public record Finding(String run, String task, int epoch, String worker, String kind, String text, List<String> paths)
    implements Message {
  /** The kind of finding that names paths an attempt changed outside its claims. */
  public static final String OWNERSHIP_VIOLATION = "ownership-violation";

  public Finding {
    paths = List.copyOf(paths);
  }

  @Override
  public String key() {
    return TaskRef.key(run, task);
  }
}
