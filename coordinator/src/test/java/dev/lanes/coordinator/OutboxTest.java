package dev.lanes.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.lanes.bus.Bus;
import dev.lanes.bus.MemoryBus;
import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.Claim;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.EnrolmentRequested;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.PlanRevised;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.Topics;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The outbox on an in-memory bus whose acknowledgements of decisions the test hands out one by one, in any order,
 * or fails: an action leaves only once every decision before it is acknowledged.
 */
class OutboxTest {
  private final HeldBus bus = new HeldBus();
  private final Outbox outbox = new Outbox(bus);
  private final List<Message> sent = new CopyOnWriteArrayList<>();

  OutboxTest() {
    bus.subscribe(Topics.WORK, Bus.Start.NOW, sent::add);
  }

  @AfterEach
  void close() {
    outbox.close();
    bus.close();
  }

  @Test
  void send_waitsForEveryEarlierDecisionNotOnlyTheLast() {
    outbox.record(update("a"));
    outbox.record(update("b"));
    outbox.send(grant("a"));

    bus.acknowledge(1); // b, the later decision
    outbox.send(grant("sentinel-held"));
    assertThat(outbox.allRecorded()).as("the gate of both actions: a is not recorded yet").isFalse();
    assertThat(sent).isEmpty();

    bus.acknowledge(0); // a
    await().until(() -> sent.size() == 2);
    assertThat(sent).extracting(m -> ((ClaimGranted) m).task()).containsExactly("a", "sentinel-held");
  }

  @Test
  void send_neverLeavesAfterADecisionThatFailed() {
    outbox.record(update("a"));
    outbox.record(update("b"));
    outbox.send(grant("a"));
    outbox.record(update("c"));
    outbox.send(grant("c"));

    bus.fail(0);
    bus.acknowledge(0);
    bus.acknowledge(0);
    outbox.send(grant("flush"));
    outbox.close(); // waits for the sender to go through everything handed to it

    assertThat(sent).as("the log lacks a's decision, so nothing decided after it goes out").isEmpty();
  }

  @Test
  void record_decisionTooLargeToRecordIsRefusedBeforeItIsPublished() {
    PlanRevised huge = new PlanRevised("r", plan("x".repeat(Json.MAX_MESSAGE_BYTES)), "follow-ups");

    assertThat(outbox.fits(huge)).isFalse();
    assertThatThrownBy(() -> outbox.record(huge)).isInstanceOf(LeadException.class)
        .hasMessageContaining("PlanRevised").hasMessageContaining("more than the " + Json.MAX_MESSAGE_BYTES);
    assertThat(bus.held()).as("nothing was published").isZero();

    outbox.send(grant("after"));
    await().until(() -> sent.size() == 1);
  }

  private static TaskUpdate update(String task) {
    return new TaskUpdate("r", task, TaskState.RUNNING, 1, "w1", "granted", Optional.empty(), Optional.empty());
  }

  private static ClaimGranted grant(String task) {
    return new ClaimGranted("r", task, 1, "w1");
  }

  private static Plan plan(String prompt) {
    return new Plan("p", Optional.empty(), "lanes/p", List.of(new Plan.Task("t", "t", prompt,
        List.of(Claim.parse("t/")), List.of(), List.of(), new AgentSpec(List.of("true"), 1000), Optional.empty())));
  }

  /** A memory bus that holds back the acknowledgement of each event record until the test releases it. */
  private static final class HeldBus implements Bus {
    private final MemoryBus inner = new MemoryBus();
    private final Queue<CompletableFuture<Void>> pending = new ArrayDeque<>();
    private final List<CompletableFuture<Void>> order = new CopyOnWriteArrayList<>();

    @Override
    public synchronized CompletableFuture<Void> publish(Message message) {
      if (!Topics.EVENTS.equals(Topics.of(message))) {
        return inner.publish(message);
      }
      CompletableFuture<Void> ack = new CompletableFuture<>();
      order.add(ack);
      return ack;
    }

    synchronized int held() {
      return (int) order.stream().filter(f -> !f.isDone()).count();
    }

    /** Acknowledges the {@code i}-th decision still held, counting in publish order. */
    synchronized void acknowledge(int i) {
      held(i, f -> f.complete(null));
    }

    synchronized void fail(int i) {
      held(i, f -> f.completeExceptionally(new IllegalStateException("the broker refused it")));
    }

    private void held(int i, Consumer<CompletableFuture<Void>> what) {
      what.accept(order.stream().filter(f -> !f.isDone()).skip(i).findFirst().orElseThrow());
    }

    @Override
    public Subscription subscribe(String topic, Start start, Listener listener) {
      return inner.subscribe(topic, start, listener);
    }

    @Override
    public Subscription subscribeExclusive(String topic, String group, Listener listener,
        Consumer<Boolean> onActive) {
      return inner.subscribeExclusive(topic, group, listener, onActive);
    }

    @Override
    public void replay(String topic, Listener listener) {
      inner.replay(topic, listener);
    }

    @Override
    public void deadLetter(String source, byte[] value, String reason) {
      inner.deadLetter(source, value, reason);
    }

    @Override
    public Optional<EnrolmentRequested> enrolment(String id) {
      return inner.enrolment(id);
    }

    @Override
    public void createTopics() {}

    @Override
    public void close() {
      inner.close();
    }
  }
}
