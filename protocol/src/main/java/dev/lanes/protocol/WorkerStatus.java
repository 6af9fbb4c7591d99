package dev.lanes.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Optional;

/**
 * A worker announces itself: its capabilities and slots, and what it holds. Sent when the worker starts, whenever a
 * lead calls the roll ({@link LeadOnline}), and when a grant reaches it that it cannot take up (its claim was taken
 * back, or it never made one); the lead keeps count of what it has granted itself.
 *
 * @param holds the attempts this worker runs and the claims it awaits an answer to, so that a lead can tell a grant
 *     that never arrived from one that is being worked on; absent in records from before it was added (and from
 *     simulated workers), and then read as unknown
 */
public record WorkerStatus(String worker, String host, List<String> capabilities, int slots, int busy,
    @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<List<Hold>> holds) implements Message {
  public WorkerStatus {
    capabilities = List.copyOf(capabilities);
    holds = holds == null ? Optional.empty() : holds.map(List::copyOf);
  }

  /** A status that says nothing of what the worker holds. */
  public WorkerStatus(String worker, String host, List<String> capabilities, int slots, int busy) {
    this(worker, host, capabilities, slots, busy, Optional.empty());
  }

  /** Whether this status names the attempt {@code epoch} of {@code run}/{@code task}, running or claimed. */
  public boolean holds(String run, String task, int epoch) {
    return holds.orElse(List.of()).stream()
        .anyMatch(h -> h.run().equals(run) && h.task().equals(task) && h.epoch() == epoch);
  }

  @Override
  public String key() {
    return worker;
  }

  /**
   * One attempt a worker holds.
   *
   * @param running true when the worker runs it; false when it claimed it and waits for the grant
   */
  public record Hold(String run, String task, int epoch, boolean running) {}
}
