package dev.lanes.coordinator;

import java.util.Arrays;
import java.util.Optional;

/**
 * Something a person asks the lead to do to a run or one of its tasks, through the HTTP API or a command over the
 * bus. {@link Lead#act} takes it on the loop and records it ({@code ActionTaken}) naming {@code by}, who asked.
 *
 * @param task the task, for the kinds that act on one ({@link Kind#onTask})
 * @param text the answer, for {@link Kind#ANSWER}
 * @param usd the new budget in dollars, for {@link Kind#RAISE_BUDGET}
 * @param by who asked: {@code http}, or the principal of the party that sent the request over the bus
 */
public record Action(Kind kind, String run, Optional<String> task, Optional<String> text, Optional<Double> usd,
    String by) {
  /** The longest answer taken: it goes into an agent's prompt. */
  public static final int MAX_TEXT = 64 * 1024;

  /** The kinds of action, by their names on the wire and in the API. */
  public enum Kind {
    CANCEL_TASK("cancel-task", true),
    CANCEL_RUN("cancel-run", false),
    RETRY("retry", true),
    ANSWER("answer", true),
    APPROVE("approve", true),
    PAUSE("pause", false),
    RESUME("resume", false),
    RAISE_BUDGET("raise-budget", false);

    private final String wire;
    private final boolean onTask;

    Kind(String wire, boolean onTask) {
      this.wire = wire;
      this.onTask = onTask;
    }

    public String wire() {
      return wire;
    }

    /** Whether the action names a task of the run. */
    public boolean onTask() {
      return onTask;
    }

    public static Optional<Kind> of(String wire) {
      return Arrays.stream(values()).filter(k -> k.wire.equals(wire)).findFirst();
    }
  }

  /** Checks the action as it enters, naming the field, the value and the rule. */
  public Action {
    task = task == null ? Optional.empty() : task;
    text = text == null ? Optional.empty() : text;
    usd = usd == null ? Optional.empty() : usd;
    if (kind.onTask() != task.isPresent()) {
      throw new Refused(Refused.Why.INVALID, "task: " + kind.wire() + (kind.onTask() ? " needs a task"
          : " acts on a whole run, not on task \"" + task.orElse("") + "\""));
    }
    if (kind == Kind.ANSWER) {
      String t = text.orElseThrow(() -> new Refused(Refused.Why.INVALID, "text: an answer needs a text"));
      if (t.isBlank()) {
        throw new Refused(Refused.Why.INVALID, "text: \"" + t + "\" is blank; an answer says something");
      }
      if (t.length() > MAX_TEXT) {
        throw new Refused(Refused.Why.INVALID, "text: " + t.length() + " characters; at most " + MAX_TEXT);
      }
    }
    if (kind == Kind.RAISE_BUDGET) {
      double v = usd.orElseThrow(() -> new Refused(Refused.Why.INVALID, "usd: a new budget needs an amount"));
      if (!Double.isFinite(v) || v <= 0) {
        throw new Refused(Refused.Why.INVALID, "usd: " + v + " must be a positive number of dollars");
      }
    }
    if (by.isBlank()) {
      throw new IllegalArgumentException("by: an action names who asked for it");
    }
  }

  /** An action on a whole run. */
  public static Action onRun(Kind kind, String run, String by) {
    return new Action(kind, run, Optional.empty(), Optional.empty(), Optional.empty(), by);
  }

  /** An action on one task of a run. */
  public static Action onTask(Kind kind, String run, String task, String by) {
    return new Action(kind, run, Optional.of(task), Optional.empty(), Optional.empty(), by);
  }

  /** What the action names, for messages: {@code cancel-task on run/task}. */
  public String describe() {
    return kind.wire() + " on " + run + task.map(t -> "/" + t).orElse("");
  }

  /** The lead did not take the action: why, in words naming the field, the value and the rule. */
  public static final class Refused extends LeadException {
    private static final long serialVersionUID = 1L;

    /** What kind of refusal: the HTTP API answers each with its own status. */
    public enum Why {
      /** The action is malformed (400). */
      INVALID,
      /** The run or task is not one the lead holds (404). */
      NOT_FOUND,
      /** The run or task is not in a state the action applies to (409). */
      CONFLICT,
      /** This lead does not take this kind of action yet (501). */
      NOT_AVAILABLE
    }

    private final Why why;

    public Refused(Why why, String message) {
      super(message);
      this.why = why;
    }

    public Why why() {
      return why;
    }
  }
}
