package dev.lanes.protocol;

import java.util.List;

/** The lead accepted a plan and started a run of it: what it will land, where, and starting from which commit. */
public record RunStarted(String run, String plan, String target, String baseCommit, List<String> tasks)
    implements Message {
  public RunStarted {
    tasks = List.copyOf(tasks);
  }

  @Override
  public String key() {
    return run;
  }
}
