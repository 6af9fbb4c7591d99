package dev.lanes.protocol;

import java.util.List;

/** The lead refused a submitted plan; each problem names the field, the value and the rule. */
public record PlanRejected(String request, String plan, List<String> problems) implements Message {
  public PlanRejected {
    problems = List.copyOf(problems);
  }

  @Override
  public String key() {
    return TaskRef.rejectedKey(request);
  }
}
