package dev.lanes.protocol;

import java.util.List;
import java.util.Optional;

/**
 * The lead accepted a plan and started a run of it: what it will land, where, and starting from which commit.
 *
 * @param definition the whole plan as the lead runs it (with any ordering the ownership check added), so that a lead
 *     that restarts can rebuild the run from its log; empty only in records from before it was added
 */
public record RunStarted(String run, String plan, String target, String baseCommit, List<String> tasks,
    Optional<Plan> definition) implements Message {
  public RunStarted {
    tasks = List.copyOf(tasks);
    definition = definition == null ? Optional.empty() : definition;
  }

  @Override
  public String key() {
    return run;
  }
}
