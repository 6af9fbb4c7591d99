package dev.lanes.bus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.Topics;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.kafka.KafkaContainer;

/**
 * The same round trip as {@link KafkaBusTest}, against a stock Apache Kafka broker rather than the embedded one, so
 * that nothing works only because of how {@link EmbeddedBroker} is configured. Skipped where there is no Docker.
 */
@Testcontainers(disabledWithoutDocker = true)
class KafkaBusContainerTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @Container static final KafkaContainer KAFKA = new KafkaContainer("apache/kafka:4.1.0");

  @Test
  void publishedMessagesReachSubscribersOfTheirTopic() throws Exception {
    // Closing the bus at the end closes its subscriptions too.
    try (KafkaBus bus = KafkaBus.connect(KAFKA.getBootstrapServers(), "kafka-bus-container-test")) {
      bus.createTopics();
      bus.createTopics();

      Heartbeat before = new Heartbeat("r-tc", "core", 1, "w1", "agent", "before");
      bus.publish(before).get();

      List<Message> reports = new CopyOnWriteArrayList<>();
      List<Message> work = new CopyOnWriteArrayList<>();
      List<Message> history = new CopyOnWriteArrayList<>();
      bus.subscribe(Topics.REPORTS, Bus.Start.NOW, reports::add);
      bus.subscribe(Topics.WORK, Bus.Start.NOW, work::add);
      bus.subscribe(Topics.REPORTS, Bus.Start.BEGINNING, history::add);

      Heartbeat after = new Heartbeat("r-tc", "core", 1, "w1", "verify", "after");
      ClaimGranted grant = new ClaimGranted("r-tc", "core", 1, "w1");
      bus.publish(after).get();
      bus.publish(grant).get();

      await().atMost(WAIT).untilAsserted(() -> {
        assertThat(reports).containsExactly(after);
        assertThat(work).containsExactly(grant);
        assertThat(history).containsExactly(before, after);
      });
    }
  }
}
