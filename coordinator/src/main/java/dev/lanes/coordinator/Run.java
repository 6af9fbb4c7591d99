package dev.lanes.coordinator;

import dev.lanes.coordinator.git.TargetBranch;
import dev.lanes.coordinator.git.VerifyTrees;
import dev.lanes.git.GitException;
import dev.lanes.git.ResultCheck;
import dev.lanes.protocol.AgentUsage;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.OwnershipRules;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.PlanRevised;
import dev.lanes.protocol.RunBudget;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.TaskCancelled;
import dev.lanes.protocol.TaskGraph;
import dev.lanes.protocol.TaskRef;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.UsageRecorded;
import dev.lanes.protocol.Usd;
import dev.lanes.protocol.WorkerStatus;
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
 * command. What the workers found is folded into the plan by the rules in {@link Replan}: questions park the task
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
 *
 * <p>A run is the state machine and its record; it keeps its parts apart: each task's state is a {@link Slot}, what a
 * result and its findings change is decided by {@link Replan}, what others propose (findings, a lead agent's deltas)
 * is checked and applied by {@link Deltas}, and what is handed out (offers, merge-queue entries) is built by
 * {@link Offers}. The parts decide; every decision is recorded and published through the run's {@link #update},
 * {@link #revise} and {@link #nextAttempt}, so the rules above hold whichever part decided.
 */
final class Run implements MergeQueue.Listener {
  /** How a task update's detail begins when its work was evicted from the merge queue; the board counts these. */
  static final String EVICTED = "evicted from the merge queue: ";
  /** How a task update's detail begins when its worker's lease ran out; the board counts these. */
  static final String LEASE_OF = "the lease of ";
  private static final Logger LOG = LoggerFactory.getLogger(Run.class);
  /** Findings held for one task until its result: an honest attempt sends at most 100 items and a violation. */
  static final int MAX_FINDINGS = 128;

  /** What a run uses of its lead; {@code waitForPeople}: see {@link #advance}. */
  record Context(Outbox outbox, TargetBranch repo, VerifyTrees trees, Workers workers, Clock clock,
      Lead.Settings settings, Executor loop, Executor background, String lead, Ledger ledger, Inbox inbox,
      boolean waitForPeople) {}

  /** How a parked task's detail starts when its agent asked a question (the inbox reads it). */
  static final String ASKS = "needs a human: the agent asks: ";
  /** How a parked task's detail starts when its work was sent back too often. */
  static final String SENT_BACK = "needs a human: sent back ";
  /** How the record of a result that changed nothing starts. */
  static final String REJECTED = "rejected the result of attempt ";

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
  private final Offers offers;
  private final Deltas deltas;
  private final Replan replan;
  private final Actions actions;
  private int finals;
  /** Who paused the run and why; empty while it runs. Paused, nothing is handed out: no offer, no grant. */
  private Optional<String> paused = Optional.empty();
  /** The tasks that landed, in order, so that a task sent back can name the landings it conflicts with. */
  private final List<String> landedOrder = new ArrayList<>();
  private final CompletableFuture<RunReport> done;
  /** The run's budget, and whether it (or the lead's daily budget) holds the run paused: then nothing is offered. */
  private final BudgetGate budget;
  /** Attempts a budget stopped ({@code budget-stop: now}): their results still say what they cost. */
  private final Set<String> stoppedByBudget = new java.util.HashSet<>();

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
    this.offers = new Offers(this, workers);
    this.deltas = new Deltas(this, cx);
    this.replan = new Replan(this, deltas, settings);
    this.budget = new BudgetGate(id, plan.budget());
    this.actions = new Actions(this, cx.inbox());
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

  Plan plan() {
    return plan;
  }

  /** The run's tasks by id, in the plan's order; changed only on the loop, by the run and its parts. */
  Map<String, Slot> slots() {
    return tasks;
  }

  /** Records the start, naming who holds the target for the run, and makes the first offers; returns the record. */
  RunStarted start(String holder) {
    RunStarted start = new RunStarted(id, plan.name(), plan.target(), baseCommit, List.copyOf(tasks.keySet()),
        Optional.of(plan), Optional.of(started.truncatedTo(ChronoUnit.SECONDS).toString()), Optional.of(holder));
    record(start);
    checkBudget("started"); // a lead whose daily budget is spent starts no attempt of a new run either
    for (Slot slot : tasks.values()) {
      slot.waitingFor = (int) slot.task.after().stream().distinct().count();
      if (slot.waitingFor == 0) {
        nextAttempt(slot, Slot.FIRST, "from " + shortId(baseCommit), "");
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
    slot.started = slot.granted() && !slot.detail.startsWith(Slot.GRANTED) && !slot.detail.startsWith(Slot.REVIEW_GRANTED);
    restoredQueue.remove(slot);
    if (slot.state == TaskState.LANDED && !landedOrder.contains(slot.task.id())) {
      landedOrder.add(slot.task.id());
    }
    if (slot.state == TaskState.QUEUED || slot.state == TaskState.LANDING) {
      restoredQueue.add(slot);
    }
  }

  /** Continues after a replay: see the class comment. */
  void resume() {
    finals = (int) tasks.values().stream().filter(s -> s.state.isFinal()).count();
    // Before any offer goes out again: the day may have turned, or the lead's daily budget changed, while none served.
    checkBudget("the lead took over");
    Instant now = clock.instant();
    for (Slot slot : tasks.values()) {
      slot.waitingFor = (int) slot.task.after().stream().distinct().filter(d -> tasks.get(d).state != TaskState.LANDED).count();
      if (slot.offered()) {
        // The same attempt again: no grant for it can be out there unrecorded (see Outbox), so claims for this
        // epoch are still good, and a lead's restart does not use up the task's attempts.
        publishOffer(slot);
      } else if (slot.granted()) {
        // The grant may never have left the lead that decided it: sent again, it is taken up by a worker whose claim
        // is still open and passed over by one that runs the attempt already. A worker that has neither says so
        // when the roll is called (see onStatus), and the task is offered again at once.
        slot.leaseUntil = now.plus(settings.lease());
        slot.progressAt = now;
        LOG.warn("run {}: sent again the grant of attempt {} of {} to {}: it is recorded, but may not have arrived",
            id, slot.epoch, slot.task.id(), slot.worker);
        publish(new ClaimGranted(id, slot.task.id(), slot.epoch, slot.worker));
      } else if (slot.state == TaskState.WAITING) {
        if (slot.task.after().stream().anyMatch(d -> tasks.get(d).state.isFinal()
            && tasks.get(d).state != TaskState.LANDED)) {
          update(slot, TaskState.SKIPPED, "depends on a task that did not land");
        } else if (slot.waitingFor == 0) {
          nextAttempt(slot, slot.waitedFor(), "from " + shortId(tip()), slot.context);
        }
      }
    }
    // Whatever was landing goes first: it was at the head of the queue when the lead stopped.
    restoredQueue.stream().filter(s -> s.state == TaskState.LANDING).forEach(s -> queue.add(offers.entry(s)));
    restoredQueue.stream().filter(s -> s.state == TaskState.QUEUED).forEach(s -> queue.add(offers.entry(s)));
    restoredQueue.clear();
    advance();
  }

  void onClaim(ClaimRequested claim) {
    Slot slot = tasks.get(claim.task());
    // A paused run starts no attempt, whatever was offered before the pause.
    boolean open = !budget.paused() && slot != null && slot.epoch == claim.epoch() && (slot.state == TaskState.OFFERED
        || slot.state == TaskState.REVIEWING && slot.worker.isEmpty() && !claim.worker().equals(slot.writer));
    if (!open || paused.isPresent()) {
      LOG.debug("ignored claim {} (state {}{})", claim, slot == null ? "unknown" : slot.state,
          paused.isPresent() ? ", run paused" : "");
      return;
    }
    slot.worker = claim.worker();
    slot.attemptStarted = clock.instant();
    slot.leaseUntil = slot.attemptStarted.plus(settings.lease());
    slot.progressAt = slot.attemptStarted;
    slot.stuckTold = false;
    slot.preferred.ifPresent(workers::unload);
    slot.preferred = Optional.empty();
    workers.load(claim.worker());
    slot.started = false;
    if (slot.state == TaskState.REVIEWING) {
      update(slot, TaskState.REVIEWING, Slot.REVIEW_GRANTED + claim.worker());
    } else {
      update(slot, TaskState.RUNNING, Slot.GRANTED + claim.worker());
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
      if (slot.granted() && slot.worker.equals(worker) && !status.holds(id, slot.task.id(), slot.epoch)) {
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
      if (hold.running() && hold.run().equals(id) && (slot == null || !slot.counts(hold.epoch(), worker))) {
        String why = slot == null ? "task " + hold.task() + " is not in run " + id
            : "task " + hold.task() + " is " + slot.state.name().toLowerCase(Locale.ROOT) + " at attempt " + slot.epoch;
        LOG.warn("run {}: cancelled again attempt {} of {} on {}: {}", id, hold.epoch(), hold.task(), worker, why);
        publish(new TaskCancelled(id, hold.task(), hold.epoch(), why));
      }
    }
    advance();
  }


  /** Offers a task again whose grant was lost: a new epoch fences the lost grant off, and no attempt is used. */
  private void regrant(Slot slot, String why) {
    if (slot.reviewing()) {
      offerReview(slot, "review offered again: " + why + " (no attempt used)");
    } else {
      slot.fixBase = slot.base.isEmpty() ? null : slot.base; // the same work, from the same commit
      offer(slot, "offered again: " + why + " (no attempt used)", slot.context);
    }
  }

  void onHeartbeat(Heartbeat beat) {
    Slot slot = current(beat.task(), beat.epoch(), beat.worker());
    if (slot == null || !slot.granted()) {
      return;
    }
    slot.leaseUntil = clock.instant().plus(settings.lease());
    slot.started = true;
    boolean news = !beat.phase().equals(slot.phase) || !beat.detail().isEmpty() && !beat.detail().equals(slot.said);
    if (news) {
      slot.progressAt = clock.instant();
      if (slot.stuckTold) {
        slot.stuckTold = false;
        cx.inbox().progressed(id, slot.task.id(), slot.epoch);
      }
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
   * {@link Deltas#checkFinding} changes nothing; the reason is returned for the lead to set the record aside with. Findings
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
            + MAX_FINDINGS + " until its result") : Optional.empty()).or(() -> deltas.checkFinding(finding));
    if (refused.isPresent()) {
      LOG.warn("run {}: refused a finding from {} on {}: {}", id, finding.worker(), finding.task(), refused.get());
      return refused;
    }
    tasks.get(finding.task()).findings.add(finding);
    LOG.info("finding on {}: {} {}", finding.task(), finding.kind(), finding.text());
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
    if (slot == null && stoppedByBudget.remove(attemptKey(result.task(), result.epoch(), result.worker()))) {
      charge(result, tasks.get(result.task()).attempts); // stopped by the budget, and still paid for
      return Optional.empty();
    }
    if (slot == null || !slot.granted()) {
      String why = REJECTED + result.epoch() + " from " + result.worker()
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
    // First: what comes next for the task is decided under the budget this attempt may have used up.
    charge(result, slot.attempts);
    List<Finding> found = slot.findings.stream().filter(f -> f.epoch() == result.epoch()).toList();
    slot.findings.removeIf(f -> f.epoch() <= result.epoch());
    if (slot.state == TaskState.REVIEWING) {
      reviewed(slot, result, found);
    } else {
      replan.written(slot, result, found);
    }
    advance();
    return Optional.empty();
  }

  /**
   * Passed work, as its worker tells it. The lead believes none of it: {@link ResultCheck} reads the diff from the
   * offered base to the pushed commit itself and judges it by the task's claims, the protected paths, the commit's
   * ancestry and the attempt's branch. Work that breaks them never lands, and is not tried again: the worker said it
   * passed, so it either lied or its own check is broken.
   */
  void passed(Slot slot, TaskResult result) {
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

  void addSlot(Plan.Task task) {
    plan = plan.withTasks(plus(plan.tasks(), task));
    tasks.put(task.id(), new Slot(task));
    linkDependents();
  }

  /** A task just added: offered when its dependencies have landed, skipped when one never will. */
  void settleNew(Slot slot) {
    slot.waitingFor = (int) slot.task.after().stream().distinct().filter(d -> tasks.get(d).state != TaskState.LANDED).count();
    Optional<String> lost = slot.task.after().stream()
        .filter(d -> tasks.get(d).state.isFinal() && tasks.get(d).state != TaskState.LANDED).findFirst();
    if (lost.isPresent()) {
      update(slot, TaskState.SKIPPED, "depends on " + lost.get() + ", which did not land");
    } else if (slot.waitingFor == 0) {
      nextAttempt(slot, slot.waitedFor(), "added to the plan; from " + shortId(tip()), "");
    } else {
      update(slot, TaskState.WAITING, "added to the plan; waits for " + String.join(", ", slot.task.after()));
    }
  }

  void replace(Slot slot, Plan.Task next) {
    slot.task = next;
    plan = replaced(plan, next);
    linkDependents();
  }

  static Plan replaced(Plan plan, Plan.Task next) {
    return plan.withTasks(plan.tasks().stream().map(t -> t.id().equals(next.id()) ? next : t).toList());
  }

  /**
   * Why a revision to {@code next} cannot be recorded, if it cannot: a plan only grows, and a decision larger than
   * the bus takes would fail to publish (see {@link Outbox}), so such a revision is refused before anything changes.
   */
  Optional<String> refusal(Plan next, String reason) {
    int size = Outbox.size(new PlanRevised(id, next, reason));
    return size <= Json.MAX_MESSAGE_BYTES ? Optional.empty() : Optional.of("the revised plan (" + reason
        + ") would be a record of " + size + " bytes, more than the " + Json.MAX_MESSAGE_BYTES + " a decision may"
        + " have; the plan stays as it was");
  }

  /** Says that a revision was refused: logged, and published as a finding on the task it was for. */
  void refuseRevision(Slot slot, String why) {
    LOG.warn("run {}: refused a plan revision for {}: {}", id, slot.task.id(), why);
    outbox.tell(new Finding(id, slot.task.id(), slot.epoch, cx.lead(), Finding.REVISION_REFUSED, why, List.of()));
  }

  /** Takes a checked plan as the run's own: its new tasks get a slot, its changed ones their new definition. */
  void adopt(Plan next) {
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
  }

  private void linkDependents() {
    graph = TaskGraph.of(plan);
  }

  /** A change to the plan: recorded whole, before anything it decides is published. */
  void revise(String reason) {
    LOG.info("run {}: plan revised: {}", id, reason);
    record(new PlanRevised(id, plan, reason));
  }

  /**
   * The lead's clock: leases that ran out end their attempt, and offered tasks that no known worker can run are
   * reported once, with the missing capability; when {@code failUnschedulableAfter} is set (the set of workers is
   * fixed, as in {@code lanes run}), such a task fails after that long instead of waiting for a worker that never
   * comes.
   */
  void tick(Instant now) {
    for (Slot slot : List.copyOf(tasks.values())) {
      if (slot.granted() && slot.leaseUntil != null && now.isAfter(slot.leaseUntil)) {
        workers.unload(slot.worker);
        String why = LEASE_OF + slot.worker + " ran out (no heartbeat for " + settings.lease().toSeconds() + "s)";
        cx.inbox().workerLost(slot.worker, why + " while it ran attempt " + slot.epoch + " of " + id + "/"
            + slot.task.id() + "; the task is offered to another worker if it has attempts left");
        attemptFailed(slot, why);
      } else if (slot.granted() && !slot.stuckTold && slot.progressAt != null
          && !now.isBefore(slot.progressAt.plus(cx.inbox().stuckAfter()))) {
        slot.stuckTold = true;
        cx.inbox().stuck(id, slot.task.id(), slot.epoch, slot.worker, Duration.between(slot.progressAt, now),
            slot.phase + (slot.said.isEmpty() ? "" : ": " + slot.said));
      } else if (slot.offered()) {
        checkSchedulable(slot, now);
      }
    }
    advance();
  }

  private void checkSchedulable(Slot slot, Instant now) {
    Optional<String> why = workers.whyNone(slot.task.requires(), slot.reviewing() ? slot.writer : "");
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

  /** Withdraws every attempt in flight and ends the run: what waits is skipped, what runs is cancelled. */
  void cancel(String reason) {
    for (Slot slot : tasks.values()) {
      if (slot.offered() || slot.granted() || slot.state == TaskState.QUEUED || slot.state == TaskState.LANDING) {
        withdraw(slot, reason);
        update(slot, TaskState.FAILED, "cancelled: " + reason);
      } else if (slot.state == TaskState.WAITING) {
        update(slot, TaskState.SKIPPED, "cancelled: " + reason);
      }
    }
    advance();
  }

  /**
   * Ends one task that has not ended: what is out for it is withdrawn and it fails, or it is skipped while it waits;
   * the tasks that depend on it are skipped in turn, and the run goes on with the others.
   */
  void cancelTask(String task, String reason) {
    Slot slot = tasks.get(task);
    if (slot == null || slot.state.isFinal()) {
      return;
    }
    if (slot.state == TaskState.WAITING) {
      update(slot, TaskState.SKIPPED, "cancelled: " + reason);
    } else {
      withdraw(slot, reason);
      update(slot, TaskState.FAILED, "cancelled: " + reason);
    }
    advance();
  }

  /** Takes back whatever is out for the task: its offer or grant, or its place in the merge queue. */
  void withdraw(Slot slot, String reason) {
    if (slot.granted()) {
      workers.unload(slot.worker);
    }
    slot.preferred.ifPresent(workers::unload);
    slot.preferred = Optional.empty();
    if (slot.offered() || slot.granted()) {
      publish(new TaskCancelled(id, slot.task.id(), slot.epoch, reason));
    } else {
      queue.remove(slot.task.id());
    }
  }

  /** Who paused the run and why, while a person holds it paused (a budget's pause is {@link #paused()}). */
  Optional<String> pausedBy() {
    return paused;
  }

  /** Stops handing out attempts: offers wait, claims are passed over, running attempts go on. */
  void pause(String why) {
    paused = Optional.of(why);
    LOG.info("run {}: paused: {}", id, why);
  }

  /** Hands out again what waited while the run was paused. */
  void resumeRun() {
    paused = Optional.empty();
    LOG.info("run {}: resumed", id);
    reoffer();
  }

  /**
   * A task a person sent back to work (see {@link Actions}): the tasks that were skipped because it had not landed,
   * and had no other dependency that will not land, wait for it again, and so on down the plan.
   */
  void reviveDependents(Slot slot) {
    for (String dependent : graph.dependents(slot.task.id())) {
      Slot next = tasks.get(dependent);
      boolean onlyThis = next.task.after().stream().noneMatch(d -> !d.equals(slot.task.id())
          && tasks.get(d).state.isFinal() && tasks.get(d).state != TaskState.LANDED);
      if (next.state == TaskState.SKIPPED && next.detail.startsWith("depends on ") && onlyThis) {
        next.waitingFor = (int) next.task.after().stream().distinct()
            .filter(d -> tasks.get(d).state != TaskState.LANDED).count();
        update(next, TaskState.WAITING, "waits again for " + slot.task.id() + ", which a person sent back to work");
        reviveDependents(next);
      }
    }
  }

  /** Checks a person's action on this run and returns its effect, to take once the action is recorded. */
  Runnable act(Action action) {
    return actions.check(action);
  }

  /** Publishes again the offers nobody has claimed yet, for workers that joined after they went out. */
  void reoffer() {
    if (paused.isPresent()) {
      return;
    }
    tasks.values().stream().filter(Slot::offered).forEach(this::publishOffer);
  }

  /**
   * An attempt failed: the task is offered again (a review is offered again as a review) until it has had the plan's
   * number of attempts; then it is parked with every attempt's reason (or simply failed when only one attempt is
   * allowed).
   */
  void attemptFailed(Slot slot, String reason) {
    attemptFailed(slot, reason, "Your last attempt failed: " + reason);
  }

  /**
   * A failed attempt, whatever ended it (the agent, the verify command, the lease, a worker that lost it), is followed
   * by another one while {@code maxAttempts} allows (see {@link #nextAttempt}).
   *
   * @param context what the next attempt's prompt is told of this failure
   */
  void attemptFailed(Slot slot, String reason, String context) {
    slot.failures++;
    boolean left = attemptLeft(slot, reason); // its detail names this failure once, before the earlier ones
    slot.reasons.add("attempt " + slot.attempts + ": " + reason);
    if (!left) {
      return;
    }
    String why = "attempt " + (slot.attempts + 1) + " of " + settings.maxAttempts() + " after: " + reason;
    if (slot.reviewing()) {
      slot.count(Slot.AFTER_FAILED_REVIEW);
      offerReview(slot, "review " + why);
    } else {
      nextAttempt(slot, Slot.AFTER_FAILURE, why, context);
    }
  }

  /**
   * Starts the task's next attempt, caused by {@code cause}, when {@code maxAttempts} allows one more; otherwise the
   * task stops there (see {@link #attemptLeft}). The one place where a new writing attempt is counted.
   */
  void nextAttempt(Slot slot, String cause, String why, String context) {
    if (attemptLeft(slot, why)) {
      slot.count(cause);
      offer(slot, why, context);
    }
  }

  /**
   * Whether the task may have one more attempt. When it may not, it stops now: parked (failed when only one attempt is
   * allowed), its detail and the log saying what asked for another attempt, how many it had, what started each, and
   * why each failed one failed.
   *
   * @param wanted what asked for another attempt: the last failure, the claim it needs, the eviction
   */
  boolean attemptLeft(Slot slot, String wanted) {
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
      // What a person needs to judge it: the landings it met since its attempt began, and what failed (the context).
      List<String> since = landedOrder.subList(Math.min(slot.landedBefore, landedOrder.size()), landedOrder.size());
      slot.context = context;
      update(slot, TaskState.PARKED, SENT_BACK + slot.sentBack + " times; last: " + reason
          + (since.isEmpty() ? "" : "; it conflicts with the landing of " + String.join(", ", since)));
    } else if (attemptLeft(slot, reason)) {
      slot.fixBase = fixBase;
      nextAttempt(slot, fixBase == null ? Slot.AFTER_EVICTION : Slot.AFTER_REVIEW, reason + "; fix attempt " + slot.sentBack
          + " of " + (settings.maxEvictions() - 1), context);
    }
  }

  private void enqueue(Slot slot) {
    int ahead = queue.tasks().size();
    update(slot, TaskState.QUEUED, (slot.detail.startsWith("approved") ? slot.detail + "; " : "")
        + "in the merge queue" + (ahead > 0 ? " behind " + ahead : ""));
    queue.add(offers.entry(slot));
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
    landedOrder.add(slot.task.id());
    update(slot, TaskState.LANDED, (slot.changedFiles > 0 ? slot.changedFiles + " file(s), " : "")
        + "target at " + shortId(tip) + (slot.sentBack > 0 ? " after " + slot.sentBack + " fix(es)" : "")
        + slot.usage);
    advance();
  }

  @Override
  public void evicted(MergeQueue.Entry entry, MergeQueue.Eviction why) {
    Slot slot = tasks.get(entry.task());
    slot.commit = null;
    sendBack(slot, EVICTED + why.reason(), why.context(), null);
    advance();
  }

  /**
   * Offers what can run now, skips what never can, and finishes the run when every task is final. Only tasks whose
   * dependencies changed since the last call are looked at: each task counts its dependencies that have not landed,
   * and the tasks that depend on it are found through the plan's {@link TaskGraph}.
   */
  void advance() {
    while (!changed.isEmpty()) {
      Slot slot = changed.poll();
      for (String dependent : graph.dependents(slot.task.id())) {
        Slot next = tasks.get(dependent);
        if (next.state != TaskState.WAITING) {
          continue;
        }
        if (slot.state == TaskState.LANDED) {
          if (--next.waitingFor <= 0) {
            nextAttempt(next, next.waitedFor(), "from " + shortId(tip()), next.context);
          }
        } else {
          update(next, TaskState.SKIPPED, "depends on " + slot.task.id() + ", which did not land");
        }
      }
    }
    if (finals == tasks.size() && !(cx.waitForPeople() && cx.inbox().holds(id))) {
      finish();
    }
  }

  String tip() {
    return repo.tip(plan.target()).orElse(baseCommit);
  }

  /** A new writing attempt (see {@link Offers#prepare}): recorded as offered, then published. */
  void offer(Slot slot, String why, String context) {
    offers.prepare(slot, context);
    slot.landedBefore = landedOrder.size();
    update(slot, TaskState.OFFERED, why);
    publishOffer(slot);
  }

  /** A review attempt of the writer's commit, offered to every worker but the writer. */
  private void offerReview(Slot slot, String why) {
    slot.newEpoch();
    update(slot, TaskState.REVIEWING, why);
    publishOffer(slot);
  }

  /**
   * Publishes the offer of the slot's attempt, unless the run is held: by a budget, or paused by a person. It is
   * recorded, and goes out when the run resumes.
   */
  private void publishOffer(Slot slot) {
    if (budget.paused() || paused.isPresent()) {
      return;
    }
    publish(offers.offer(slot));
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

  /**
   * Records what an attempt cost (its agent's report, which the lead checked on entry) in the ledger, then whether
   * that spending pauses the run. Command agents report nothing, and nothing is recorded for them.
   *
   * @param attempt which attempt of its task this was
   */
  private void charge(TaskResult result, int attempt) {
    if (result.usage().isEmpty()) {
      return;
    }
    AgentUsage u = result.usage().get();
    UsageRecorded entry = new UsageRecorded(id, plan.name(), result.task(), result.epoch(), attempt, result.worker(),
        u.model().orElse(""), Usd.of(u.costUsd()), u.inputTokens().orElse(0L), u.outputTokens().orElse(0L),
        u.turns(), AgentUsage.UNFINISHED.equals(u.subtype()), clock.instant().truncatedTo(ChronoUnit.SECONDS)
            .toString());
    record(entry);
    cx.ledger().add(entry);
    checkBudget("spent");
  }

  /**
   * Whether the run's budget or the lead's daily budget pauses the run now, or no longer does; a change is recorded
   * ({@link RunBudget}) and takes effect: a pause withholds every offer (and with {@code budget-stop: now} stops the
   * running attempts), a resume publishes what was withheld.
   *
   * @param why what changed, for the detail of a resume
   */
  void checkBudget(String why) {
    decide(budget.evaluate(cx.ledger().spent(id), daily(), "lead", Optional.empty(), why, clock.instant()));
  }

  /**
   * Why the run's budget cannot be {@code usd} now (naming the field, the value and the rule); empty when it can: a
   * budget is more than the run has spent.
   */
  Optional<String> budgetProblem(java.math.BigDecimal usd) {
    return budget.raiseProblem(usd, cx.ledger().spent(id));
  }

  /** Sets the run's budget, which passed {@link #budgetProblem}, and resumes the run if that lifts its pause. */
  RunBudget raiseBudget(java.math.BigDecimal usd, String by, Optional<String> request) {
    budget.raise(usd);
    RunBudget decided = budget.evaluate(cx.ledger().spent(id), daily(), by, request, "budget set to "
        + Usd.format(Usd.exact(usd)) + " by " + by, clock.instant()).orElseThrow();
    decide(Optional.of(decided));
    return decided;
  }

  /** Takes back the run's latest budget decision, during replay: a run paused before a restart stays paused. */
  void restore(RunBudget decided) {
    budget.restore(decided);
  }

  /** Why the run is paused ({@link RunBudget#BUDGET}, {@link RunBudget#DAILY_BUDGET}); empty while it is not. */
  Optional<String> paused() {
    return budget.pausedFor();
  }

  private Optional<BudgetGate.Daily> daily() {
    return settings.dailyBudgetUsd().map(usd -> new BudgetGate.Daily(usd, cx.ledger().spentOn(clock.instant())));
  }

  private void decide(Optional<RunBudget> decided) {
    if (decided.isEmpty()) {
      return;
    }
    RunBudget d = decided.get();
    record(d);
    LOG.warn("run {}: {}{}", id, d.paused().map(p -> "paused (" + p + "): ").orElse(""), d.detail());
    if (d.paused().isEmpty()) {
      reoffer();
      return;
    }
    for (Slot slot : List.copyOf(tasks.values())) {
      if (slot.offered()) {
        // An offer out before the pause: taken back, so that no worker takes it up while the run is paused.
        publish(new TaskCancelled(id, slot.task.id(), slot.epoch, "run " + id + " is paused: " + d.paused().get()));
        slot.preferred.ifPresent(workers::unload);
        slot.preferred = Optional.empty();
      } else if (slot.granted() && budget.stop() == Plan.Budget.Stop.NOW) {
        String why = "the budget stopped attempt " + slot.epoch + " on " + slot.worker + " (budget-stop: now; its"
            + " worktree is kept there)";
        stoppedByBudget.add(attemptKey(slot.task.id(), slot.epoch, slot.worker));
        withdraw(slot, "run " + id + " is paused: " + d.detail());
        regrant(slot, why);
      }
    }
  }

  private static String attemptKey(String task, int epoch, String worker) {
    return task + "/" + epoch + "/" + worker;
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
        Duration.between(started, clock.instant()), rows, budget.pausedFor().map(p -> budget.detail()));
  }

  private Slot current(String task, int epoch, String worker) {
    Slot slot = tasks.get(task);
    return slot != null && slot.epoch == epoch && slot.worker.equals(worker) ? slot : null;
  }

  /** A decision: recorded before any action that follows it leaves (see {@link Outbox}). */
  void update(Slot slot, TaskState state, String detail) {
    if (state.isFinal() && !slot.state.isFinal()) {
      finals++;
      changed.add(slot);
    } else if (!state.isFinal() && slot.state.isFinal()) {
      finals--; // a person asked for another attempt (see Actions)
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
  static String kept(TaskResult r) {
    return r.kept().map(k -> " (kept " + k.replaceAll("\\p{Cntrl}", "?")
        .substring(0, Math.min(k.length(), 600)) + ")").orElse("");
  }

  static String failure(TaskResult r) {
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

  static <T> List<T> plus(List<T> list, T item) {
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
}
