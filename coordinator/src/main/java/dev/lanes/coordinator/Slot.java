package dev.lanes.coordinator;

import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The lead's view of one task of a run: its state, the attempt it is at, and what the lead keeps across attempts to
 * decide the next one. Confined, like its {@link Run}, to the lead's event-loop thread.
 *
 * <p>A task moves WAITING → OFFERED → RUNNING → QUEUED → LANDING → LANDED, through REVIEWING between RUNNING and QUEUED
 * when its plan asks for a review, and ends LANDED, FAILED, SKIPPED or PARKED. An epoch names one attempt; an attempt
 * is <em>offered</em> while no worker holds it and <em>granted</em> once one does (a review is both, in turn, under the
 * REVIEWING state). The counters here ({@link #tally}) are recorded with every change of state, so a lead that
 * restarts knows how many attempts a task had and what started each; the rest (leases, the preferred worker, findings
 * held until a result) starts over with the attempt.
 */
final class Slot {
  /** The detail of a grant's own record; progress of the attempt is recorded with other details. */
  static final String GRANTED = "granted to ";
  static final String REVIEW_GRANTED = "review granted to ";
  // What starts an attempt, as the task's detail names it when no attempt is left.
  static final String FIRST = "first";
  static final String AFTER_FAILURE = "after a failure";
  static final String AFTER_FAILED_REVIEW = "a review again after a failed review";
  static final String EXTENDED = "after its claim was extended";
  static final String AFTER_EVICTION = "a fix after an eviction";
  static final String AFTER_REVIEW = "a fix a review asked for";

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
  /** When the current attempt last made progress (its grant, a new phase or new output): what "stuck" is timed by. */
  Instant progressAt;
  /** Whether the inbox was told that the current attempt is stuck; told once until it makes progress. */
  boolean stuckTold;
  /** How many tasks of the run had landed when the current attempt was offered. */
  int landedBefore;

  Slot(Plan.Task task) {
    this.task = task;
  }

  /** A worker holds the current attempt: a writing attempt runs, or a reviewer took the review. */
  boolean granted() {
    return state == TaskState.RUNNING || state == TaskState.REVIEWING && !worker.isEmpty();
  }

  /** The current attempt is out for any worker to claim. */
  boolean offered() {
    return state == TaskState.OFFERED || state == TaskState.REVIEWING && worker.isEmpty();
  }

  boolean reviewing() {
    return state == TaskState.REVIEWING;
  }

  /**
   * Whether the lead counts on attempt {@code epoch} of the task running on {@code worker}: it is the current one, from
   * that worker, and the task has not ended without it. Its result may just have been taken (queued, landing, landed).
   */
  boolean counts(int epoch, String worker) {
    return this.epoch == epoch && this.worker.equals(worker) && state != TaskState.FAILED
        && state != TaskState.SKIPPED && state != TaskState.PARKED && !offered();
  }

  /** What starts a task that waited: its first attempt, or the one its claim was extended for (see Replan). */
  String waitedFor() {
    return attempts == 0 ? FIRST : EXTENDED;
  }

  /** Counts one more attempt, started by {@code cause}. */
  void count(String cause) {
    attempts++;
    causes.add(cause);
  }

  /** A new epoch with nobody holding it yet: what was said of the last attempt no longer holds. */
  void newEpoch() {
    epoch++;
    phase = "";
    worker = "";
    leaseUntil = null;
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
