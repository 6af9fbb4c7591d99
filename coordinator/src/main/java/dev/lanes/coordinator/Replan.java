package dev.lanes.coordinator;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lanes.protocol.Claim;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.PlanParser;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskState;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Re-planning from what a writing attempt found: the rules that turn its result and its findings into the task's next
 * step and into changes to the plan. The rules are applied in one order ({@link #written}): a question parks the
 * task, paths it needed extend its claim, passed work goes on, a failing verify is tried once more with its output,
 * and what no retry can change ends the task. Suggested follow-ups become tasks whatever the outcome.
 *
 * <p>This class decides; its {@link Run} records and acts. Every change it makes to the plan goes through the run's
 * {@link Run#refusal} check first (a revision too large to record changes nothing) and is recorded with
 * {@link Run#revise} before any attempt it starts; every attempt it starts goes through {@link Run#nextAttempt}, so
 * it counts against {@code maxAttempts} like any other. Findings reach it already checked ({@link Deltas}).
 */
final class Replan {
  // Logged as the run: what a run decided reads in one place, whichever part of it decided.
  private static final Logger LOG = LoggerFactory.getLogger(Run.class);

  private final Run run;
  private final Deltas deltas;
  private final Lead.Settings settings;

  Replan(Run run, Deltas deltas, Lead.Settings settings) {
    this.run = run;
    this.deltas = deltas;
    this.settings = settings;
  }

  /**
   * A writing attempt ended. The rules, in order: a question parks the task for a human; paths it needed outside its
   * claim extend the claim (see {@link #extend}); passed work goes to review or the merge queue; a failing verify is
   * tried once more with its output in the prompt; any other failure uses up an attempt. Suggested follow-ups are
   * added whatever the outcome, and the lead agent, if the plan has one, hears of every finding.
   */
  void written(Slot slot, TaskResult result, List<Finding> found) {
    followUps(slot, found);
    deltas.askLeadAgent(slot, found);
    Optional<Finding> question = found.stream().filter(f -> f.kind().equals(Finding.QUESTION)).findFirst();
    List<Claim> needed = needed(slot, found);
    slot.kept = Run.kept(result); // a passed attempt is kept nowhere
    if (question.isPresent()) {
      run.update(slot, TaskState.PARKED, Run.ASKS + question.get().text());
    } else if (!needed.isEmpty()) {
      extend(slot, needed, found.stream().filter(f -> f.kind().equals(Finding.NEEDS_PATHS)).map(Finding::text)
          .collect(Collectors.joining("; ")));
    } else if (result.outcome() == TaskResult.Outcome.PASSED) {
      run.passed(slot, result);
    } else if (unretriable(result).isPresent()) {
      notRetried(slot, Run.failure(result), unretriable(result).get());
    } else if (result.outcome() == TaskResult.Outcome.VERIFY_FAILED) {
      slot.verifyRetries++;
      run.attemptFailed(slot, Run.failure(result), "Your last attempt did not pass the verify command:\n    "
          + result.verifyTail().strip().replace("\n", "\n    ")
          + "\nFix what it reports; the whole task is still yours to do.");
    } else {
      run.attemptFailed(slot, Run.failure(result));
    }
  }

  /**
   * Why no other attempt can end differently, when that is so: a program that is not there (the agent could not start
   * or its command was not found, exit 127; the verify command or script was not found or cannot be run, 127 or 126)
   * is not there for the next attempt either, and work outside the task's claims was the agent's choice, which a
   * retry would only repeat at a cost.
   */
  private static Optional<String> unretriable(TaskResult r) {
    String error = r.error().orElse("");
    if (r.outcome() == TaskResult.Outcome.OWNERSHIP_VIOLATION) {
      return Optional.of("an ownership violation is not retried");
    } else if (r.outcome() == TaskResult.Outcome.VERIFY_FAILED && (r.verifyExit() == 127 || r.verifyExit() == 126)) {
      return Optional.of("the verify command " + (r.verifyExit() == 127 ? "was not found" : "cannot be run")
          + " (exit " + r.verifyExit() + "); check that it exists at the task's base commit and is executable");
    } else if (r.outcome() == TaskResult.Outcome.ERROR && error.startsWith("cannot start ")) {
      return Optional.of("the agent program cannot start on " + r.worker());
    } else if (r.outcome() == TaskResult.Outcome.AGENT_FAILED && r.agentExit() == 127) {
      return Optional.of("the agent's command was not found (exit 127) on " + r.worker());
    }
    return Optional.empty();
  }

  /** An attempt whose outcome no retry can change: the task ends now, with both the failure and why. */
  private void notRetried(Slot slot, String failure, String why) {
    slot.failures++;
    slot.reasons.add("attempt " + slot.attempts + ": " + failure);
    String detail = failure + " (not retried: " + why + ")" + slot.kept;
    LOG.warn("run {}: task {}: {}", run.id(), slot.task.id(), detail);
    run.update(slot, settings.maxAttempts() > 1 ? TaskState.PARKED : TaskState.FAILED, detail);
  }


  /**
   * The task needs paths outside its claim. When no task that is being worked on (offered or running) owns them, the
   * claim is extended and the task runs again at once; tasks that own them and have not started are ordered after it,
   * so the two never run alongside. Otherwise the task waits, with its claim extended, until those owners have
   * landed. A task that owns them and has finished (under review or in the merge queue) does not hold the extension
   * back: if the two changes clash, the merge queue evicts the later one and it is fixed on top of the other.
   */
  private void extend(Slot slot, List<Claim> needed, String why) {
    List<Claim> owns = new ArrayList<>(slot.task.owns());
    owns.addAll(needed);
    String claims = needed.stream().map(Claim::text).collect(Collectors.joining(", "));
    List<Slot> owners = owners(needed, slot);
    List<Slot> busy = owners.stream()
        .filter(o -> o.state == TaskState.OFFERED || o.state == TaskState.RUNNING).toList();
    if (!run.attemptLeft(slot, "it needs " + claims + ", outside its claim (" + why + ")")) {
      return;
    }
    List<Plan.Task> changed = new ArrayList<>();
    String names = busy.stream().map(o -> o.task.id()).collect(Collectors.joining(", "));
    String reason;
    if (busy.isEmpty()) {
      changed.add(slot.task.withOwns(owns));
      for (Slot waiting : owners.stream().filter(o -> o.state == TaskState.WAITING).toList()) {
        changed.add(waiting.task.withAfter(Run.plus(waiting.task.after(), slot.task.id())));
      }
      reason = slot.task.id() + ": claim extended by " + claims + " (needed: " + why + ")";
    } else {
      List<String> after = new ArrayList<>(slot.task.after());
      busy.forEach(o -> after.add(o.task.id()));
      changed.add(slot.task.withOwns(owns).withAfter(after));
      reason = slot.task.id() + ": claim extended by " + claims + " once " + names + " landed (needed: " + why + ")";
    }
    Plan next = run.plan();
    for (Plan.Task t : changed) {
      next = Run.replaced(next, t);
    }
    Optional<String> refused = run.refusal(next, reason);
    if (refused.isPresent()) {
      run.refuseRevision(slot, refused.get());
      run.attemptFailed(slot, "its claim could not be extended by " + claims + ": " + refused.get());
      return;
    }
    changed.forEach(t -> run.replace(run.slots().get(t.id()), t));
    run.revise(reason);
    if (busy.isEmpty()) {
      run.nextAttempt(slot, Slot.EXTENDED, "claim extended by " + claims, "Your claim now also covers " + claims
          + ", which your last attempt said it needed (" + why + "). Do the whole task, including those files.");
    } else {
      slot.waitingFor = busy.size();
      slot.context = "Your claim now also covers " + claims + ", which your last attempt said it needed (" + why
          + "). Do the whole task, including those files.";
      run.update(slot, TaskState.WAITING, "needs " + claims + ", owned by " + names + "; runs again once "
          + (busy.size() == 1 ? "it lands" : "they land"));
    }
  }

  /** The claims of needs-paths findings that the task does not hold yet; unreadable ones are left out. */
  private static List<Claim> needed(Slot slot, List<Finding> found) {
    Set<String> own = slot.task.owns().stream().map(Claim::text).collect(Collectors.toSet());
    List<Claim> needed = new ArrayList<>();
    for (Finding f : found) {
      if (f.kind().equals(Finding.NEEDS_PATHS)) {
        for (String path : f.paths()) {
          try {
            Claim claim = Claim.parse(path);
            if (own.add(claim.text())) {
              needed.add(claim);
            }
          } catch (RuntimeException e) {
            LOG.warn("task {}: needed path {} is not a claim: {}", slot.task.id(), path, e.getMessage());
          }
        }
      }
    }
    return needed;
  }

  /** Tasks other than {@code except}, not final, whose claims overlap any of {@code claims}. */
  private List<Slot> owners(List<Claim> claims, Slot except) {
    return run.slots().values().stream()
        .filter(s -> s != except && !s.state.isFinal())
        .filter(s -> s.task.owns().stream().anyMatch(o -> claims.stream().anyMatch(c -> o.overlap(c).isPresent())))
        .toList();
  }

  /**
   * Follow-up tasks the agent suggested become tasks of the plan: after the task that suggested them (they build on
   * its work) and after every unfinished task whose claims overlap theirs, so they never run alongside one. A
   * follow-up with no claims, or one already added (the same title from the same task), is not added.
   */
  private void followUps(Slot origin, List<Finding> found) {
    List<Plan.Task> added = new ArrayList<>();
    for (Finding f : found) {
      if (!f.kind().equals(Finding.FOLLOW_UP)) {
        continue;
      }
      JsonNode node;
      try {
        node = Json.mapper().readTree(f.text());
      } catch (IOException e) {
        LOG.warn("task {}: follow-up is not JSON, not added: {}", origin.task.id(), e.getMessage());
        continue;
      }
      String title = node.path("title").asText("").strip();
      String prompt = node.path("prompt").asText("").strip();
      if (prompt.length() > PlanParser.MAX_PROMPT) {
        LOG.warn("task {}: follow-up \"{}\" has a prompt of {} characters, over the {} a task may have; not added",
            origin.task.id(), title, prompt.length(), PlanParser.MAX_PROMPT);
        continue;
      }
      boolean known = run.slots().values().stream().anyMatch(s -> s.task.title().equals(title)
          && s.task.id().startsWith(origin.task.id() + "-f"));
      if (title.isEmpty() || prompt.isEmpty() || f.paths().isEmpty() || known) {
        if (!known) {
          LOG.warn("task {}: follow-up \"{}\" has no title, prompt or claims; not added", origin.task.id(), title);
        }
        continue;
      }
      List<Claim> owns;
      try {
        owns = f.paths().stream().map(Claim::parse).toList();
      } catch (RuntimeException e) {
        LOG.warn("task {}: follow-up \"{}\" has a bad claim, not added: {}", origin.task.id(), title, e.getMessage());
        continue;
      }
      List<String> after = new ArrayList<>(List.of(origin.task.id()));
      owners(owns, origin).forEach(o -> after.add(o.task.id()));
      Plan.Task t = origin.task;
      Set<String> taken = added.stream().map(Plan.Task::id).collect(Collectors.toSet());
      added.add(new Plan.Task(freshId(origin.task.id() + "-f", taken), title, prompt, owns, after, t.requires(),
          t.agent(), t.verify(), t.review()));
    }
    if (added.isEmpty()) {
      return;
    }
    String reason = "follow-up task(s) " + added.stream().map(Plan.Task::id).collect(Collectors.joining(", "))
        + " suggested by " + origin.task.id();
    List<Plan.Task> all = new ArrayList<>(run.plan().tasks());
    all.addAll(added);
    Optional<String> refused = run.refusal(run.plan().withTasks(all), reason);
    if (refused.isPresent()) {
      run.refuseRevision(origin, refused.get());
      return;
    }
    added.forEach(run::addSlot);
    run.revise(reason);
    added.forEach(t -> run.settleNew(run.slots().get(t.id())));
  }

  private String freshId(String prefix, Set<String> taken) {
    String base = prefix.length() > 58 ? prefix.substring(0, 58) : prefix;
    for (int n = 1; ; n++) {
      if (!run.slots().containsKey(base + n) && !taken.contains(base + n)) {
        return base + n;
      }
    }
  }

}
