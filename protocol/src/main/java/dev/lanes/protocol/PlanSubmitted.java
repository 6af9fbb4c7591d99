package dev.lanes.protocol;

import java.util.Optional;

/**
 * A client asks the lead to run a plan ({@code lanes submit}). The lead answers with {@link RunStarted} or
 * {@link PlanRejected}, both naming the same {@code request}.
 *
 * @param existingTarget what to do when the plan's target already exists and is ahead of its base; empty: refuse
 */
public record PlanSubmitted(String request, Plan definition, String submitter, Optional<ExistingTarget> existingTarget)
    implements Message {
  public PlanSubmitted {
    existingTarget = existingTarget == null ? Optional.empty() : existingTarget;
  }

  /** A submission that leaves an existing target ahead of its base to be refused. */
  public PlanSubmitted(String request, Plan definition, String submitter) {
    this(request, definition, submitter, Optional.empty());
  }

  @Override
  public String key() {
    return request;
  }
}
