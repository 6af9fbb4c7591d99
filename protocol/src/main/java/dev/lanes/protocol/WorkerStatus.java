package dev.lanes.protocol;

import java.util.List;

/**
 * A worker announces itself: its capabilities and slots. Sent when the worker starts and whenever a lead calls the roll
 * ({@link LeadOnline}); the lead keeps count of what it has granted itself.
 */
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
