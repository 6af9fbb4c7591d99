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
 * @param instance which worker process this is, so that a lead can tell two processes that use one id apart where
 *     message keys do not (an unsigned cluster, or two workers given one key); absent from simulated workers and
 *     workers from before it was added, which are not told apart
 */
public record WorkerStatus(String worker, String host, List<String> capabilities, int slots, int busy,
    @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<List<Hold>> holds,
    @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<Instance> instance) implements Message {
  public WorkerStatus {
    capabilities = List.copyOf(capabilities);
    holds = holds == null ? Optional.empty() : holds.map(List::copyOf);
    instance = instance == null ? Optional.empty() : instance;
  }

  /** A status that does not say which process sent it. */
  public WorkerStatus(String worker, String host, List<String> capabilities, int slots, int busy,
      Optional<List<Hold>> holds) {
    this(worker, host, capabilities, slots, busy, holds, Optional.empty());
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

  /**
   * One worker process, as its directory names it: a worker started again on its directory is the same instance, a
   * second process with the id and a directory of its own is another.
   *
   * @param id random, made when the directory was first used, and kept in it
   * @param dir the worker's directory on its host, to say where it runs
   */
  public record Instance(String id, String dir) {}
}
