package dev.lanes.coordinator;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lanes.protocol.Claim;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.OwnershipCheck;
import dev.lanes.protocol.OwnershipReport;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.PlanDelta;
import dev.lanes.protocol.PlanException;
import dev.lanes.protocol.PlanParser;
import dev.lanes.protocol.ProtocolException;
import dev.lanes.protocol.TaskState;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checking and applying the deltas others propose to a run: a worker's findings, which may grow the plan (follow-ups)
 * or a task's claim (needs-paths), and the plan deltas of the plan's lead agent. Both come from parties the lead does
 * not believe on their word, so each is checked whole, in one method, against what only the lead knows (which attempt
 * is current and who holds it, which tasks have started, which may run at the same time) before anything changes:
 * {@link #checkFinding} and {@link #checkDelta}. A refusal names the field, the value and the rule, and is published
 * as a finding of the lead's, so that whoever proposed it can read why.
 *
 * <p>A lead agent is asked off the loop (it is a child process) and its answer is applied back on the loop, whole or
 * not at all; a run that finished in the meantime ignores it.
 */
final class Deltas {
  // Logged as the run: what a run decided reads in one place, whichever part of it decided.
  private static final Logger LOG = LoggerFactory.getLogger(Run.class);

  private static final Set<String> WRITER_KINDS = Set.of(Finding.OWNERSHIP_VIOLATION, Finding.FOLLOW_UP,
      Finding.NEEDS_PATHS, Finding.QUESTION, Finding.NOTE, Finding.INVALID_FINDINGS);
  /** A reviewer's findings file may hold anything a writer's may, and a verdict. */
  private static final Set<String> REVIEWER_KINDS = Set.of(Finding.APPROVE, Finding.REQUEST_CHANGES,
      Finding.OWNERSHIP_VIOLATION, Finding.FOLLOW_UP, Finding.NEEDS_PATHS, Finding.QUESTION, Finding.NOTE,
      Finding.INVALID_FINDINGS);

  private final Run run;
  private final Run.Context cx;

  Deltas(Run run, Run.Context cx) {
    this.run = run;
    this.cx = cx;
  }

  /**
   * The one check of a finding where it enters the lead: it is about a task of this run, from the worker its current
   * attempt is granted to and for that attempt's epoch; its kind is one that attempt may report (only a review
   * approves or asks for changes); the claims of needs-paths and follow-up are valid claims,
   * and a follow-up's text is a JSON object with a title and a prompt.
   *
   * @return the problem, naming the field, the value and the rule; empty when the finding may be taken
   */
  Optional<String> checkFinding(Finding f) {
    Slot slot = run.slots().get(f.task());
    if (slot == null) {
      return Optional.of("task: \"" + f.task() + "\" is not a task of run " + run.id());
    } else if (!slot.granted()) {
      return Optional.of("task: \"" + f.task() + "\" has no attempt running (it is "
          + slot.state.name().toLowerCase(Locale.ROOT) + "); findings come with a running attempt");
    } else if (f.epoch() != slot.epoch) {
      return Optional.of("epoch: " + f.epoch() + " is not the current attempt of task " + f.task() + " ("
          + slot.epoch + ")");
    } else if (!f.worker().equals(slot.worker)) {
      return Optional.of("worker: \"" + f.worker() + "\" is not the worker attempt " + slot.epoch + " of task "
          + f.task() + " is granted to");
    }
    Set<String> allowed = slot.reviewing() ? REVIEWER_KINDS : WRITER_KINDS;
    if (!allowed.contains(f.kind())) {
      return Optional.of("kind: \"" + f.kind() + "\" is not one a " + (slot.reviewing() ? "review" : "writing")
          + " attempt reports; known kinds here are " + String.join(", ", new TreeSet<>(allowed)));
    }
    if (f.kind().equals(Finding.NEEDS_PATHS) || f.kind().equals(Finding.FOLLOW_UP)) {
      if (f.paths().isEmpty()) {
        return Optional.of("paths: empty; a " + f.kind() + " finding names the claims it needs");
      }
      for (int i = 0; i < f.paths().size(); i++) {
        try {
          Claim.parse(f.paths().get(i));
        } catch (ProtocolException e) {
          return Optional.of("paths[" + i + "]: " + e.getMessage());
        }
      }
    }
    return f.kind().equals(Finding.FOLLOW_UP) ? checkFollowUp(f.text()) : Optional.empty();
  }

  private static Optional<String> checkFollowUp(String text) {
    JsonNode node;
    try {
      node = Json.mapper().readTree(text);
    } catch (IOException e) {
      return Optional.of("text: not valid JSON; a follow-up is a JSON object with a title and a prompt");
    }
    for (String field : List.of("title", "prompt")) {
      if (node == null || !node.path(field).isTextual() || node.path(field).asText().isBlank()) {
        return Optional.of("text." + field + ": missing or empty; a follow-up is a JSON object with a title and a"
            + " prompt");
      }
    }
    return Optional.empty();
  }

  /** Asks the plan's lead agent, if any, what to change given these findings; its answer comes back on the loop. */
  void askLeadAgent(Slot origin, List<Finding> found) {
    List<Finding> worth = found.stream().filter(f -> !f.kind().equals(Finding.INVALID_FINDINGS)).toList();
    if (run.plan().leadAgent().isEmpty() || worth.isEmpty()) {
      return;
    }
    String input = LeadAgent.input(run.id(), run.plan(), run.slots().values().stream()
        .map(s -> new LeadAgent.TaskView(s.task.id(), s.state, s.detail)).toList(), worth);
    Plan.Task task = origin.task;
    int epoch = origin.epoch;
    LeadAgent.ask(run.plan().leadAgent().get(), input, cx.settings().childEnvironment(), cx.background())
        .whenCompleteAsync((answer, error) -> {
          if (error != null) {
            reject(task.id(), epoch, "the lead agent failed: " + error.getMessage());
          } else {
            applyDelta(task, epoch, answer);
          }
        }, cx.loop());
  }

  /** Applies a lead agent's delta whole, or rejects it with a finding and changes nothing (see {@link #checkDelta}). */
  private void applyDelta(Plan.Task origin, int epoch, String answer) {
    if (run.finished()) {
      return;
    }
    PlanDelta delta;
    try {
      delta = checkDelta(origin, answer);
    } catch (PlanException e) {
      reject(origin.id(), epoch, e.getMessage());
      return;
    }
    Plan next = delta.applyTo(run.plan());
    if (delta.isEmpty()) {
      return;
    }
    run.adopt(next);
    run.revise("lead agent: " + describe(delta));
    for (String drop : delta.drop()) {
      Slot slot = run.slots().get(drop);
      run.withdraw(slot, "dropped by the lead agent");
      run.update(slot, TaskState.SKIPPED, "dropped by the lead agent");
    }
    delta.order().keySet().forEach(t -> run.settleNew(run.slots().get(t)));
    delta.add().forEach(t -> run.settleNew(run.slots().get(t.id())));
    run.advance();
  }

  /**
   * The one check of a lead agent's answer: its form ({@link PlanParser#delta}), then what only the lead knows. Only
   * tasks no worker has started may be dropped (waiting or offered), only waiting tasks re-ordered or re-scoped, no
   * task it adds or changes may own a path that a task able to run at the same time owns, and the revised plan must be
   * small enough to record.
   *
   * @throws PlanException naming every problem: the field, the value and the rule
   */
  private PlanDelta checkDelta(Plan.Task origin, String answer) {
    PlanDelta delta = PlanParser.delta(answer, run.plan(), origin);
    List<String> problems = new ArrayList<>();
    for (int i = 0; i < delta.drop().size(); i++) {
      TaskState state = run.slots().get(delta.drop().get(i)).state;
      if (state != TaskState.WAITING && state != TaskState.OFFERED) {
        problems.add("drop[" + i + "]: task \"" + delta.drop().get(i) + "\" is " + state.name().toLowerCase(Locale.ROOT)
            + "; only tasks no worker has started (waiting or offered) can be dropped");
      }
    }
    Set<String> changedIds = new LinkedHashSet<>(delta.order().keySet());
    changedIds.addAll(delta.scope().keySet());
    for (String task : changedIds) {
      if (run.slots().get(task).state != TaskState.WAITING) {
        problems.add((delta.scope().containsKey(task) ? "scope" : "order") + " (task " + task + "): it is "
            + run.slots().get(task).state.name().toLowerCase(Locale.ROOT) + "; only waiting tasks can be re-ordered or"
            + " re-scoped");
      }
    }
    Plan next = delta.applyTo(run.plan());
    run.refusal(next, "lead agent: " + describe(delta)).ifPresent(why -> problems.add("delta: " + why));
    Set<String> touched = new LinkedHashSet<>(changedIds);
    delta.add().forEach(t -> touched.add(t.id()));
    Set<String> gone = new HashSet<>(delta.drop());
    for (OwnershipReport.Conflict c : OwnershipCheck.of(next).report().conflicts()) {
      boolean live = c.tasks().stream().allMatch(t -> !gone.contains(t)
          && (!run.slots().containsKey(t) || !run.slots().get(t).state.isFinal()));
      if (live && c.tasks().stream().anyMatch(touched::contains)) {
        problems.add("ownership: " + c.describe(3) + "; tasks that may run at the same time must own disjoint"
            + " paths (order one after the other)");
      }
    }
    if (!problems.isEmpty()) {
      throw new PlanException("delta", problems);
    }
    return delta;
  }

  private static String describe(PlanDelta delta) {
    List<String> parts = new ArrayList<>();
    delta.add().forEach(t -> parts.add("added " + t.id()));
    delta.drop().forEach(t -> parts.add("dropped " + t));
    delta.order().forEach((t, after) -> parts.add(t + " after " + after));
    delta.scope().forEach((t, owns) -> parts.add(t + " owns " + owns));
    return String.join("; ", parts);
  }

  private void reject(String task, int epoch, String why) {
    LOG.warn("run {}: rejected the lead agent's delta after {}: {}", run.id(), task, why);
    cx.outbox().tell(new Finding(run.id(), task, epoch, cx.lead(), Finding.DELTA_REJECTED, why, List.of()));
  }
}
