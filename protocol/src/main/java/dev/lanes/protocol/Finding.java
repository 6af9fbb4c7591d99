package dev.lanes.protocol;

import java.util.List;
import java.util.Optional;
import java.util.Set;

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
  /**
   * The lead refused to revise the plan (a claim extension, follow-ups) because the revised plan would be too large a
   * decision to record; {@code text} says which revision and how large. The run goes on without it.
   */
  public static final String REVISION_REFUSED = "revision-refused";
  /** The agent's findings file could not be taken; {@code text} names the field, the value and the rule. */
  public static final String INVALID_FINDINGS = "invalid-findings";
  /**
   * The lead's own check of a passed result found changes the task may not make (outside its claims, a protected
   * path, a symlink leaving the repository, a commit not on the offered base); {@code paths} are the paths, {@code
   * text} names each violation. The result does not land.
   */
  public static final String RESULT_REFUSED = "result-refused";
  /** The kinds only the lead publishes, with the lead as their {@code worker}: its answers, never a worker's report. */
  public static final Set<String> LEAD_KINDS = Set.of(DELTA_REJECTED, REVISION_REFUSED,
      RESULT_REFUSED);

  /**
   * Limits on a finding as the lead takes it. An honest worker's fit: its findings file is at most 256 KiB and 100
   * items. Claims are fewer, because the lead checks each one it is asked for against every task's claims.
   */
  public static final int MAX_TEXT = 256 * 1024;
  public static final int MAX_PATHS = 1000;
  public static final int MAX_CLAIMS = 32;

  public Finding {
    paths = List.copyOf(paths);
  }

  /** The first size limit this finding breaks, naming the field, the value and the rule; empty when it has none. */
  public Optional<String> oversize() {
    if (text.length() > MAX_TEXT) {
      return Optional.of("text: " + text.length() + " characters; at most " + MAX_TEXT);
    }
    int most = kind.equals(NEEDS_PATHS) || kind.equals(FOLLOW_UP) ? MAX_CLAIMS : MAX_PATHS;
    if (paths.size() > most) {
      return Optional.of("paths: " + paths.size() + (most == MAX_CLAIMS ? " claims" : " paths") + "; at most " + most);
    }
    return Optional.empty();
  }

  /** Whether the lead published this finding ({@link #LEAD_KINDS}), rather than a worker. */
  public boolean fromLead() {
    return LEAD_KINDS.contains(kind);
  }

  @Override
  public String key() {
    return TaskRef.key(run, task);
  }
}
