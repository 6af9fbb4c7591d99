package dev.lanes.coordinator;

import dev.lanes.protocol.Claim;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskRef;
import java.util.List;
import java.util.Optional;

/**
 * Building what a run hands out: the offer of each attempt and the merge queue's entry for passed work. An offer is
 * all a worker learns of its attempt, so everything the attempt depends on is decided here, once, from the run's
 * state: the commit it starts from (the run's base for a first attempt without dependencies, the writer's commit for a
 * fix a reviewer asked for, else the target's tip, so that it sees what landed), the prompt with the lead's reason for
 * offering it again, the branch it pushes to, and the idle capable worker it prefers. A review is offered as a review
 * of the writer's commit, to anyone but the writer.
 *
 * <p>Building changes only the slot it is given; its {@link Run} records the offer before it publishes it.
 */
final class Offers {
  /** The most the lead adds to a prompt; a longer reason is cut there. */
  private static final int MAX_CONTEXT = 24 * 1024;

  private final Run run;
  private final Workers workers;

  Offers(Run run, Workers workers) {
    this.run = run;
    this.workers = workers;
  }

  /**
   * Prepares a new writing attempt: a new epoch, its base commit and what the lead adds to its prompt.
   *
   * @param context what the lead adds to the task's prompt for this attempt; empty for nothing
   */
  void prepare(Slot slot, String context) {
    boolean first = slot.epoch == 0 && slot.task.after().isEmpty();
    slot.newEpoch();
    slot.base = slot.fixBase != null ? slot.fixBase : first ? run.baseCommit() : run.tip();
    slot.fixBase = null;
    slot.context = context.length() > MAX_CONTEXT ? context.substring(0, MAX_CONTEXT) + "\n…" : context;
  }

  /** The offer of the slot's current attempt, naming an idle capable worker as preferred; a repeat names a new one. */
  TaskOffered offer(Slot slot) {
    Plan.Task t = slot.task;
    Plan plan = run.plan();
    slot.preferred.ifPresent(workers::unload);
    slot.preferred = workers.pick(t.requires(), slot.reviewing() ? slot.writer : "");
    slot.preferred.ifPresent(workers::load);
    List<String> owns = t.owns().stream().map(Claim::text).toList();
    String branch = TaskRef.branch(run.id(), t.id(), slot.epoch);
    if (slot.reviewing()) {
      return new TaskOffered(run.id(), plan.name(), t.id(), slot.epoch, t.title(), t.prompt(), owns, t.requires(),
          t.review().orElse(t.agent()), Optional.empty(), slot.commit, branch, slot.preferred,
          Optional.of(new TaskOffered.Review(slot.writer, slot.base)));
    }
    String prompt = slot.context.isEmpty() ? t.prompt()
        : t.prompt().strip() + "\n\n## Why this task is offered again\n\n" + slot.context + "\n";
    return new TaskOffered(run.id(), plan.name(), t.id(), slot.epoch, t.title(), prompt, owns, t.requires(), t.agent(),
        t.verify(), slot.base, branch, slot.preferred);
  }

  /** The merge queue's entry for the slot's passed commit, verified by the plan's command or else the task's. */
  MergeQueue.Entry entry(Slot slot) {
    Plan plan = run.plan();
    return new MergeQueue.Entry(slot.task.id(), slot.commit, slot.base, "Land " + slot.task.id() + ": "
        + slot.task.title() + " (run " + run.id() + ")", plan.verify().or(() -> slot.task.verify()),
        slot.task.agent().timeout());
  }
}
