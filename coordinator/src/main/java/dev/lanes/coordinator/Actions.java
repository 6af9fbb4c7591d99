package dev.lanes.coordinator;

import dev.lanes.protocol.TaskState;
import java.util.Locale;

/**
 * What a person may do to a run and its tasks, and when: cancel a task, retry one that failed or is parked, answer a
 * parked question, approve a parked task, pause and resume the run. Each action is checked whole against the run's
 * state in {@link #check} before anything is recorded, and refused ({@link Action.Refused}) naming the task, its state
 * and the rule when it does not apply; the effect it returns is run by the lead once the action is recorded, so a
 * lead that replays the log finds the decision before what it caused.
 *
 * <p>A retry, an answer and an approval each start a new attempt that counts like any other, but a person may start
 * one where {@code --max-attempts} would not: that limit stops the lead, not the person. The answer goes into the
 * next attempt's prompt; an approval takes the task to the step it was stopped before, with the lead's own reason for
 * it (the eviction's context), and lets it be sent back again. Work outside a task's claims is never approved. The
 * tasks that were skipped because the task had not landed wait for it again ({@link Run#reviveDependents}).
 */
final class Actions {
  static final String AFTER_RETRY = "a retry a person asked for";
  static final String AFTER_ANSWER = "after a person answered its question";
  static final String AFTER_APPROVAL = "after a person approved it";

  private final Run run;
  private final Inbox inbox;

  Actions(Run run, Inbox inbox) {
    this.run = run;
    this.inbox = inbox;
  }

  /**
   * Checks that the action applies to the run as it is now.
   *
   * @return the action's effect, to run on the loop once the action is recorded
   * @throws Action.Refused naming the field, the value and the rule; nothing has changed
   */
  Runnable check(Action action) {
    String by = action.by();
    switch (action.kind()) {
      case PAUSE:
        if (run.pausedBy().isPresent()) {
          throw conflict("run: \"" + run.id() + "\" is already paused (" + run.pausedBy().get() + ")");
        }
        return () -> run.pause("paused by " + by);
      case RESUME:
        if (run.pausedBy().isEmpty()) {
          throw conflict("run: \"" + run.id() + "\" is not paused; only a paused run resumes");
        }
        return run::resumeRun;
      case CANCEL_TASK:
        return cancel(slot(action), by);
      case RETRY:
        return retry(slot(action), by);
      case ANSWER:
        return answer(slot(action), action.text().orElseThrow(), by);
      case APPROVE:
        return approve(slot(action), by);
      default:
        throw new Action.Refused(Action.Refused.Why.NOT_AVAILABLE, action.kind().wire()
            + ": a run does not take this action");
    }
  }

  private Slot slot(Action action) {
    String task = action.task().orElseThrow();
    Slot slot = run.slots().get(task);
    if (slot == null) {
      throw new Action.Refused(Action.Refused.Why.NOT_FOUND, "task: \"" + task + "\" is not a task of run "
          + run.id());
    }
    return slot;
  }

  /** A task that has not ended ends (see {@link Run#cancelTask}); one that waits for a person is let go, failed. */
  private Runnable cancel(Slot slot, String by) {
    String why = "cancelled by " + by;
    if (slot.state == TaskState.PARKED || slot.state == TaskState.FAILED && waitsForPerson(slot)) {
      return () -> then(() -> run.update(slot, TaskState.FAILED, "cancelled: " + why));
    } else if (slot.state.isFinal()) {
      throw conflict("task: \"" + slot.task.id() + "\" has already ended (" + slot.state + "); only a task that has"
          + " not ended, or one that waits for a person, is cancelled");
    }
    return () -> run.cancelTask(slot.task.id(), why);
  }

  private Runnable retry(Slot slot, String by) {
    if (slot.state != TaskState.PARKED && slot.state != TaskState.FAILED) {
      throw conflict(state(slot) + "; only a failed or parked task is retried");
    }
    return () -> then(() -> again(slot, AFTER_RETRY, "retry asked for by " + by, "A person asked for another"
        + " attempt after this: " + slot.detail + "\nDo the whole task."));
  }

  private Runnable answer(Slot slot, String text, String by) {
    if (slot.state != TaskState.PARKED || !slot.detail.startsWith(Run.ASKS)) {
      throw conflict(state(slot) + "; only a task parked on its agent's question is answered");
    }
    String asked = slot.detail.substring(Run.ASKS.length());
    return () -> then(() -> again(slot, AFTER_ANSWER, "answered by " + by, "Your last attempt asked:\n    "
        + asked.strip().replace("\n", "\n    ") + "\nA person answered:\n    " + text.strip().replace("\n", "\n    ")
        + "\nDo the whole task with this answer."));
  }

  private Runnable approve(Slot slot, String by) {
    if (slot.state != TaskState.PARKED) {
      throw conflict(state(slot) + "; only a parked task is approved");
    } else if (slot.detail.contains("ownership violation")) {
      throw conflict(state(slot) + " for work outside its claims, which never lands; retry or cancel it");
    } else if (slot.detail.startsWith(Run.ASKS)) {
      throw conflict(state(slot) + " on its agent's question; answer it, retry or cancel it");
    }
    return () -> then(() -> {
      slot.sentBack = 0;
      again(slot, AFTER_APPROVAL, "approved by " + by, slot.context);
    });
  }

  /** A new attempt a person asked for: counted, from the target's tip, whatever {@code --max-attempts} says. */
  private void again(Slot slot, String cause, String why, String context) {
    slot.count(cause);
    slot.fixBase = null;
    run.offer(slot, why + " (attempt " + slot.attempts + ")", context);
    run.reviveDependents(slot);
  }

  private void then(Runnable effect) {
    effect.run();
    run.advance();
  }

  private boolean waitsForPerson(Slot slot) {
    return inbox.items().stream().anyMatch(i -> i.holdsRun() && i.run().filter(run.id()::equals).isPresent()
        && i.task().filter(slot.task.id()::equals).isPresent());
  }

  private static String state(Slot slot) {
    return "task: \"" + slot.task.id() + "\" is " + slot.state.name().toLowerCase(Locale.ROOT);
  }

  private static Action.Refused conflict(String why) {
    return new Action.Refused(Action.Refused.Why.CONFLICT, why);
  }
}
