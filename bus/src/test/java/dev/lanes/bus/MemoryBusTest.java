package dev.lanes.bus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.Topics;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** MemoryBus stands in for KafkaBus in unit tests, so it must keep the same NOW/BEGINNING and encoding rules. */
class MemoryBusTest {
  private static final Duration WAIT = Duration.ofSeconds(5);

  private final MemoryBus bus = new MemoryBus();

  @AfterEach
  void close() {
    bus.close();
  }

  private static Heartbeat heartbeat(String detail) {
    return new Heartbeat("r-1", "core", 1, "w1", "agent", detail);
  }

  @Test
  void subscribeNow_seesOnlyMessagesPublishedAfterSubscribing() {
    bus.publish(heartbeat("before"));
    List<Message> received = new CopyOnWriteArrayList<>();
    bus.subscribe(Topics.REPORTS, Bus.Start.NOW, received::add);

    bus.publish(heartbeat("after"));

    // Delivery is in publish order: had "before" been delivered, it would be first.
    await().atMost(WAIT).until(() -> !received.isEmpty());
    assertThat(received).containsExactly(heartbeat("after"));
  }

  @Test
  void listenerHearsThatEachMessageIsHandledAfterItsDelivery() {
    List<String> events = new CopyOnWriteArrayList<>();
    bus.subscribe(Topics.REPORTS, Bus.Start.NOW, new Bus.Listener() {
      @Override
      public void onMessage(Message message) {
        events.add(((Heartbeat) message).detail());
      }

      @Override
      public void handled() {
        events.add("handled");
      }
    });
    bus.publish(heartbeat("1"));
    bus.publish(heartbeat("2"));

    await().atMost(WAIT).untilAsserted(() -> assertThat(events).hasSize(4));
    assertThat(events).containsExactly("1", "handled", "2", "handled");
  }

  @Test
  void subscribeBeginning_seesEarlierMessagesThenNewOnes() {
    bus.publish(heartbeat("1"));
    bus.publish(heartbeat("2"));
    List<Message> received = new CopyOnWriteArrayList<>();
    bus.subscribe(Topics.REPORTS, Bus.Start.BEGINNING, received::add);
    bus.publish(heartbeat("3"));

    await().atMost(WAIT).untilAsserted(() -> assertThat(received).hasSize(3));
    assertThat(received).containsExactly(heartbeat("1"), heartbeat("2"), heartbeat("3"));
  }

  @Test
  void subscribe_deliversOnlyItsOwnTopic() {
    List<Message> work = new CopyOnWriteArrayList<>();
    bus.subscribe(Topics.WORK, Bus.Start.NOW, work::add);

    bus.publish(heartbeat("for the lead"));
    ClaimGranted grant = new ClaimGranted("r-1", "core", 1, "w1");
    bus.publish(grant);

    await().atMost(WAIT).until(() -> !work.isEmpty());
    assertThat(work).containsExactly(grant);
  }

  @Test
  void publish_messagesGoThroughJson() {
    TaskOffered offer = new TaskOffered(
        "r-1",
        "rename",
        "core",
        2,
        "Rename in core",
        "Rename userId to accountId.",
        List.of("core/"),
        List.of("java"),
        new AgentSpec(List.of("sh", "-c", "true"), 60_000),
        Optional.empty(),
        "3f2c9ab4e1d07c5b8a6f90e2d4c1b7a853e6f012",
        "lanes-work/r-1/core/e2",
        Optional.of("w1"));
    List<Message> received = new CopyOnWriteArrayList<>();
    bus.subscribe(Topics.WORK, Bus.Start.NOW, received::add);

    assertThat(bus.publish(offer)).isCompleted();

    await().atMost(WAIT).until(() -> !received.isEmpty());
    assertThat(received).containsExactly(offer);
    // A decoded copy, not the published instance: it went through the codec as it would over Kafka.
    assertThat(received.get(0)).isNotSameAs(offer);
  }

  @Test
  void closingASubscriptionStopsDelivery() {
    List<Message> closed = new CopyOnWriteArrayList<>();
    List<Message> witness = new CopyOnWriteArrayList<>();
    Bus.Subscription subscription = bus.subscribe(Topics.REPORTS, Bus.Start.NOW, closed::add);
    bus.subscribe(Topics.REPORTS, Bus.Start.NOW, witness::add);
    bus.publish(heartbeat("1"));
    await().atMost(WAIT).until(() -> closed.size() == 1);

    subscription.close();
    bus.publish(heartbeat("2"));

    await().atMost(WAIT).until(() -> witness.size() == 2);
    assertThat(closed).containsExactly(heartbeat("1"));
  }
}
