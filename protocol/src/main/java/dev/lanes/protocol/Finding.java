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
  /** A task the agent suggests; {@code text} is the follow-up as JSON ({@code title}, {@code prompt}, {@code owns}). */
  public static final String FOLLOW_UP = "follow-up";
  /** Paths outside the task's claims the agent needed; {@code paths} are claims, {@code text} says why. */
  public static final String NEEDS_PATHS = "needs-paths";
  /** A question for a human. */
  public static final String QUESTION = "question";
  /** Anything else the agent wanted the lead to know. */
  public static final String NOTE = "note";
  /** A reviewer approves the change under review; {@code text} may say why. */
  public static final String APPROVE = "approve";
  /** A reviewer asks for changes; {@code text} says which, and goes into the prompt of the fix attempt. */
  public static final String REQUEST_CHANGES = "request-changes";
  /** The lead refused a lead agent's plan delta; {@code text} names the field, the value and the rule. */
  public static final String DELTA_REJECTED = "delta-rejected";
  /** The agent's findings file could not be taken; {@code text} names the field, the value and the rule. */
  public static final String INVALID_FINDINGS = "invalid-findings";

  public Finding {
    paths = List.copyOf(paths);
  }

  @Override
  public String key() {
    return TaskRef.key(run, task);
  }
}
