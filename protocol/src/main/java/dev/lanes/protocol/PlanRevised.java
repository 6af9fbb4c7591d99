package dev.lanes.protocol;

/**
 * The lead changed a running plan: it extended a claim, added a follow-up task, re-ordered tasks or applied a lead
 * agent's delta. {@code definition} is the whole plan as it now stands, so that a lead that restarts runs the plan as
 * revised; a plan only grows (a dropped task stays in it, skipped).
 *
 * @param reason what changed and why, in words
 */
public record PlanRevised(String run, Plan definition, String reason) implements Message {
  /** Keyed apart from the run's other records: compaction keeps the run's start and its latest revision both. */
  @Override
  public String key() {
    return TaskRef.planKey(run);
  }
}
