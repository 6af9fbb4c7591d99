package dev.lanes.coordinator;

import dev.lanes.bus.Bus;
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
 * sees their work), or from the run's base commit when it depends on nothing. The first claim for the current epoch
 * wins; only a result for the current epoch from the granted worker counts. A passed result is landed at once, which
 * keeps landing one task at a time because the loop is single-threaded.
 */
final class Run {
  private static final Logger LOG = LoggerFactory.getLogger(Run.class);

  private final String id;
  private final Plan plan;
  private final String baseCommit;
  private final Bus bus;
  private final TargetBranch repo;
  private final Workers workers;
  private final Clock clock;
  private final Instant started;
  private final Map<String, Slot> tasks = new LinkedHashMap<>();
  private final Map<String, List<Slot>> dependents = new HashMap<>();
  /** Tasks that became final and whose dependents have not been looked at yet. */
  private final Queue<Slot> changed = new ArrayDeque<>();
  private int finals;
  private final CompletableFuture<RunReport> done = new CompletableFuture<>();

  Run(String id, Plan plan, String baseCommit, Bus bus, TargetBranch repo, Workers workers, Clock clock) {
    this.id = id;
    this.workers = workers;
    this.plan = plan;
    this.baseCommit = baseCommit;
    this.bus = bus;
    this.repo = repo;
    this.clock = clock;
    this.started = clock.instant();
    plan.tasks().forEach(t -> tasks.put(t.id(), new Slot(t)));
    for (Slot slot : tasks.values()) {
      slot.waitingFor = slot.task.after().size();
      slot.task.after().forEach(d -> dependents.computeIfAbsent(d, k -> new ArrayList<>()).add(slot));
    }
  }

  String id() {
    return id;
  }

  CompletableFuture<RunReport> done() {
    return done;
  }

  void start() {
    publish(new RunStarted(id, plan.name(), plan.target(), baseCommit, List.copyOf(tasks.keySet())));
    tasks.values().stream().filter(s -> s.waitingFor == 0).forEach(this::offer);
  }

  void onClaim(ClaimRequested claim) {
    Slot slot = tasks.get(claim.task());
    if (slot == null || slot.state != TaskState.OFFERED || slot.epoch != claim.epoch()) {
      LOG.debug("ignored claim {} (state {})", claim, slot == null ? "unknown" : slot.state);
      return;
    }
    slot.worker = claim.worker();
    slot.attemptStarted = clock.instant();
    slot.preferred.ifPresent(workers::unload);
    slot.preferred = Optional.empty();
    workers.load(claim.worker());
    publish(new ClaimGranted(id, slot.task.id(), slot.epoch, claim.worker()));
    update(slot, TaskState.RUNNING, "granted to " + claim.worker());
  }

  void onHeartbeat(Heartbeat beat) {
    Slot slot = current(beat.task(), beat.epoch(), beat.worker());
    if (slot != null && slot.state == TaskState.RUNNING && !beat.phase().equals(slot.phase)) {
      slot.phase = beat.phase();
      update(slot, TaskState.RUNNING, beat.phase() + (beat.detail().isEmpty() ? "" : ": " + beat.detail()));
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
      LOG.info("rejected result for {} epoch {} from {}: not the current attempt", result.task(), result.epoch(),
          result.worker());
      return;
    }
    slot.finished = clock.instant();
    workers.unload(slot.worker);
    if (result.outcome() != TaskResult.Outcome.PASSED) {
      update(slot, TaskState.FAILED, failure(result));
    } else {
      land(slot, result);
    }
    advance();
  }

  /**
   * Reports offered tasks that no known worker can run, once each, with the missing capability; when
   * {@code failAfter} is given (the set of workers is fixed, as in {@code lanes run}), such a task fails after that
   * long instead of waiting for a worker that will never come.
   */
  void checkSchedulable(Instant now, Optional<Duration> failAfter) {
    for (Slot slot : List.copyOf(tasks.values())) {
      if (slot.state != TaskState.OFFERED) {
        continue;
      }
      Optional<String> why = workers.whyNone(slot.task.requires());
      if (why.isEmpty()) {
        slot.unschedulableSince = null;
      } else if (slot.unschedulableSince == null) {
        slot.unschedulableSince = now;
        update(slot, TaskState.OFFERED, "unschedulable: " + why.get());
      } else if (failAfter.isPresent() && !now.isBefore(slot.unschedulableSince.plus(failAfter.get()))) {
        update(slot, TaskState.FAILED, "unschedulable: " + why.get());
      }
    }
    advance();
  }

