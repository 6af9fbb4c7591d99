package dev.lanes.protocol;

import java.util.List;

/** A worker announces itself and its free capacity; sent at start, whenever a slot frees, and periodically. */
public record WorkerStatus(String worker, String host, List<String> capabilities, int slots, int busy)
    implements Message {
  public WorkerStatus {
    capabilities = List.copyOf(capabilities);
  }

  @Override
  public String key() {
    return worker;
  }
}
