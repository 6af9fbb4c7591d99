package dev.lanes.protocol;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/**
 * Every message that crosses the bus between the lead and its workers.
 *
 * <p>Each record carries an explicit {@code type} name on the wire. Fields may be added to a record, never renamed or
 * retyped: readers ignore fields they do not know, so an older worker can talk to a newer lead.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = WorkerStatus.class, name = "worker-status"),
  @JsonSubTypes.Type(value = TaskOffered.class, name = "task-offered"),
  @JsonSubTypes.Type(value = ClaimRequested.class, name = "claim-requested"),
  @JsonSubTypes.Type(value = ClaimGranted.class, name = "claim-granted"),
  @JsonSubTypes.Type(value = Heartbeat.class, name = "heartbeat"),
  @JsonSubTypes.Type(value = TaskResult.class, name = "task-result"),
  @JsonSubTypes.Type(value = Finding.class, name = "finding"),
  @JsonSubTypes.Type(value = RunStarted.class, name = "run-started"),
  @JsonSubTypes.Type(value = TaskUpdate.class, name = "task-update"),
  @JsonSubTypes.Type(value = RunFinished.class, name = "run-finished"),
  @JsonSubTypes.Type(value = TaskCancelled.class, name = "task-cancelled"),
  @JsonSubTypes.Type(value = LeadOnline.class, name = "lead-online"),
  @JsonSubTypes.Type(value = PlanSubmitted.class, name = "plan-submitted"),
  @JsonSubTypes.Type(value = PlanRejected.class, name = "plan-rejected"),
  @JsonSubTypes.Type(value = PlanRevised.class, name = "plan-revised"),
  @JsonSubTypes.Type(value = EnrolmentRequested.class, name = "enrolment-requested"),
  @JsonSubTypes.Type(value = WorkerEnrolled.class, name = "worker-enrolled"),
  @JsonSubTypes.Type(value = EnrolmentRefused.class, name = "enrolment-refused"),
  @JsonSubTypes.Type(value = LeadServing.class, name = "lead-serving"),
  @JsonSubTypes.Type(value = ActionTaken.class, name = "action-taken"),
  @JsonSubTypes.Type(value = UsageRecorded.class, name = "usage-recorded"),
  @JsonSubTypes.Type(value = RunBudget.class, name = "run-budget"),
  @JsonSubTypes.Type(value = BudgetRequested.class, name = "budget-requested"),
  @JsonSubTypes.Type(value = ActionRefused.class, name = "action-refused"),
})
public sealed interface Message
    permits WorkerStatus, TaskOffered, ClaimRequested, ClaimGranted, Heartbeat, TaskResult, Finding, RunStarted,
        TaskUpdate, RunFinished, TaskCancelled, LeadOnline, PlanSubmitted, PlanRejected, PlanRevised,
        EnrolmentRequested, WorkerEnrolled, EnrolmentRefused, LeadServing, ActionTaken, UsageRecorded, RunBudget,
        BudgetRequested, ActionRefused {

  /**
   * The record key on the bus. Messages about one task share a key so that they stay in order; worker messages
   * that concern no task are keyed by the worker.
   */
  String key();
}
