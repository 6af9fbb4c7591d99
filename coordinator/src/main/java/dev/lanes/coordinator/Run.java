package dev.lanes.coordinator;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lanes.coordinator.git.TargetBranch;
import dev.lanes.coordinator.git.VerifyTrees;
import dev.lanes.git.GitException;
import dev.lanes.git.ResultCheck;
import dev.lanes.protocol.Claim;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.OwnershipCheck;
import dev.lanes.protocol.OwnershipRules;
import dev.lanes.protocol.OwnershipReport;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.PlanDelta;
import dev.lanes.protocol.PlanException;
import dev.lanes.protocol.PlanParser;
import dev.lanes.protocol.PlanRevised;
import dev.lanes.protocol.ProtocolException;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.TaskCancelled;
import dev.lanes.protocol.TaskGraph;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskRef;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.WorkerStatus;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One run of a plan: the state machine of its tasks. Confined to the lead's event-loop thread, so it needs no locks.
 *
 * <p>A task is offered once every task it depends on has landed, starting from the target's tip at that moment (so it
 * sees their work), or from the run's base commit when it depends on nothing. Each offer is a new attempt with a new
 * epoch; the first claim for it wins and gets a lease, which the worker's heartbeats renew. Only a result for the
 * current epoch from the granted worker counts, so a task lands at most once however often it ran.
 *
 * <p>A passed attempt goes to review when the task asks for one (another worker reads the change and approves it or
 * asks for changes), then into the {@link MergeQueue}, which lands it only on a merged tree that passed the verify
 * command. What the workers found is folded into the plan by the rules in {@link #written}: questions park the task
 * for a human, paths it needed extend its claim (or make it wait for their owner), suggested follow-ups become tasks,
 * a failing verify gets one more attempt with its output. Work that is evicted from the queue or that a reviewer
 * sends back returns as a fix attempt with the reason in its prompt, until it has been sent back
 * {@code maxEvictions} times; then it is parked as needing a human.
 *
 * <p>Every new attempt of a task, whatever causes it (the first, a failure, a claim extended, a fix after an eviction
 * or a review), is started by {@link #nextAttempt}, which counts it against {@code maxAttempts} and stops the task,
 * saying so, when none is left. Only a grant lost on its way is offered again without using one ({@link #regrant}),
 * and a review of work that passed is part of the attempt it reviews.
 *
 * <p>Every change of a task's state, and every change to the plan, is written to the events topic, and acknowledged,
 * <em>before</em> the action it decides (the offer, the grant, the move of the target branch). A lead that restarts
 * replays those records with {@link #restore} and continues with {@link #resume}: what was offered is offered again
 * under the same epoch, leases start over, and the merge queue is rebuilt in the order its entries joined (landing is
 * idempotent).
 */
final class Run implements MergeQueue.Listener {
  private static final Logger LOG = LoggerFactory.getLogger(Run.class);
  private static final int MAX_CONTEXT = 24 * 1024;
  /** Findings held for one task until its result: an honest attempt sends at most 100 items and a violation. */
  static final int MAX_FINDINGS = 128;

  /** What a run uses of its lead. */
  record Context(Outbox outbox, TargetBranch repo, VerifyTrees trees, Workers workers, Clock clock,
      Lead.Settings settings, Executor loop, Executor background, String lead) {}

  private final String id;
  private Plan plan;
  private final String baseCommit;
  private final Context cx;
  private final Outbox outbox;
  private final TargetBranch repo;
  private final Workers workers;
  private final Clock clock;
  private final Lead.Settings settings;
  private final Instant started;
  private final Map<String, Slot> tasks = new LinkedHashMap<>();
  /** The plan's dependencies, built again whenever the plan changes. */
  private TaskGraph graph;
  /** Tasks that became final and whose dependents have not been looked at yet. */
  private final Queue<Slot> changed = new ArrayDeque<>();
  /** The merge queue's entries as the log left them, in the order they joined; taken up by {@link #resume}. */
  private final Set<Slot> restoredQueue = new LinkedHashSet<>();
  private final MergeQueue queue;
  private int finals;
  private final CompletableFuture<RunReport> done;

  Run(String id, Plan plan, String baseCommit, Context cx, CompletableFuture<RunReport> done) {
    this.done = done;
    this.id = id;
    this.plan = plan;
    this.baseCommit = baseCommit;
    this.cx = cx;
    this.outbox = cx.outbox();
    this.repo = cx.repo();
    this.workers = cx.workers();
    this.clock = cx.clock();
    this.settings = cx.settings();
    this.started = clock.instant();
    plan.tasks().forEach(t -> tasks.put(t.id(), new Slot(t)));
    linkDependents();
    this.queue = new MergeQueue(plan.target(), repo, cx.trees(), cx.loop(), settings.mergeWindow(),
        settings.childEnvironment().with(Map.of("LANES_RUN", id, "LANES_TARGET", plan.target())), this);
  }

  String id() {
    return id;
  }

  String baseCommit() {
    return baseCommit;
  }

  CompletableFuture<RunReport> done() {
    return done;
  }

  /** Records the start, naming who holds the target for the run, and makes the first offers; returns the record. */
  RunStarted start(String holder) {
    RunStarted start = new RunStarted(id, plan.name(), plan.target(), baseCommit, List.copyOf(tasks.keySet()),
        Optional.of(plan), Optional.of(started.truncatedTo(ChronoUnit.SECONDS).toString()), Optional.of(holder));
    record(start);
    for (Slot slot : tasks.values()) {
      slot.waitingFor = (int) slot.task.after().stream().distinct().count();
      if (slot.waitingFor == 0) {
        nextAttempt(slot, FIRST, "from " + shortId(baseCommit), "");
      }
    }
    return start;
  }

  /** Takes back one recorded change of state, during replay; nothing is published. */
  void restore(TaskUpdate update) {
    Slot slot = tasks.get(update.task());
    if (slot == null) {
      return;
    }
    slot.state = update.state();
    slot.epoch = update.epoch();
    slot.worker = update.worker();
    slot.detail = update.detail();
    update.base().ifPresent(b -> slot.base = b);
    update.commit().ifPresent(c -> slot.commit = c);
    slot.context = update.context().orElse("");
    update.tally().ifPresent(slot::tally);
    // Progress of an attempt is recorded as updates of its running state; the grant's own record says no more.
    slot.started = granted(slot) && !slot.detail.startsWith(GRANTED) && !slot.detail.startsWith(REVIEW_GRANTED);
    restoredQueue.remove(slot);
    if (slot.state == TaskState.QUEUED || slot.state == TaskState.LANDING) {
      restoredQueue.add(slot);
    }
  }

  /** Continues after a replay: see the class comment. */
  void resume() {
    finals = (int) tasks.values().stream().filter(s -> s.state.isFinal()).count();
    Instant now = clock.instant();
    for (Slot slot : tasks.values()) {
      slot.waitingFor = (int) slot.task.after().stream().distinct().filter(d -> tasks.get(d).state != TaskState.LANDED).count();
      if (slot.state == TaskState.OFFERED || slot.state == TaskState.REVIEWING && slot.worker.isEmpty()) {
        // The same attempt again: no grant for it can be out there unrecorded (see Outbox), so claims for this
        // epoch are still good, and a lead's restart does not use up the task's attempts.
        publishOffer(slot);
      } else if (granted(slot)) {
        // The grant may never have left the lead that decided it: sent again, it is taken up by a worker whose claim
        // is still open and passed over by one that runs the attempt already. A worker that has neither says so
        // when the roll is called (see onStatus), and the task is offered again at once.
        slot.leaseUntil = now.plus(settings.lease());
        LOG.warn("run {}: sent again the grant of attempt {} of {} to {}: it is recorded, but may not have arrived",
            id, slot.epoch, slot.task.id(), slot.worker);
        publish(new ClaimGranted(id, slot.task.id(), slot.epoch, slot.worker));
      } else if (slot.state == TaskState.WAITING) {
        if (slot.task.after().stream().anyMatch(d -> tasks.get(d).state.isFinal()
            && tasks.get(d).state != TaskState.LANDED)) {
          update(slot, TaskState.SKIPPED, "depends on a task that did not land");
        } else if (slot.waitingFor == 0) {
          nextAttempt(slot, waitedFor(slot), "from " + shortId(tip()), slot.context);
        }
      }
    }
    // Whatever was landing goes first: it was at the head of the queue when the lead stopped.
    restoredQueue.stream().filter(s -> s.state == TaskState.LANDING).forEach(s -> queue.add(entry(s)));
    restoredQueue.stream().filter(s -> s.state == TaskState.QUEUED).forEach(s -> queue.add(entry(s)));
    restoredQueue.clear();
    advance();
  }

  void onClaim(ClaimRequested claim) {
    Slot slot = tasks.get(claim.task());
    boolean open = slot != null && slot.epoch == claim.epoch() && (slot.state == TaskState.OFFERED
        || slot.state == TaskState.REVIEWING && slot.worker.isEmpty() && !claim.worker().equals(slot.writer));
    if (!open) {
      LOG.debug("ignored claim {} (state {})", claim, slot == null ? "unknown" : slot.state);
      return;
    }
    slot.worker = claim.worker();
    slot.attemptStarted = clock.instant();
    slot.leaseUntil = slot.attemptStarted.plus(settings.lease());
    slot.preferred.ifPresent(workers::unload);
    slot.preferred = Optional.empty();
    workers.load(claim.worker());
    slot.started = false;
    if (slot.state == TaskState.REVIEWING) {
      update(slot, TaskState.REVIEWING, REVIEW_GRANTED + claim.worker());
    } else {
      update(slot, TaskState.RUNNING, GRANTED + claim.worker());
    }
    publish(new ClaimGranted(id, slot.task.id(), slot.epoch, claim.worker()));
  }

  /**
   * A worker said what it holds (at its start, when the roll is called, or when a grant reached it that it could not
   * take up). An attempt granted to it that it neither runs nor awaits will never run: if it never started (no
   * heartbeat came for it) the grant was lost between the lead and the worker, and the task is offered again at once
   * under a new epoch without using an attempt; if it started, the worker lost it (it was restarted), and the attempt
   * ends now rather than when its lease runs out. An attempt it runs that this run does not count on (cancelled, or
   * superseded while the lead was away) is cancelled again. Each of these recoveries is logged.
   */
  void onStatus(WorkerStatus status) {
    String worker = status.worker();
    for (Slot slot : List.copyOf(tasks.values())) {
      if (granted(slot) && slot.worker.equals(worker) && !status.holds(id, slot.task.id(), slot.epoch)) {
        workers.unload(worker);
        if (slot.started) {
          LOG.warn("run {}: attempt {} of {} ends now: {} no longer holds it (restarted?)", id, slot.epoch,
              slot.task.id(), worker);
          attemptFailed(slot, worker + " no longer holds the attempt (the worker was restarted)");
        } else {
          LOG.warn("run {}: offered {} again at once, no attempt used: the grant of attempt {} to {} never reached"
              + " it (it neither runs nor claims it)", id, slot.task.id(), slot.epoch, worker);
          regrant(slot, "the grant to " + worker + " never reached it");
        }
      }
    }
    for (WorkerStatus.Hold hold : status.holds().orElse(List.of())) {
      Slot slot = tasks.get(hold.task());
      if (hold.running() && hold.run().equals(id) && (slot == null || !counts(slot, hold.epoch(), worker))) {
        String why = slot == null ? "task " + hold.task() + " is not in run " + id
            : "task " + hold.task() + " is " + slot.state.name().toLowerCase(Locale.ROOT) + " at attempt " + slot.epoch;
        LOG.warn("run {}: cancelled again attempt {} of {} on {}: {}", id, hold.epoch(), hold.task(), worker, why);
        publish(new TaskCancelled(id, hold.task(), hold.epoch(), why));
      }
    }
    advance();
  }

  /**
   * Whether the lead counts on attempt {@code epoch} of the task running on {@code worker}: it is the current one, from
   * that worker, and the task has not ended without it. Its result may just have been taken (queued, landing, landed).
   */
  private static boolean counts(Slot slot, int epoch, String worker) {
    return slot.epoch == epoch && slot.worker.equals(worker) && slot.state != TaskState.FAILED
        && slot.state != TaskState.SKIPPED && slot.state != TaskState.PARKED && !offered(slot);
  }

  /** Offers a task again whose grant was lost: a new epoch fences the lost grant off, and no attempt is used. */
  private void regrant(Slot slot, String why) {
    if (reviewing(slot)) {
      offerReview(slot, "review offered again: " + why + " (no attempt used)");
    } else {
      slot.fixBase = slot.base.isEmpty() ? null : slot.base; // the same work, from the same commit
      offer(slot, "offered again: " + why + " (no attempt used)", slot.context);
    }
  }

  private static boolean granted(Slot slot) {
    return slot.state == TaskState.RUNNING || slot.state == TaskState.REVIEWING && !slot.worker.isEmpty();
  }

  void onHeartbeat(Heartbeat beat) {
    Slot slot = current(beat.task(), beat.epoch(), beat.worker());
    if (slot == null || !granted(slot)) {
      return;
    }
    slot.leaseUntil = clock.instant().plus(settings.lease());
    slot.started = true;
    boolean news = !beat.phase().equals(slot.phase) || !beat.detail().isEmpty() && !beat.detail().equals(slot.said);
    if (news) {
      slot.phase = beat.phase();
      slot.said = beat.detail();
      // Progress, not a decision: published for people watching, not awaited.
      outbox.tell(new TaskUpdate(id, slot.task.id(), slot.state, slot.epoch, slot.worker,
          beat.phase() + (beat.detail().isEmpty() ? "" : ": " + beat.detail()), optional(slot.base), Optional.empty()));
    }
  }

  /**
   * Takes a worker's finding for the task's current attempt, to act on with its result. A finding over the size
   * limits ({@link Finding#oversize}, at most {@link #MAX_FINDINGS} held for a task) or one that fails
   * {@link #checkFinding} changes nothing; the reason is returned for the lead to set the record aside with. Findings
   * the lead itself published ({@link Finding#LEAD_KINDS}) come back on the same topic and are passed over.
   *
   * @return why the finding was refused; empty when it was taken or passed over
   */
  Optional<String> onFinding(Finding finding) {
    if (finding.fromLead()) {
      return Optional.empty();
    }
    Slot held = tasks.get(finding.task());
    Optional<String> refused = finding.oversize().or(() -> held != null && held.findings.size() >= MAX_FINDINGS
        ? Optional.of("findings: " + MAX_FINDINGS + " already held for task " + finding.task() + "; at most "
            + MAX_FINDINGS + " until its result") : Optional.empty()).or(() -> checkFinding(finding));
    if (refused.isPresent()) {
      LOG.warn("run {}: refused a finding from {} on {}: {}", id, finding.worker(), finding.task(), refused.get());
      return refused;
    }
    tasks.get(finding.task()).findings.add(finding);
    LOG.info("finding on {}: {} {}", finding.task(), finding.kind(), finding.text());
    return Optional.empty();
  }

  private static final Set<String> WRITER_KINDS = Set.of(Finding.OWNERSHIP_VIOLATION, Finding.FOLLOW_UP,
      Finding.NEEDS_PATHS, Finding.QUESTION, Finding.NOTE, Finding.INVALID_FINDINGS);
  /** A reviewer's findings file may hold anything a writer's may, and a verdict. */
  private static final Set<String> REVIEWER_KINDS = Set.of(Finding.APPROVE, Finding.REQUEST_CHANGES,
      Finding.OWNERSHIP_VIOLATION, Finding.FOLLOW_UP, Finding.NEEDS_PATHS, Finding.QUESTION, Finding.NOTE,
      Finding.INVALID_FINDINGS);

  /**
   * The one check of a finding where it enters the lead: it is about a task of this run, from the worker its current
   * attempt is granted to and for that attempt's epoch; its kind is one that attempt may report (only a review
   * approves or asks for changes); the claims of needs-paths and follow-up are valid claims,
   * and a follow-up's text is a JSON object with a title and a prompt.
   *
   * @return the problem, naming the field, the value and the rule; empty when the finding may be taken
   */
  private Optional<String> checkFinding(Finding f) {
    Slot slot = tasks.get(f.task());
    if (slot == null) {
      return Optional.of("task: \"" + f.task() + "\" is not a task of run " + id);
    } else if (!granted(slot)) {
      return Optional.of("task: \"" + f.task() + "\" has no attempt running (it is "
          + slot.state.name().toLowerCase(Locale.ROOT) + "); findings come with a running attempt");
    } else if (f.epoch() != slot.epoch) {
      return Optional.of("epoch: " + f.epoch() + " is not the current attempt of task " + f.task() + " ("
          + slot.epoch + ")");
    } else if (!f.worker().equals(slot.worker)) {
      return Optional.of("worker: \"" + f.worker() + "\" is not the worker attempt " + slot.epoch + " of task "
          + f.task() + " is granted to");
    }
    Set<String> allowed = reviewing(slot) ? REVIEWER_KINDS : WRITER_KINDS;
    if (!allowed.contains(f.kind())) {
      return Optional.of("kind: \"" + f.kind() + "\" is not one a " + (reviewing(slot) ? "review" : "writing")
          + " attempt reports; known kinds here are " + String.join(", ", new java.util.TreeSet<>(allowed)));
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

  /**
   * Takes the result of the task's current attempt. A result of another attempt (late, replayed, or naming a worker
   * the attempt is not granted to) changes nothing: the rejection is recorded for the task when the task is known,
   * and returned for the lead to set the record aside with.
   *
   * @return why the result was rejected; empty when it was taken
   */
  Optional<String> onResult(TaskResult result) {
    Slot slot = current(result.task(), result.epoch(), result.worker());
    if (slot == null || !granted(slot)) {
      String why = "rejected the result of attempt " + result.epoch() + " from " + result.worker()
          + ": not the current attempt";
      Slot known = tasks.get(result.task());
      if (known != null) {
        // A decision too: recorded, though it changes nothing about the task.
        record(new TaskUpdate(id, known.task.id(), known.state, known.epoch, known.worker, why, optional(known.base),
            Optional.ofNullable(known.commit)));
      }
      return Optional.of(why + (known == null ? " (no task " + result.task() + " in run " + id + ")"
          : " (task " + result.task() + " is at attempt " + known.epoch + ", "
              + known.state.name().toLowerCase(Locale.ROOT) + ")"));
    }
    slot.finished = clock.instant();
    workers.unload(slot.worker);
    List<Finding> found = slot.findings.stream().filter(f -> f.epoch() == result.epoch()).toList();
    slot.findings.removeIf(f -> f.epoch() <= result.epoch());
    if (slot.state == TaskState.REVIEWING) {
      reviewed(slot, result, found);
    } else {
      written(slot, result, found);
    }
    advance();
    return Optional.empty();
  }

  /**
   * A writing attempt ended. The rules, in order: a question parks the task for a human; paths it needed outside its
   * claim extend the claim (see {@link #extend}); passed work goes to review or the merge queue; a failing verify is
   * tried once more with its output in the prompt; any other failure uses up an attempt. Suggested follow-ups are
   * added whatever the outcome, and the lead agent, if the plan has one, hears of every finding.
   */
  private void written(Slot slot, TaskResult result, List<Finding> found) {
    followUps(slot, found);
    askLeadAgent(slot, found);
    Optional<Finding> question = found.stream().filter(f -> f.kind().equals(Finding.QUESTION)).findFirst();
    List<Claim> needed = needed(slot, found);
    slot.kept = kept(result); // a passed attempt is kept nowhere
    if (question.isPresent()) {
      update(slot, TaskState.PARKED, "needs a human: the agent asks: " + question.get().text());
    } else if (!needed.isEmpty()) {
      extend(slot, needed, found.stream().filter(f -> f.kind().equals(Finding.NEEDS_PATHS)).map(Finding::text)
          .collect(Collectors.joining("; ")));
    } else if (result.outcome() == TaskResult.Outcome.PASSED) {
      passed(slot, result);
    } else if (unretriable(result).isPresent()) {
      notRetried(slot, failure(result), unretriable(result).get());
    } else if (result.outcome() == TaskResult.Outcome.VERIFY_FAILED) {
      slot.verifyRetries++;
      attemptFailed(slot, failure(result), "Your last attempt did not pass the verify command:\n    "
          + result.verifyTail().strip().replace("\n", "\n    ")
          + "\nFix what it reports; the whole task is still yours to do.");
    } else {
      attemptFailed(slot, failure(result));
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
    LOG.warn("run {}: task {}: {}", id, slot.task.id(), detail);
    update(slot, settings.maxAttempts() > 1 ? TaskState.PARKED : TaskState.FAILED, detail);
  }

  /**
   * Passed work, as its worker tells it. The lead believes none of it: {@link ResultCheck} reads the diff from the
   * offered base to the pushed commit itself and judges it by the task's claims, the protected paths, the commit's
   * ancestry and the attempt's branch. Work that breaks them never lands, and is not tried again: the worker said it
   * passed, so it either lied or its own check is broken.
   */
  private void passed(Slot slot, TaskResult result) {
    String commit = result.commit().orElse("");
    if (commit.equals(slot.base)) {
      update(slot, TaskState.LANDED, "nothing to land: the agent changed no file");
      return;
    } else if (!repo.hasCommit(commit)) {
      attemptFailed(slot, "commit " + commit + " was not pushed to the repository");
      return;
    }
    ResultCheck.Verdict verdict;
    try {
      verdict = ResultCheck.check(repo.repository(), new ResultCheck.Request(slot.base, commit, result.branch(),
          TaskRef.branch(id, slot.task.id(), slot.epoch), slot.task.owns()));
    } catch (GitException e) {
      attemptFailed(slot, "the lead could not read commit " + shortId(commit) + ": " + e.getMessage());
      return;
    }
    if (!verdict.ok()) {
      refuse(slot, result, commit, verdict.violations());
    } else if (verdict.changed() == 0) {
      update(slot, TaskState.LANDED, "nothing to land: the agent changed no file");
    } else {
      slot.commit = commit;
      slot.writer = result.worker();
      slot.changedFiles = verdict.changed();
      slot.usage = result.usage().map(u -> String.format(Locale.ROOT, "; $%.4f, %d turn(s)", u.costUsd(),
          u.turns())).orElse("");
      if (slot.task.review().isPresent()) {
        offerReview(slot, "passed on " + slot.writer + "; waiting for a review by another worker");
      } else {
        enqueue(slot);
      }
    }
  }

  /** The lead's check found violations: a finding names them, and the task fails with them as its reason. */
  private void refuse(Slot slot, TaskResult result, String commit, List<OwnershipRules.Violation> violations) {
    String named = violations.stream().limit(10).map(Object::toString).collect(Collectors.joining(", "))
        + (violations.size() > 10 ? " and " + (violations.size() - 10) + " more" : "");
    String why = "ownership violation found by the lead in commit " + shortId(commit) + " from " + result.worker()
        + " (not retried): " + named;
    LOG.warn("run {}: task {}: {}", id, slot.task.id(), why);
    outbox.tell(new Finding(id, slot.task.id(), slot.epoch, cx.lead(), Finding.RESULT_REFUSED, why,
        violations.stream().map(OwnershipRules.Violation::path).filter(p -> !p.isEmpty()).toList()));
    update(slot, TaskState.FAILED, why);
  }

  /** A review ended: approved work joins the merge queue; requested changes go back to the writer's branch. */
  private void reviewed(Slot slot, TaskResult result, List<Finding> found) {
    List<Finding> changes = found.stream().filter(f -> f.kind().equals(Finding.REQUEST_CHANGES)).toList();
    boolean approved = found.stream().anyMatch(f -> f.kind().equals(Finding.APPROVE));
    if (result.outcome() != TaskResult.Outcome.PASSED) {
      attemptFailed(slot, "review " + failure(result));
    } else if (!changes.isEmpty()) {
      String asked = changes.stream().map(Finding::text).collect(Collectors.joining("\n"));
      sendBack(slot, "review by " + result.worker() + " requested changes: " + firstLine(asked), "A reviewer read"
          + " your change and asked for these changes before it may land:\n" + asked
          + "\nYour worktree starts from your earlier work; change it as asked.", slot.commit);
    } else if (approved) {
      slot.detail = "approved by " + result.worker();
      enqueue(slot);
    } else {
      attemptFailed(slot, "the review gave no verdict (approve or request-changes in .lanes/findings.json)");
    }
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
    if (!attemptLeft(slot, "it needs " + claims + ", outside its claim (" + why + ")")) {
      return;
    }
    List<Plan.Task> changed = new ArrayList<>();
    String names = busy.stream().map(o -> o.task.id()).collect(Collectors.joining(", "));
    String reason;
    if (busy.isEmpty()) {
      changed.add(slot.task.withOwns(owns));
      for (Slot waiting : owners.stream().filter(o -> o.state == TaskState.WAITING).toList()) {
        changed.add(waiting.task.withAfter(plus(waiting.task.after(), slot.task.id())));
      }
      reason = slot.task.id() + ": claim extended by " + claims + " (needed: " + why + ")";
    } else {
      List<String> after = new ArrayList<>(slot.task.after());
      busy.forEach(o -> after.add(o.task.id()));
      changed.add(slot.task.withOwns(owns).withAfter(after));
      reason = slot.task.id() + ": claim extended by " + claims + " once " + names + " landed (needed: " + why + ")";
    }
    Plan next = plan;
    for (Plan.Task t : changed) {
      next = replaced(next, t);
    }
    Optional<String> refused = refusal(next, reason);
    if (refused.isPresent()) {
      refuseRevision(slot, refused.get());
      attemptFailed(slot, "its claim could not be extended by " + claims + ": " + refused.get());
      return;
    }
    changed.forEach(t -> replace(tasks.get(t.id()), t));
    revise(reason);
    if (busy.isEmpty()) {
      nextAttempt(slot, EXTENDED, "claim extended by " + claims, "Your claim now also covers " + claims
          + ", which your last attempt said it needed (" + why + "). Do the whole task, including those files.");
    } else {
      slot.waitingFor = busy.size();
      slot.context = "Your claim now also covers " + claims + ", which your last attempt said it needed (" + why
          + "). Do the whole task, including those files.";
      update(slot, TaskState.WAITING, "needs " + claims + ", owned by " + names + "; runs again once "
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
    return tasks.values().stream()
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
      boolean known = tasks.values().stream().anyMatch(s -> s.task.title().equals(title)
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
    List<Plan.Task> all = new ArrayList<>(plan.tasks());
    all.addAll(added);
    Optional<String> refused = refusal(plan.withTasks(all), reason);
    if (refused.isPresent()) {
      refuseRevision(origin, refused.get());
      return;
    }
    added.forEach(this::addSlot);
    revise(reason);
    added.forEach(t -> settleNew(tasks.get(t.id())));
  }

  private String freshId(String prefix, Set<String> taken) {
    String base = prefix.length() > 58 ? prefix.substring(0, 58) : prefix;
    for (int n = 1; ; n++) {
      if (!tasks.containsKey(base + n) && !taken.contains(base + n)) {
        return base + n;
      }
    }
  }

  private void addSlot(Plan.Task task) {
    plan = plan.withTasks(plus(plan.tasks(), task));
    tasks.put(task.id(), new Slot(task));
    linkDependents();
  }

  /** A task just added: offered when its dependencies have landed, skipped when one never will. */
  private void settleNew(Slot slot) {
    slot.waitingFor = (int) slot.task.after().stream().distinct().filter(d -> tasks.get(d).state != TaskState.LANDED).count();
    Optional<String> lost = slot.task.after().stream()
        .filter(d -> tasks.get(d).state.isFinal() && tasks.get(d).state != TaskState.LANDED).findFirst();
    if (lost.isPresent()) {
      update(slot, TaskState.SKIPPED, "depends on " + lost.get() + ", which did not land");
    } else if (slot.waitingFor == 0) {
      nextAttempt(slot, waitedFor(slot), "added to the plan; from " + shortId(tip()), "");
    } else {
      update(slot, TaskState.WAITING, "added to the plan; waits for " + String.join(", ", slot.task.after()));
    }
  }

  private void replace(Slot slot, Plan.Task next) {
    slot.task = next;
    plan = replaced(plan, next);
    linkDependents();
  }

  private static Plan replaced(Plan plan, Plan.Task next) {
    return plan.withTasks(plan.tasks().stream().map(t -> t.id().equals(next.id()) ? next : t).toList());
  }

  /**
   * Why a revision to {@code next} cannot be recorded, if it cannot: a plan only grows, and a decision larger than
   * the bus takes would fail to publish (see {@link Outbox}), so such a revision is refused before anything changes.
   */
  private Optional<String> refusal(Plan next, String reason) {
    int size = Outbox.size(new PlanRevised(id, next, reason));
    return size <= Json.MAX_MESSAGE_BYTES ? Optional.empty() : Optional.of("the revised plan (" + reason
        + ") would be a record of " + size + " bytes, more than the " + Json.MAX_MESSAGE_BYTES + " a decision may"
        + " have; the plan stays as it was");
  }

  /** Says that a revision was refused: logged, and published as a finding on the task it was for. */
  private void refuseRevision(Slot slot, String why) {
    LOG.warn("run {}: refused a plan revision for {}: {}", id, slot.task.id(), why);
    outbox.tell(new Finding(id, slot.task.id(), slot.epoch, cx.lead(), Finding.REVISION_REFUSED, why, List.of()));
  }

  private void linkDependents() {
    graph = TaskGraph.of(plan);
  }

  /** A change to the plan: recorded whole, before anything it decides is published. */
  private void revise(String reason) {
    LOG.info("run {}: plan revised: {}", id, reason);
    record(new PlanRevised(id, plan, reason));
  }

  /** Asks the plan's lead agent, if any, what to change given these findings; its answer comes back on the loop. */
  private void askLeadAgent(Slot origin, List<Finding> found) {
    List<Finding> worth = found.stream().filter(f -> !f.kind().equals(Finding.INVALID_FINDINGS)).toList();
    if (plan.leadAgent().isEmpty() || worth.isEmpty()) {
      return;
    }
    String input = LeadAgent.input(id, plan, tasks.values().stream()
        .map(s -> new LeadAgent.TaskView(s.task.id(), s.state, s.detail)).toList(), worth);
    Plan.Task task = origin.task;
    int epoch = origin.epoch;
    LeadAgent.ask(plan.leadAgent().get(), input, settings.childEnvironment(), cx.background()).whenCompleteAsync((answer, error) -> {
      if (error != null) {
        reject(task.id(), epoch, "the lead agent failed: " + error.getMessage());
      } else {
        applyDelta(task, epoch, answer);
      }
    }, cx.loop());
  }

  /** Applies a lead agent's delta whole, or rejects it with a finding and changes nothing (see {@link #checkDelta}). */
  private void applyDelta(Plan.Task origin, int epoch, String answer) {
    if (finished()) {
      return;
    }
    PlanDelta delta;
    try {
      delta = checkDelta(origin, answer);
    } catch (PlanException e) {
      reject(origin.id(), epoch, e.getMessage());
      return;
    }
    Plan next = delta.applyTo(plan);
    if (delta.isEmpty()) {
      return;
    }
    plan = next;
    for (Plan.Task t : plan.tasks()) {
      Slot slot = tasks.get(t.id());
      if (slot == null) {
        tasks.put(t.id(), new Slot(t));
      } else {
        slot.task = t;
      }
    }
    linkDependents();
    revise("lead agent: " + describe(delta));
    for (String drop : delta.drop()) {
      Slot slot = tasks.get(drop);
      withdraw(slot, "dropped by the lead agent");
      update(slot, TaskState.SKIPPED, "dropped by the lead agent");
    }
    delta.order().keySet().forEach(t -> settleNew(tasks.get(t)));
    delta.add().forEach(t -> settleNew(tasks.get(t.id())));
    advance();
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
    PlanDelta delta = PlanParser.delta(answer, plan, origin);
    List<String> problems = new ArrayList<>();
    for (int i = 0; i < delta.drop().size(); i++) {
      TaskState state = tasks.get(delta.drop().get(i)).state;
      if (state != TaskState.WAITING && state != TaskState.OFFERED) {
        problems.add("drop[" + i + "]: task \"" + delta.drop().get(i) + "\" is " + state.name().toLowerCase(Locale.ROOT)
            + "; only tasks no worker has started (waiting or offered) can be dropped");
      }
    }
    Set<String> changedIds = new LinkedHashSet<>(delta.order().keySet());
    changedIds.addAll(delta.scope().keySet());
    for (String task : changedIds) {
      if (tasks.get(task).state != TaskState.WAITING) {
        problems.add((delta.scope().containsKey(task) ? "scope" : "order") + " (task " + task + "): it is "
            + tasks.get(task).state.name().toLowerCase(Locale.ROOT) + "; only waiting tasks can be re-ordered or"
            + " re-scoped");
      }
    }
    Plan next = delta.applyTo(plan);
    refusal(next, "lead agent: " + describe(delta)).ifPresent(why -> problems.add("delta: " + why));
    Set<String> touched = new LinkedHashSet<>(changedIds);
    delta.add().forEach(t -> touched.add(t.id()));
    Set<String> gone = new java.util.HashSet<>(delta.drop());
    for (OwnershipReport.Conflict c : OwnershipCheck.of(next).report().conflicts()) {
      boolean live = c.tasks().stream().allMatch(t -> !gone.contains(t)
          && (!tasks.containsKey(t) || !tasks.get(t).state.isFinal()));
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
    LOG.warn("run {}: rejected the lead agent's delta after {}: {}", id, task, why);
    outbox.tell(new Finding(id, task, epoch, cx.lead(), Finding.DELTA_REJECTED, why, List.of()));
  }

  /**
   * The lead's clock: leases that ran out end their attempt, and offered tasks that no known worker can run are
   * reported once, with the missing capability; when {@code failUnschedulableAfter} is set (the set of workers is
   * fixed, as in {@code lanes run}), such a task fails after that long instead of waiting for a worker that never
   * comes.
   */
  void tick(Instant now) {
    for (Slot slot : List.copyOf(tasks.values())) {
      if (granted(slot) && slot.leaseUntil != null && now.isAfter(slot.leaseUntil)) {
        workers.unload(slot.worker);
        attemptFailed(slot, "the lease of " + slot.worker + " ran out (no heartbeat for "
            + settings.lease().toSeconds() + "s)");
      } else if (offered(slot)) {
        checkSchedulable(slot, now);
      }
    }
    advance();
  }

  private static boolean offered(Slot slot) {
    return slot.state == TaskState.OFFERED || slot.state == TaskState.REVIEWING && slot.worker.isEmpty();
  }

  private void checkSchedulable(Slot slot, Instant now) {
    Optional<String> why = workers.whyNone(slot.task.requires(), reviewing(slot) ? slot.writer : "");
    Optional<Duration> failAfter = settings.failUnschedulableAfter();
    if (why.isEmpty()) {
      slot.unschedulableSince = null;
    } else if (slot.unschedulableSince == null) {
      slot.unschedulableSince = now;
      update(slot, slot.state, "unschedulable: " + why.get());
    } else if (failAfter.isPresent() && !now.isBefore(slot.unschedulableSince.plus(failAfter.get()))) {
      update(slot, TaskState.FAILED, "unschedulable: " + why.get());
    }
  }

  private static boolean reviewing(Slot slot) {
    return slot.state == TaskState.REVIEWING;
  }

  /** Withdraws every attempt in flight and ends the run: what waits is skipped, what runs is cancelled. */
  void cancel(String reason) {
    for (Slot slot : tasks.values()) {
      if (offered(slot) || granted(slot) || slot.state == TaskState.QUEUED || slot.state == TaskState.LANDING) {
        withdraw(slot, reason);
        update(slot, TaskState.FAILED, "cancelled: " + reason);
      } else if (slot.state == TaskState.WAITING) {
        update(slot, TaskState.SKIPPED, "cancelled: " + reason);
      }
    }
    advance();
  }

  /** Takes back whatever is out for the task: its offer or grant, or its place in the merge queue. */
  private void withdraw(Slot slot, String reason) {
    if (granted(slot)) {
      workers.unload(slot.worker);
    }
    slot.preferred.ifPresent(workers::unload);
    slot.preferred = Optional.empty();
    if (offered(slot) || granted(slot)) {
      publish(new TaskCancelled(id, slot.task.id(), slot.epoch, reason));
    } else {
      queue.remove(slot.task.id());
    }
  }

  /** Publishes again the offers nobody has claimed yet, for workers that joined after they went out. */
  void reoffer() {
    tasks.values().stream().filter(Run::offered).forEach(this::publishOffer);
  }

  /**
   * An attempt failed: the task is offered again (a review is offered again as a review) until it has had the plan's
   * number of attempts; then it is parked with every attempt's reason (or simply failed when only one attempt is
   * allowed).
   */
  private void attemptFailed(Slot slot, String reason) {
    attemptFailed(slot, reason, "Your last attempt failed: " + reason);
  }

  /**
   * A failed attempt, whatever ended it (the agent, the verify command, the lease, a worker that lost it), is followed
   * by another one while {@code maxAttempts} allows (see {@link #nextAttempt}).
   *
   * @param context what the next attempt's prompt is told of this failure
   */
  private void attemptFailed(Slot slot, String reason, String context) {
    slot.failures++;
    boolean left = attemptLeft(slot, reason); // its detail names this failure once, before the earlier ones
    slot.reasons.add("attempt " + slot.attempts + ": " + reason);
    if (!left) {
      return;
    }
    String why = "attempt " + (slot.attempts + 1) + " of " + settings.maxAttempts() + " after: " + reason;
    if (reviewing(slot)) {
      count(slot, AFTER_FAILED_REVIEW);
      offerReview(slot, "review " + why);
    } else {
      nextAttempt(slot, AFTER_FAILURE, why, context);
    }
  }

  /**
   * Starts the task's next attempt, caused by {@code cause}, when {@code maxAttempts} allows one more; otherwise the
   * task stops there (see {@link #attemptLeft}). The one place where a new writing attempt is counted.
   */
  private void nextAttempt(Slot slot, String cause, String why, String context) {
    if (attemptLeft(slot, why)) {
      count(slot, cause);
      offer(slot, why, context);
    }
  }

  private void count(Slot slot, String cause) {
    slot.attempts++;
    slot.causes.add(cause);
  }

  /**
   * Whether the task may have one more attempt. When it may not, it stops now: parked (failed when only one attempt is
   * allowed), its detail and the log saying what asked for another attempt, how many it had, what started each, and
   * why each failed one failed.
   *
   * @param wanted what asked for another attempt: the last failure, the claim it needs, the eviction
   */
  private boolean attemptLeft(Slot slot, String wanted) {
    if (slot.attempts < settings.maxAttempts()) {
      return true;
    }
    List<String> numbered = new ArrayList<>();
    for (int i = 0; i < slot.causes.size(); i++) {
      numbered.add((i + 1) + " " + slot.causes.get(i));
    }
    String detail = wanted + "; no attempt left: " + slot.attempts + " of " + settings.maxAttempts() + " used"
        + " (--max-attempts " + settings.maxAttempts() + (numbered.isEmpty() ? "" : ": " + String.join(", ", numbered))
        + ")" + (slot.reasons.isEmpty() ? "" : "; earlier failures: " + String.join("; ", slot.reasons)) + slot.kept;
    LOG.warn("run {}: task {} stopped: {}", id, slot.task.id(), detail);
    update(slot, settings.maxAttempts() > 1 ? TaskState.PARKED : TaskState.FAILED, detail);
    return false;
  }

  /** What starts a task that waited: its first attempt, or the one its claim was extended for (see extend). */
  private static String waitedFor(Slot slot) {
    return slot.attempts == 0 ? FIRST : EXTENDED;
  }

  /**
   * The task's work was evicted from the merge queue or a review asked for changes: it gets a fix attempt with the
   * reason in its prompt, until it has been sent back {@code maxEvictions} times (then it needs a human) or has no
   * attempt left.
   *
   * @param fixBase where the fix starts: the writer's own commit for review changes, null for the target's tip
   */
  private void sendBack(Slot slot, String reason, String context, String fixBase) {
    slot.sentBack++;
    if (slot.sentBack >= settings.maxEvictions()) {
      update(slot, TaskState.PARKED, "needs a human: sent back " + slot.sentBack + " times; last: " + reason);
    } else if (attemptLeft(slot, reason)) {
      slot.fixBase = fixBase;
      nextAttempt(slot, fixBase == null ? AFTER_EVICTION : AFTER_REVIEW, reason + "; fix attempt " + slot.sentBack
          + " of " + (settings.maxEvictions() - 1), context);
    }
  }

  private void enqueue(Slot slot) {
    int ahead = queue.tasks().size();
    update(slot, TaskState.QUEUED, (slot.detail.startsWith("approved") ? slot.detail + "; " : "")
        + "in the merge queue" + (ahead > 0 ? " behind " + ahead : ""));
    queue.add(entry(slot));
  }

  private MergeQueue.Entry entry(Slot slot) {
    return new MergeQueue.Entry(slot.task.id(), slot.commit, slot.base, "Land " + slot.task.id() + ": "
        + slot.task.title() + " (run " + id + ")", plan.verify().or(() -> slot.task.verify()),
        slot.task.agent().timeout());
  }

  @Override
  public void verifying(MergeQueue.Entry entry, String merged, int position) {
    Slot slot = tasks.get(entry.task());
    outbox.tell(new TaskUpdate(id, entry.task(), TaskState.QUEUED, slot.epoch, slot.worker, "verifying on the merged"
        + " tree " + shortId(merged) + (position > 0 ? " (speculatively, " + position + " ahead)" : ""),
        optional(slot.base), Optional.ofNullable(slot.commit)));
  }

  @Override
  public void landing(MergeQueue.Entry entry, String merged) {
    Slot slot = tasks.get(entry.task());
    update(slot, TaskState.LANDING, "landing " + shortId(merged) + " on " + plan.target());
    outbox.awaitRecorded();
  }

  @Override
  public void landed(MergeQueue.Entry entry, String tip) {
    Slot slot = tasks.get(entry.task());
    slot.commit = tip;
    update(slot, TaskState.LANDED, (slot.changedFiles > 0 ? slot.changedFiles + " file(s), " : "")
        + "target at " + shortId(tip) + (slot.sentBack > 0 ? " after " + slot.sentBack + " fix(es)" : "")
        + slot.usage);
    advance();
  }

  @Override
  public void evicted(MergeQueue.Entry entry, MergeQueue.Eviction why) {
    Slot slot = tasks.get(entry.task());
    slot.commit = null;
    sendBack(slot, "evicted from the merge queue: " + why.reason(), why.context(), null);
    advance();
  }

  /**
   * Offers what can run now, skips what never can, and finishes the run when every task is final. Only tasks whose
   * dependencies changed since the last call are looked at: each task counts its dependencies that have not landed,
   * and the tasks that depend on it are found through the plan's {@link TaskGraph}.
   */
  private void advance() {
    while (!changed.isEmpty()) {
      Slot slot = changed.poll();
      for (String dependent : graph.dependents(slot.task.id())) {
        Slot next = tasks.get(dependent);
        if (next.state != TaskState.WAITING) {
          continue;
        }
        if (slot.state == TaskState.LANDED) {
          if (--next.waitingFor <= 0) {
            nextAttempt(next, waitedFor(next), "from " + shortId(tip()), next.context);
          }
        } else {
          update(next, TaskState.SKIPPED, "depends on " + slot.task.id() + ", which did not land");
        }
      }
    }
    if (finals == tasks.size()) {
      finish();
    }
  }

  private String tip() {
    return repo.tip(plan.target()).orElse(baseCommit);
  }

  /**
   * A new attempt: a new epoch, from the base commit for a first attempt without dependencies, from the writer's
   * commit for a fix a reviewer asked for, else from the target's tip.
   *
   * @param context what the lead adds to the task's prompt for this attempt; empty for nothing
   */
  private void offer(Slot slot, String why, String context) {
    boolean first = slot.epoch == 0 && slot.task.after().isEmpty();
    slot.epoch++;
    slot.base = slot.fixBase != null ? slot.fixBase : first ? baseCommit : tip();
    slot.fixBase = null;
    slot.context = context.length() > MAX_CONTEXT ? context.substring(0, MAX_CONTEXT) + "\n…" : context;
    slot.phase = "";
    slot.worker = "";
    slot.leaseUntil = null;
    update(slot, TaskState.OFFERED, why);
    publishOffer(slot);
  }

  /** A review attempt of the writer's commit, offered to every worker but the writer. */
  private void offerReview(Slot slot, String why) {
    slot.epoch++;
    slot.phase = "";
    slot.worker = "";
    slot.leaseUntil = null;
    update(slot, TaskState.REVIEWING, why);
    publishOffer(slot);
  }

  /** Publishes the offer, naming an idle capable worker as preferred; a repeated offer names a new one. */
  private void publishOffer(Slot slot) {
    Plan.Task t = slot.task;
    slot.preferred.ifPresent(workers::unload);
    slot.preferred = workers.pick(t.requires(), reviewing(slot) ? slot.writer : "");
    slot.preferred.ifPresent(workers::load);
    List<String> owns = t.owns().stream().map(Claim::text).toList();
    String branch = TaskRef.branch(id, t.id(), slot.epoch);
    if (reviewing(slot)) {
      publish(new TaskOffered(id, plan.name(), t.id(), slot.epoch, t.title(), t.prompt(), owns, t.requires(),
          t.review().orElse(t.agent()), Optional.empty(), slot.commit, branch, slot.preferred,
          Optional.of(new TaskOffered.Review(slot.writer, slot.base))));
    } else {
      String prompt = slot.context.isEmpty() ? t.prompt()
          : t.prompt().strip() + "\n\n## Why this task is offered again\n\n" + slot.context + "\n";
      publish(new TaskOffered(id, plan.name(), t.id(), slot.epoch, t.title(), prompt, owns, t.requires(), t.agent(),
          t.verify(), slot.base, branch, slot.preferred));
    }
  }

  private void finish() {
    if (done.isDone()) {
      return;
    }
    List<String> landed = new ArrayList<>();
    List<String> failed = new ArrayList<>();
    tasks.values().forEach(s -> (s.state == TaskState.LANDED ? landed : failed).add(s.task.id()));
    record(new RunFinished(id, plan.target(), landed, failed));
    queue.close();
    done.complete(report());
  }

  boolean finished() {
    return done.isDone();
  }

  void close() {
    queue.close();
  }

  RunReport report() {
    List<RunReport.Row> rows = new ArrayList<>();
    for (Slot s : tasks.values()) {
      Duration took = s.attemptStarted == null ? Duration.ZERO
          : Duration.between(s.attemptStarted, s.finished == null ? clock.instant() : s.finished);
      rows.add(new RunReport.Row(s.task.id(), s.state, s.worker, s.epoch, took,
          s.state == TaskState.LANDED && s.commit != null ? shortId(s.commit) : "", s.detail));
    }
    return new RunReport(id, plan.name(), plan.target(), repo.tip(plan.target()).orElse(""),
        Duration.between(started, clock.instant()), rows);
  }

  private Slot current(String task, int epoch, String worker) {
    Slot slot = tasks.get(task);
    return slot != null && slot.epoch == epoch && slot.worker.equals(worker) ? slot : null;
  }

  /** A decision: recorded before any action that follows it leaves (see {@link Outbox}). */
  private void update(Slot slot, TaskState state, String detail) {
    if (state.isFinal() && !slot.state.isFinal()) {
      finals++;
      changed.add(slot);
    }
    slot.state = state;
    slot.detail = detail;
    record(new TaskUpdate(id, slot.task.id(), state, slot.epoch, slot.worker, detail, optional(slot.base),
        Optional.ofNullable(slot.commit), optional(slot.context), Optional.of(slot.tally())));
  }

  private void record(Message event) {
    outbox.record(event);
  }

  /** An action: it leaves once the decisions before it are recorded (see {@link Outbox}). */
  private void publish(Message message) {
    outbox.send(message);
  }

  /**
   * Where the worker says it kept the failed attempt, for the task's final detail: a person reading it from another
   * machine ({@code lanes submit --wait}, {@code lanes status}) learns where to look. Only printed, never followed;
   * one line, cut short.
   */
  private static String kept(TaskResult r) {
    return r.kept().map(k -> " (kept " + k.replaceAll("\\p{Cntrl}", "?")
        .substring(0, Math.min(k.length(), 600)) + ")").orElse("");
  }

  private static String failure(TaskResult r) {
    String why = r.error().orElse(r.outcome().toString().toLowerCase(Locale.ROOT).replace('_', ' '));
    String tail = r.outcome() == TaskResult.Outcome.VERIFY_FAILED ? r.verifyTail() : r.agentTail();
    String last = tail.isBlank() ? "" : " | " + lastLine(tail);
    return why + last;
  }

  private static String lastLine(String text) {
    String[] lines = text.strip().split("\n");
    return lines[lines.length - 1];
  }

  private static String firstLine(String text) {
    return text.strip().split("\n")[0];
  }

  private static <T> List<T> plus(List<T> list, T item) {
    List<T> out = new ArrayList<>(list);
    out.add(item);
    return out;
  }

  private static Optional<String> optional(String text) {
    return text == null || text.isEmpty() ? Optional.empty() : Optional.of(text);
  }

  static String shortId(String commit) {
    return commit.length() > 10 ? commit.substring(0, 10) : commit;
  }

  private static final String GRANTED = "granted to ";
  // What starts an attempt, as the task's detail names it when no attempt is left.
  private static final String FIRST = "first";
  private static final String AFTER_FAILURE = "after a failure";
  private static final String AFTER_FAILED_REVIEW = "a review again after a failed review";
  private static final String EXTENDED = "after its claim was extended";
  private static final String AFTER_EVICTION = "a fix after an eviction";
  private static final String AFTER_REVIEW = "a fix a review asked for";
  private static final String REVIEW_GRANTED = "review granted to ";

  /** The lead's view of one task. */
  private static final class Slot {
    Plan.Task task;
    final List<Finding> findings = new ArrayList<>();
    /** Why each failed attempt failed, for the parked task's detail. */
    final List<String> reasons = new ArrayList<>();
    TaskState state = TaskState.WAITING;
    int epoch;
    int waitingFor;
    int changedFiles;
    int failures;
    /** Attempts started, whatever caused them: what maxAttempts bounds. */
    int attempts;
    /** What started each attempt, in order. */
    final List<String> causes = new ArrayList<>();
    int sentBack;
    int verifyRetries;
    /** Where the last failed attempt stays, as its worker said, for the detail of a final failure; or "". */
    String kept = "";
    /** The worker whose commit is under review or in the queue. */
    String writer = "";
    /** What the lead adds to the prompt of the current attempt. */
    String context = "";
    /** Where the next attempt starts when it is not the target's tip: the writer's commit, for requested changes. */
    String fixBase;
    /** What the agent reported it cost, for the landed task's detail; empty for command agents. */
    String usage = "";
    String base = "";
    String worker = "";
    String phase = "";
    /** The last progress detail published, so that periodic heartbeats repeating it are not published again. */
    String said = "";
    String detail = "";
    /** The commit under review, queued or being landed, then the target's tip once landed. */
    String commit;
    Optional<String> preferred = Optional.empty();
    Instant unschedulableSince;
    Instant leaseUntil;
    Instant attemptStarted;
    Instant finished;
    /** Whether the worker granted the current attempt was heard working on it: a lost grant uses no attempt. */
    boolean started;

    Slot(Plan.Task task) {
      this.task = task;
    }

    TaskUpdate.Tally tally() {
      return new TaskUpdate.Tally(failures, sentBack, verifyRetries, writer, attempts, causes);
    }

    void tally(TaskUpdate.Tally t) {
      failures = t.failures();
      sentBack = t.sentBack();
      verifyRetries = t.verifyRetries();
      writer = t.writer();
      attempts = t.attempts();
      causes.clear();
      causes.addAll(t.causes());
    }
  }
}
