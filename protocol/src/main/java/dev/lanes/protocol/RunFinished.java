package dev.lanes.protocol;

import java.util.List;

/**
 * Every task of the run reached a final state. It shares its key with the run's {@link RunStarted}, so that the
 * compacted events topic keeps only this, the end, of a finished run.
 */
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
