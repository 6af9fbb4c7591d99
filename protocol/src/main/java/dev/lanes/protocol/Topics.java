package dev.lanes.protocol;

import java.util.List;

/**
 * The three topics Lanes uses and which message travels on which. Lead-to-worker traffic, worker-to-lead traffic and
 * the lead's own record of its decisions are kept apart so that each side reads only what concerns it.
 */
public final class Topics {
  /** Offers, grants, cancels and roll calls, from the lead to every worker. */
  public static final String WORK = "lanes.work";
  /** Claims, heartbeats, results and findings from the workers, and plans from clients: everything for the lead. */
  public static final String REPORTS = "lanes.reports";
  /** The lead's decisions, written before they take effect: its state as a log, replayed when a lead starts. */
  public static final String EVENTS = "lanes.events";

  /**
   * Records no party could use: malformed, of an unknown type, too large, or from a worker nobody knows. Each keeps
   * its original bytes, with the reason and where it came from in its headers.
   */
  public static final String DEAD = "lanes.dead";

  /** The consumer group of the leads on {@link #REPORTS}: whoever holds its one partition is the lead. */
  public static final String LEAD_GROUP = "lanes-lead";

  private Topics() {}

  public static List<String> all() {
    return List.of(WORK, REPORTS, EVENTS, DEAD);
  }

  /** The topic a message belongs on; the one place that routes by message type. */
  public static String of(Message message) {
    if (message instanceof TaskOffered
        || message instanceof ClaimGranted
        || message instanceof TaskCancelled
        || message instanceof LeadOnline
        || message instanceof EnrolmentRefused) {
      return WORK;
    } else if (message instanceof WorkerStatus
        || message instanceof ClaimRequested
        || message instanceof Heartbeat
        || message instanceof TaskResult
        || message instanceof Finding
        || message instanceof PlanSubmitted
        || message instanceof EnrolmentRequested
        || message instanceof BudgetRequested) {
      return REPORTS;
    } else if (message instanceof RunStarted
        || message instanceof TaskUpdate
        || message instanceof RunFinished
        || message instanceof PlanRejected
        || message instanceof PlanRevised
        || message instanceof WorkerEnrolled
        || message instanceof LeadServing
        || message instanceof ActionTaken
        || message instanceof UsageRecorded
        || message instanceof RunBudget
        || message instanceof ActionRefused) {
      return EVENTS;
    }
    throw new IllegalArgumentException("no topic for message type " + message.getClass().getName());
  }
}