  /** Withdraws every attempt in flight and ends the run: what waits is skipped, what runs is cancelled. */
  void cancel(String reason) {
    for (Slot slot : tasks.values()) {
      if (slot.state == TaskState.OFFERED || slot.state == TaskState.RUNNING) {
        publish(new TaskCancelled(id, slot.task.id(), slot.epoch, reason));
        if (slot.state == TaskState.RUNNING) {
          workers.unload(slot.worker);
        }
        slot.preferred.ifPresent(workers::unload);
        slot.preferred = Optional.empty();
        update(slot, TaskState.FAILED, "cancelled: " + reason);
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

  private void land(Slot slot, TaskResult result) {
    String commit = result.commit().orElse("");
    if (commit.equals(slot.base) || result.changedFiles().isEmpty()) {
      update(slot, TaskState.LANDED, "nothing to land: the agent changed no file");
      return;
    }
    if (!repo.hasCommit(commit)) {
      update(slot, TaskState.FAILED, "commit " + commit + " was not pushed to the repository");
      return;
    }
    if (!repo.descendsFrom(commit, slot.base)) {
      update(slot, TaskState.FAILED, "commit " + shortId(commit) + " does not descend from the offered base "
          + shortId(slot.base));
      return;
    }
    update(slot, TaskState.LANDING, "landing " + shortId(commit) + " on " + plan.target());
    try {
      slot.landed = repo.land(plan.target(), commit, "Land " + slot.task.id() + ": " + slot.task.title() + " (run " + id + ")");
      update(slot, TaskState.LANDED, result.changedFiles().size() + " file(s), target at " + shortId(slot.landed));
    } catch (TargetBranch.MergeConflict e) {
      update(slot, TaskState.FAILED, "does not merge onto " + plan.target() + ": " + e.getMessage());
    } catch (LeadException e) {
      update(slot, TaskState.FAILED, "landing failed: " + e.getMessage());
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
            offer(next);
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

  private void offer(Slot slot) {
    slot.epoch++;
    slot.base = slot.task.after().isEmpty() ? baseCommit : repo.tip(plan.target()).orElse(baseCommit);
    slot.phase = "";
    slot.worker = "";
    publishOffer(slot);
    update(slot, TaskState.OFFERED, "from " + shortId(slot.base));
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
    publish(new RunFinished(id, plan.target(), landed, failed));
    done.complete(report());
  }

  RunReport report() {
    List<RunReport.Row> rows = new ArrayList<>();
    for (Slot s : tasks.values()) {
      Duration took = s.attemptStarted == null ? Duration.ZERO
          : Duration.between(s.attemptStarted, s.finished == null ? clock.instant() : s.finished);
      rows.add(new RunReport.Row(s.task.id(), s.state, s.worker, s.epoch, took,
          s.landed == null ? "" : shortId(s.landed), s.detail));
    }
    return new RunReport(id, plan.name(), plan.target(), repo.tip(plan.target()).orElse(""),
        Duration.between(started, clock.instant()), rows);
  }

  private Slot current(String task, int epoch, String worker) {
    Slot slot = tasks.get(task);
    return slot != null && slot.epoch == epoch && slot.worker.equals(worker) ? slot : null;
  }

  private void update(Slot slot, TaskState state, String detail) {
    if (state.isFinal() && !slot.state.isFinal()) {
      finals++;
      changed.add(slot);
    }
    slot.state = state;
    slot.detail = detail;
    publish(new TaskUpdate(id, slot.task.id(), state, slot.epoch, slot.worker, detail));
  }

  private void publish(Message message) {
    // Not awaited: the producer keeps order and retries on its own, and waiting for each acknowledgement would put a
    // broker round trip between every two decisions. A publish that fails for good is logged here.
    bus.publish(message).exceptionally(e -> {
      LOG.error("could not publish {} for run {}: {}", message.getClass().getSimpleName(), id, e.toString());
      return null;
    });
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

  static String shortId(String commit) {
    return commit.length() > 10 ? commit.substring(0, 10) : commit;
  }

  /** The lead's view of one task. */
  private static final class Slot {
    final Plan.Task task;
    final List<Finding> findings = new ArrayList<>();
    TaskState state = TaskState.WAITING;
    int epoch;
    int waitingFor;
    String base = "";
    String worker = "";
    String phase = "";
    String detail = "";
    String landed;
    Optional<String> preferred = Optional.empty();
    Instant unschedulableSince;
    Instant attemptStarted;
    Instant finished;

    Slot(Plan.Task task) {
      this.task = task;
    }
  }
}
