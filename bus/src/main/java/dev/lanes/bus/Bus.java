package dev.lanes.bus;

import dev.lanes.protocol.EnrolmentRequested;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.ProtocolException;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * How the lead and the workers talk: publish a message, subscribe to a topic. {@link KafkaBus} is the real one;
 * {@link MemoryBus} exists for fast unit tests and must behave the same way (JSON on the wire, one delivery thread per
 * subscription, delivery in publish order per topic).
 */
public interface Bus extends AutoCloseable {

  /** Publishes to the message's topic ({@link dev.lanes.protocol.Topics#of}); completes once the bus has it durably. */
  CompletableFuture<Void> publish(Message message);

  /**
   * Delivers every message published to {@code topic} from now on (or from the beginning of the topic's history),
   * one at a time, on a thread of the subscription's own. Returns once the subscription is in place, so a message
   * published after this returns is delivered.
   */
  Subscription subscribe(String topic, Start start, Listener listener);

  /**
   * Joins the consumer group {@code group} on a one-partition topic: one member at a time receives its messages,
   * starting where the group's previous member stopped (a new group: at the topic's beginning), so nothing sent while
   * no member was there is lost. Messages
   * count as handled once {@link Listener#handled} returns after them. {@code onActive} hears, on the subscription's thread and before
   * any message, when this member gains the topic ({@code true}) and when it loses it ({@code false}).
   */
  Subscription subscribeExclusive(String topic, String group, Listener listener, java.util.function.Consumer<Boolean> onActive);

  /** Delivers every message on the topic from its beginning to its end as of the call, in order, then returns. */
  void replay(String topic, Listener listener);

  /**
   * Sets a record aside on {@link dev.lanes.protocol.Topics#DEAD} with the reason it could not be used and where it
   * came from, so that a person can look at it; the caller goes on with the next one.
   */
  void deadLetter(String source, byte[] value, String reason);

  /**
   * What worker {@code id} sends first to introduce its own key to the lead, when this bus holds that key and the
   * enrolment secret (see {@link Envelope}); empty when the lead knows the worker's key otherwise.
   */
  Optional<EnrolmentRequested> enrolment(String id);

  /** Makes sure the topics exist. Idempotent. */
  void createTopics();

  @Override
  void close();

  /** Where a new subscription starts reading. */
  enum Start {
    NOW,
    BEGINNING
  }

  /** Receives messages; a record that is not a valid message goes to {@link #onInvalid} and is skipped. */
  interface Listener {
    void onMessage(Message message);

    /**
     * Called after each batch of messages, before an exclusive subscription moves its committed position past them. A
     * listener that hands messages on to another thread returns from here only once that thread has handled them, so
     * no report counts as handled before it is; one that handles them in {@link #onMessage} has nothing to do.
     */
    default void handled() {}

    default void onInvalid(String where, ProtocolException problem) {
      System.getLogger(Bus.class.getName())
          .log(System.Logger.Level.WARNING, "skipped an invalid record at " + where + ": " + problem.getMessage());
    }
  }

  /** A running subscription; closing it stops delivery. */
  interface Subscription extends AutoCloseable {
    @Override
    void close();
  }
}
