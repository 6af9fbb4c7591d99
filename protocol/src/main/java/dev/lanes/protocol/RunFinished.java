package dev.lanes.protocol;

import java.util.List;

/** Every task of the run reached a final state. */
public record RunFinished(String run, String target, List<String> landed, List<String> failed) implements Message {
  public RunFinished {
    landed = List.copyOf(landed);
    failed = List.copyOf(failed);
  }

  @Override
  public String key() {
    return run;
  }
}
