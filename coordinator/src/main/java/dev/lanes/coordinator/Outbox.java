package dev.lanes.coordinator;

import dev.lanes.bus.Bus;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.Topics;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the lead's promise that a decision is recorded before it takes effect, without making the lead wait.
 *
 * <p>A decision ({@link #record}) is published at once and not awaited. An action ({@link #send}: an offer, a grant, a
 * cancel) goes to a single thread that sends it only once every decision recorded before it is acknowledged by the
 * broker; actions leave in the order they were decided. So the lead's loop never blocks on the broker, and after a
 * crash no action is out there whose decision is not in the log. Only an effect the lead has itself (moving the target
 * branch) waits on the loop, through {@link #awaitRecorded}.
 *
 * <p>The gate is every decision so far, not the last one: a decision that fails to publish while a later one succeeds
 * must still hold back what follows it. So a decision that could never be recorded is refused before it is published:
 * one larger than the bus takes ({@link Json#MAX_MESSAGE_BYTES}) throws at once, and its caller ({@link #fits} lets it
 * ask first) leaves its state as it was. A decision that fails on the broker after that keeps every later action
 * back, since the log no longer holds what the lead decided; the lead's leases and a restart recover from there.
 */
final class Outbox implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Outbox.class);

  private final Bus bus;
  /** Sees every message that leaves, on the caller's thread (the loop): the lead's {@link Board}. */
  private final java.util.function.Consumer<Message> watcher;
  private final ExecutorService sender = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "lanes-lead-outbox");
    t.setDaemon(true);
    return t;
  });
  /** Completes once every decision recorded so far is acknowledged; fails for good once one of them failed. */
  private CompletableFuture<Void> recorded = CompletableFuture.completedFuture(null);

  Outbox(Bus bus) {
    this(bus, message -> {});
  }

  Outbox(Bus bus, java.util.function.Consumer<Message> watcher) {
    this.bus = bus;
    this.watcher = watcher;
  }

  /**
   * Records a decision on the events topic; actions sent after this wait for it, and for every decision before it.
   *
   * @throws LeadException when the decision is too large to record: nothing is published
   */
  void record(Message decision) {
    if (!Topics.EVENTS.equals(Topics.of(decision))) {
      throw new IllegalArgumentException(decision.getClass().getSimpleName() + " is not a decision");
    }
    int size = size(decision);
    if (size > Json.MAX_MESSAGE_BYTES) {
      throw new LeadException(decision.getClass().getSimpleName() + ": " + size + " bytes is more than the "
          + Json.MAX_MESSAGE_BYTES + " a record may have; a decision that cannot be recorded is not taken");
    }
    recorded = recorded.thenCombine(bus.publish(decision), (before, now) -> null);
    watch(decision);
  }

  /** Whether a decision is small enough to record, so that a caller can refuse it before it changes anything. */
  boolean fits(Message decision) {
    return size(decision) <= Json.MAX_MESSAGE_BYTES;
  }

  /** The size of a decision on the bus. */
  static int size(Message decision) {
    return Json.encode(decision).length;
  }

  /** Whether the broker has acknowledged every decision recorded so far: the gate an action sent now waits for. */
  boolean allRecorded() {
    return recorded.isDone() && !recorded.isCompletedExceptionally();
  }

  /** Waits until the broker has every decision recorded so far, before an effect the lead has itself. */
  void awaitRecorded() {
    recorded.join();
  }

  /** Sends an action once every decision recorded so far is acknowledged. */
  void send(Message action) {
    watch(action);
    CompletableFuture<Void> gate = recorded;
    sender.execute(() -> {
      try {
        gate.join();
      } catch (RuntimeException e) {
        // The decision is not in the log, so its action must not go out; leases and re-offers recover from this.
        LOG.error("held back {}: its decision was not recorded: {}", action.getClass().getSimpleName(), e.toString());
        return;
      }
      bus.publish(action).exceptionally(e -> {
        LOG.error("could not publish {}: {}", action.getClass().getSimpleName(), e.toString());
        return null;
      });
    });
  }

  /** Publishes something that is neither a decision nor depends on one (progress for people watching). */
  void tell(Message message) {
    bus.publish(message);
    watch(message);
  }

  /** What watches the lead is told; its failure is logged and never keeps a message back. */
  private void watch(Message message) {
    try {
      watcher.accept(message);
    } catch (RuntimeException e) {
      LOG.warn("the board could not take {}: {}", message.getClass().getSimpleName(), e.toString(), e);
    }
  }

  @Override
  public void close() {
    sender.shutdown();
    try {
      sender.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
