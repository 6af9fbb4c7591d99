package dev.lanes.coordinator;

import dev.lanes.coordinator.git.TargetBranch;
import dev.lanes.protocol.Claim;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.TaskCancelled;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskRef;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One run of a plan: the state machine of its tasks. Confined to the lead's event-loop thread, so it needs no locks.
 *
 * <p>A task is offered once every task it depends on has landed, starting from the target's tip at that moment (so it
 * sees their work), or from the run's base commit when it depends on nothing. Each offer is a new attempt with a new
 * epoch; the first claim for it wins and gets a lease, which the worker's heartbeats renew. Only a result for the
 * current epoch from the granted worker counts, so a task lands at most once however often it ran. A failed attempt
 * (including a lease that ran out) is offered again until the plan's attempts are used up; then the task is parked.
 *
 * <p>Every change of a task's state is written to the events topic, and acknowledged, <em>before</em> the action it
 * decides (the offer, the grant, the move of the target branch). A lead that restarts replays those records with
 * {@link #restore} and continues with {@link #resume}: what was offered is offered again under a new epoch, leases
 * start over, and a landing that was under way is completed (landing is idempotent).
 */
final class Run {
  private static final Logger LOG = LoggerFactory.getLogger(Run.class);

  private final String id;
  private final Plan plan;
  private final String baseCommit;
  private final Outbox outbox;
  private final TargetBranch repo;
  private final Workers workers;
  private final Clock clock;
  private final Lead.Settings settings;
  private final Instant started;
  private final Map<String, Slot> tasks = new LinkedHashMap<>();
  private final Map<String, List<Slot>> dependents = new HashMap<>();
  /** Tasks that became final and whose dependents have not been looked at yet. */
  private final Queue<Slot> changed = new ArrayDeque<>();
  private int finals;
  private final CompletableFuture<RunReport> done;

  Run(String id, Plan plan, String baseCommit, Outbox outbox, TargetBranch repo, Workers workers, Clock clock,
      Lead.Settings settings, CompletableFuture<RunReport> done) {
    this.done = done;
    this.id = id;
    this.plan = plan;
    this.baseCommit = baseCommit;
    this.outbox = outbox;
    this.repo = repo;
    this.workers = workers;
    this.clock = clock;
    this.settings = settings;
    this.started = clock.instant();
    plan.tasks().forEach(t -> tasks.put(t.id(), new Slot(t)));
    for (Slot slot : tasks.values()) {
      slot.task.after().forEach(d -> dependents.computeIfAbsent(d, k -> new ArrayList<>()).add(slot));
    }
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

  void start() {
    record(new RunStarted(id, plan.name(), plan.target(), baseCommit, List.copyOf(tasks.keySet()), Optional.of(plan)));
    for (Slot slot : tasks.values()) {
      slot.waitingFor = slot.task.after().size();
      if (slot.waitingFor == 0) {
        offer(slot, "from " + shortId(baseCommit));
      }
    }
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
  }

  /** Continues after a replay: see the class comment. */
  void resume() {
    finals = (int) tasks.values().stream().filter(s -> s.state.isFinal()).count();
    Instant now = clock.instant();
    for (Slot slot : tasks.values()) {
      slot.waitingFor = (int) slot.task.after().stream().filter(d -> tasks.get(d).state != TaskState.LANDED).count();
      switch (slot.state) {
        case OFFERED:
          // The same attempt again: no grant for it can be out there unrecorded (see Outbox), so claims for this
          // epoch are still good, and a lead's restart does not use up the task's attempts.
          publishOffer(slot);
          break;
        case RUNNING:
          slot.leaseUntil = now.plus(settings.lease());
          break;
        case LANDING:
          landCommit(slot, slot.commit);
          break;
        case WAITING:
          if (slot.task.after().stream().anyMatch(d -> tasks.get(d).state.isFinal()
              && tasks.get(d).state != TaskState.LANDED)) {
            update(slot, TaskState.SKIPPED, "depends on a task that did not land");
          } else if (slot.waitingFor == 0) {
            offer(slot, "from " + shortId(repo.tip(plan.target()).orElse(baseCommit)));
          }
          break;
        default:
          break;
      }
    }
    advance();
  }

  void onClaim(ClaimRequested claim) {
    Slot slot = tasks.get(claim.task());
    if (slot == null || slot.state != TaskState.OFFERED || slot.epoch != claim.epoch()) {
      LOG.debug("ignored claim {} (state {})", claim, slot == null ? "unknown" : slot.state);
      return;
    }
    slot.worker = claim.worker();
    slot.attemptStarted = clock.instant();
    slot.leaseUntil = slot.attemptStarted.plus(settings.lease());
    slot.preferred.ifPresent(workers::unload);
    slot.preferred = Optional.empty();
    workers.load(claim.worker());
    update(slot, TaskState.RUNNING, "granted to " + claim.worker());
    publish(new ClaimGranted(id, slot.task.id(), slot.epoch, claim.worker()));
  }

  void onHeartbeat(Heartbeat beat) {
    Slot slot = current(beat.task(), beat.epoch(), beat.worker());
    if (slot == null || slot.state != TaskState.RUNNING) {
      return;
    }
    slot.leaseUntil = clock.instant().plus(settings.lease());
    boolean news = !beat.phase().equals(slot.phase) || !beat.detail().isEmpty() && !beat.detail().equals(slot.said);
    if (news) {
      slot.phase = beat.phase();
      slot.said = beat.detail();
      // Progress, not a decision: published for people watching, not awaited.
      outbox.tell(new TaskUpdate(id, slot.task.id(), TaskState.RUNNING, slot.epoch, slot.worker,
          beat.phase() + (beat.detail().isEmpty() ? "" : ": " + beat.detail()), optional(slot.base), Optional.empty()));
    }
  }

  void onFinding(Finding finding) {
    Slot slot = tasks.get(finding.task());
    if (slot != null) {
      slot.findings.add(finding);
      LOG.info("finding on {}: {} {}", finding.task(), finding.kind(), finding.text());
    }
  }

  void onResult(TaskResult result) {
    Slot slot = current(result.task(), result.epoch(), result.worker());
    if (slot == null || slot.state != TaskState.RUNNING) {
      Slot known = tasks.get(result.task());
      if (known != null) {
        // A decision too: recorded, though it changes nothing about the task.
        record(new TaskUpdate(id, known.task.id(), known.state, known.epoch, known.worker, "rejected the result of "
            + "attempt " + result.epoch() + " from " + result.worker() + ": not the current attempt",
            optional(known.base), Optional.ofNullable(known.commit)));
      }
      return;
    }
    slot.finished = clock.instant();
    workers.unload(slot.worker);
    if (result.outcome() != TaskResult.Outcome.PASSED) {
      attemptFailed(slot, failure(result));
    } else {
      land(slot, result);
    }
    advance();
  }

  /**
   * The lead's clock: leases that ran out end their attempt, and offered tasks that no known worker can run are
   * reported once, with the missing capability; when {@code failUnschedulableAfter} is set (the set of workers is
   * fixed, as in {@code lanes run}), such a task fails after that long instead of waiting for a worker that never
   * comes.
   */
  void tick(Instant now) {
    for (Slot slot : List.copyOf(tasks.values())) {
      if (slot.state == TaskState.RUNNING && slot.leaseUntil != null && now.isAfter(slot.leaseUntil)) {
        workers.unload(slot.worker);
        attemptFailed(slot, "the lease of " + slot.worker + " ran out (no heartbeat for "
            + settings.lease().toSeconds() + "s)");
      } else if (slot.state == TaskState.OFFERED) {
        checkSchedulable(slot, now);
      }
    }
    advance();
  }

  private void checkSchedulable(Slot slot, Instant now) {
    Optional<String> why = workers.whyNone(slot.task.requires());
    Optional<Duration> failAfter = settings.failUnschedulableAfter();
    if (why.isEmpty()) {
      slot.unschedulableSince = null;
    } else if (slot.unschedulableSince == null) {
      slot.unschedulableSince = now;
      update(slot, TaskState.OFFERED, "unschedulable: " + why.get());
    } else if (failAfter.isPresent() && !now.isBefore(slot.unschedulableSince.plus(failAfter.get()))) {
      update(slot, TaskState.FAILED, "unschedulable: " + why.get());
    }
  }

  /** Withdraws every attempt in flight and ends the run: what waits is skipped, what runs is cancelled. */
  void cancel(String reason) {
    for (Slot slot : tasks.values()) {
      if (slot.state == TaskState.OFFERED || slot.state == TaskState.RUNNING) {
        if (slot.state == TaskState.RUNNING) {
          workers.unload(slot.worker);
        }
        slot.preferred.ifPresent(workers::unload);
        slot.preferred = Optional.empty();
        update(slot, TaskState.FAILED, "cancelled: " + reason);
        publish(new TaskCancelled(id, slot.task.id(), slot.epoch, reason));
      } else if (slot.state == TaskState.WAITING) {
        update(slot, TaskState.SKIPPED, "cancelled: " + reason);
      }
    }
    advance();
  }

  /** Publishes again the offers nobody has claimed yet, for workers that joined after they went out. */
  void reoffer() {
    tasks.values().stream().filter(s -> s.state == TaskState.OFFERED).forEach(this::publishOffer);
  }

  /**
   * An attempt failed: the task is offered again, from the target's current tip, until it has had the plan's number
   * of attempts; then it is parked with every attempt's reason (or simply failed when only one attempt is allowed).
   */
  private void attemptFailed(Slot slot, String reason) {
    slot.failures.add("attempt " + slot.epoch + ": " + reason);
    if (slot.epoch < settings.maxAttempts()) {
      offer(slot, "attempt " + (slot.epoch + 1) + " after: " + reason);
    } else if (settings.maxAttempts() > 1) {
      update(slot, TaskState.PARKED, "parked after " + slot.epoch + " attempts: " + String.join("; ", slot.failures));
    } else {
      update(slot, TaskState.FAILED, reason);
    }
  }

  private void land(Slot slot, TaskResult result) {
    String commit = result.commit().orElse("");
    if (commit.equals(slot.base) || result.changedFiles().isEmpty()) {
      update(slot, TaskState.LANDED, "nothing to land: the agent changed no file");
    } else if (!repo.hasCommit(commit)) {
      attemptFailed(slot, "commit " + commit + " was not pushed to the repository");
    } else if (!repo.descendsFrom(commit, slot.base)) {
      attemptFailed(slot, "commit " + shortId(commit) + " does not descend from the offered base " + shortId(slot.base));
    } else {
      slot.changedFiles = result.changedFiles().size();
      slot.usage = result.usage().map(u -> String.format(java.util.Locale.ROOT, "; $%.4f, %d turn(s)", u.costUsd(),
          u.turns())).orElse("");
      landCommit(slot, commit);
    }
  }

  /** Records the landing, then moves the target; repeating it after a crash is harmless (landing is idempotent). */
  private void landCommit(Slot slot, String commit) {
    slot.commit = commit;
    update(slot, TaskState.LANDING, "landing " + shortId(commit) + " on " + plan.target());
    outbox.awaitRecorded();
    try {
      String tip = repo.land(plan.target(), commit,
          "Land " + slot.task.id() + ": " + slot.task.title() + " (run " + id + ")");
      slot.commit = tip;
      update(slot, TaskState.LANDED, (slot.changedFiles > 0 ? slot.changedFiles + " file(s), " : "")
          + "target at " + shortId(tip) + slot.usage);
    } catch (TargetBranch.MergeConflict e) {
      slot.commit = null;
      attemptFailed(slot, "does not merge onto " + plan.target() + ": " + e.getMessage());
    } catch (RuntimeException e) {
      // The log could not record the landing, or git failed: the attempt fails rather than the task waiting forever.
      slot.commit = null;
      attemptFailed(slot, "landing failed: " + e.getMessage());
    }
  }

  /**
   * Offers what can run now, skips what never can, and finishes the run when every task is final. Only tasks whose
   * dependencies changed since the last call are looked at: each task counts its dependencies that have not landed,
   * and the tasks that depend on it are found through {@link #dependents}.
   */
  private void advance() {
    while (!changed.isEmpty()) {
      Slot slot = changed.poll();
      for (Slot next : dependents.getOrDefault(slot.task.id(), List.of())) {
        if (next.state != TaskState.WAITING) {
          continue;
        }
        if (slot.state == TaskState.LANDED) {
          if (--next.waitingFor == 0) {
            offer(next, "from " + shortId(repo.tip(plan.target()).orElse(baseCommit)));
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

  /** A new attempt: a new epoch, from the base commit for a first attempt without dependencies, else the target. */
  private void offer(Slot slot, String why) {
    boolean first = slot.epoch == 0 && slot.task.after().isEmpty();
    slot.epoch++;
    slot.base = first ? baseCommit : repo.tip(plan.target()).orElse(baseCommit);
    slot.phase = "";
    slot.worker = "";
    slot.leaseUntil = null;
    update(slot, TaskState.OFFERED, why);
    publishOffer(slot);
  }

  /** Publishes the offer, naming an idle capable worker as preferred; a repeated offer names a new one. */
  private void publishOffer(Slot slot) {
    Plan.Task t = slot.task;
    slot.preferred.ifPresent(workers::unload);
    slot.preferred = workers.pick(t.requires());
    slot.preferred.ifPresent(workers::load);
    publish(new TaskOffered(id, plan.name(), t.id(), slot.epoch, t.title(), t.prompt(),
        t.owns().stream().map(Claim::text).toList(), t.requires(), t.agent(), t.verify(), slot.base,
        TaskRef.branch(id, t.id(), slot.epoch), slot.preferred));
  }

  private void finish() {
    if (done.isDone()) {
      return;
    }
    List<String> landed = new ArrayList<>();
    List<String> failed = new ArrayList<>();
    tasks.values().forEach(s -> (s.state == TaskState.LANDED ? landed : failed).add(s.task.id()));
    record(new RunFinished(id, plan.target(), landed, failed));
    done.complete(report());
  }

  boolean finished() {
    return done.isDone();
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
        Optional.ofNullable(slot.commit)));
  }

  private void record(Message event) {
    outbox.record(event);
  }

  /** An action: it leaves once the decisions before it are recorded (see {@link Outbox}). */
  private void publish(Message message) {
    outbox.send(message);
  }

  private static String failure(TaskResult r) {
    String why = r.error().orElse(r.outcome().toString().toLowerCase(java.util.Locale.ROOT).replace('_', ' '));
    String tail = r.outcome() == TaskResult.Outcome.VERIFY_FAILED ? r.verifyTail() : r.agentTail();
    String last = tail.isBlank() ? "" : " | " + lastLine(tail);
    return why + last;
  }

  private static String lastLine(String text) {
    String[] lines = text.strip().split("\n");
    return lines[lines.length - 1];
  }

  private static Optional<String> optional(String text) {
    return text == null || text.isEmpty() ? Optional.empty() : Optional.of(text);
  }

  static String shortId(String commit) {
    return commit.length() > 10 ? commit.substring(0, 10) : commit;
  }

  /** The lead's view of one task. */
  private static final class Slot {
    final Plan.Task task;
    final List<Finding> findings = new ArrayList<>();
    final List<String> failures = new ArrayList<>();
    TaskState state = TaskState.WAITING;
    int epoch;
    int waitingFor;
    int changedFiles;
    /** What the agent reported it cost, for the landed task's detail; empty for command agents. */
    String usage = "";
    String base = "";
    String worker = "";
    String phase = "";
    /** The last progress detail published, so that periodic heartbeats repeating it are not published again. */
    String said = "";
    String detail = "";
    /** The commit being landed, then the target's tip once landed. */
    String commit;
    Optional<String> preferred = Optional.empty();
    Instant unschedulableSince;
    Instant leaseUntil;
    Instant attemptStarted;
    Instant finished;

    Slot(Plan.Task task) {
      this.task = task;
    }
  }
}
