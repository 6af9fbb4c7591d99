package dev.lanes.bus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.internals.Exit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedBrokerTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  @TempDir Path dir;

  @Test
  void theControllersPortIsNeverTheClientsEvenWhenThePickerOffersItAgain() {
    // Binding port 0 twice in a row can hand out the same port twice: the second pick is asked again.
    java.util.Iterator<Integer> picks = List.of(40001, 40001, 40001, 40002).iterator();
    assertThat(EmbeddedBroker.freePortOtherThan(40001, picks::next)).isEqualTo(40002);
    assertThat(picks.hasNext()).isFalse();
    assertThatThrownBy(() -> EmbeddedBroker.freePortOtherThan(40001, () -> 40001))
        .isInstanceOf(IllegalStateException.class).hasMessage("cannot find a free port other than 40001");
  }

  @Test
  void producesAndConsumesARecordThroughAConsumerGroup() throws Exception {
    try (EmbeddedBroker broker = EmbeddedBroker.start(dir)) {
      assertThat(broker.bootstrapServers()).isEqualTo("127.0.0.1:" + broker.port());
      createTopic(broker, "events");

      RecordMetadata sent = produce(broker, "events", "task-1", "hello");
      assertThat(sent.offset()).isZero();

      // A group (rather than assign) proves the single-node settings of __consumer_offsets work.
      String group = "lanes-test";
      List<ConsumerRecord<String, String>> records = consumeWithGroup(broker, "events", group, 1);
      assertThat(records).extracting(ConsumerRecord::key, ConsumerRecord::value)
          .containsExactly(tuple("task-1", "hello"));
      try (Admin admin = admin(broker)) {
        Map<TopicPartition, OffsetAndMetadata> committed =
            admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
        assertThat(committed.get(new TopicPartition("events", 0)).offset()).isEqualTo(1);
      }
    }
  }

  @Test
  void restartOnTheSameDirectoryKeepsTopicsAndRecords() throws Exception {
    String clusterId;
    try (EmbeddedBroker broker = EmbeddedBroker.start(dir)) {
      createTopic(broker, "durable");
      produce(broker, "durable", "k", "before restart");
      clusterId = clusterId(broker);
    }
    assertThat(dir.resolve("meta.properties")).exists();

    try (EmbeddedBroker broker = EmbeddedBroker.start(dir)) {
      assertThat(clusterId(broker)).isEqualTo(clusterId);
      try (Admin admin = admin(broker)) {
        assertThat(admin.listTopics().names().get(10, TimeUnit.SECONDS)).contains("durable");
      }
      assertThat(values(consumeFromStart(broker, "durable", 1))).containsExactly("before restart");

      produce(broker, "durable", "k", "after restart");
      assertThat(values(consumeFromStart(broker, "durable", 2))).containsExactly("before restart", "after restart");
    }
  }

  @Test
  void twoBrokersInOneJvmWorkIndependently() throws Exception {
    try (EmbeddedBroker a = EmbeddedBroker.start(dir.resolve("a"));
        EmbeddedBroker b = EmbeddedBroker.start(dir.resolve("b"))) {
      assertThat(a.port()).isNotEqualTo(b.port());
      assertThat(clusterId(a)).isNotEqualTo(clusterId(b));

      createTopic(a, "only-on-a");
      createTopic(b, "only-on-b");
      produce(a, "only-on-a", "k", "from a");
      produce(b, "only-on-b", "k", "from b");

      assertThat(values(consumeFromStart(a, "only-on-a", 1))).containsExactly("from a");
      assertThat(values(consumeFromStart(b, "only-on-b", 1))).containsExactly("from b");
      try (Admin admin = admin(b)) {
        assertThat(admin.listTopics().names().get(10, TimeUnit.SECONDS))
            .contains("only-on-b")
            .doesNotContain("only-on-a");
      }
    }
  }

  @Test
  void closeIsIdempotentAndFreesThePort() throws Exception {
    int requested = freePort();
    EmbeddedBroker broker = EmbeddedBroker.start(dir, "127.0.0.1", requested);
    assertThat(broker.port()).isEqualTo(requested);
    assertThat(broker.bootstrapServers()).isEqualTo("127.0.0.1:" + requested);

    broker.close();
    assertThatCode(broker::close).doesNotThrowAnyException();

    try (ServerSocket socket = new ServerSocket()) {
      socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), requested));
      assertThat(socket.getLocalPort()).isEqualTo(requested);
    }
  }

  @Test
  void startOnAPortInUseFailsWithAClearMessage() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      assertThatThrownBy(() -> EmbeddedBroker.start(dir, "127.0.0.1", taken.getLocalPort()))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("127.0.0.1:" + taken.getLocalPort())
          .hasMessageContaining("already in use");
    }
    // Nothing was left running: the same directory starts cleanly afterwards.
    try (EmbeddedBroker broker = EmbeddedBroker.start(dir)) {
      createTopic(broker, "after-failure");
      assertThat(produce(broker, "after-failure", "k", "v").offset()).isZero();
    }
  }

  @Test
  void kafkaCannotEndTheJvmWhileABrokerRuns() {
    // If the guard were missing, this would end the test JVM and fail the build loudly.
    try (EmbeddedBroker broker = EmbeddedBroker.start(dir)) {
      assertThatThrownBy(() -> Exit.halt(1, "simulated fatal fault"))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("simulated fatal fault");
      assertThatThrownBy(() -> Exit.exit(1))
          .isInstanceOf(IllegalStateException.class);
    }
  }

  private static Admin admin(EmbeddedBroker broker) {
    return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()));
  }

  private static void createTopic(EmbeddedBroker broker, String topic) throws Exception {
    try (Admin admin = admin(broker)) {
      admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(10, TimeUnit.SECONDS);
    }
  }

  private static String clusterId(EmbeddedBroker broker) throws Exception {
    try (Admin admin = admin(broker)) {
      return admin.describeCluster().clusterId().get(10, TimeUnit.SECONDS);
    }
  }

  private static RecordMetadata produce(EmbeddedBroker broker, String topic, String key, String value)
      throws Exception {
    Map<String, Object> config = Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
        ProducerConfig.ACKS_CONFIG, "all",
        ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
        ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000);
    try (KafkaProducer<String, String> producer =
        new KafkaProducer<>(config, new StringSerializer(), new StringSerializer())) {
      return producer.send(new ProducerRecord<>(topic, key, value)).get(10, TimeUnit.SECONDS);
    }
  }

  private static List<ConsumerRecord<String, String>> consumeWithGroup(
      EmbeddedBroker broker, String topic, String group, int count) {
    Map<String, Object> config = Map.of(
        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
        ConsumerConfig.GROUP_ID_CONFIG, group,
        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
        ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    try (KafkaConsumer<String, String> consumer = consumer(config)) {
      consumer.subscribe(Set.of(topic));
      List<ConsumerRecord<String, String>> records = poll(consumer, count);
      consumer.commitSync(TIMEOUT);
      return records;
    }
  }

  private static List<ConsumerRecord<String, String>> consumeFromStart(
      EmbeddedBroker broker, String topic, int count) {
    Map<String, Object> config = Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
    try (KafkaConsumer<String, String> consumer = consumer(config)) {
      TopicPartition partition = new TopicPartition(topic, 0);
      consumer.assign(Set.of(partition));
      consumer.seekToBeginning(Set.of(partition));
      return poll(consumer, count);
    }
  }

  private static KafkaConsumer<String, String> consumer(Map<String, Object> config) {
    return new KafkaConsumer<>(config, new StringDeserializer(), new StringDeserializer());
  }

  /** Polls until {@code count} records arrived, then a little longer to catch any unexpected extra record. */
  private static List<ConsumerRecord<String, String>> poll(KafkaConsumer<String, String> consumer, int count) {
    List<ConsumerRecord<String, String>> records = new ArrayList<>();
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (records.size() < count && System.nanoTime() < deadline) {
      consumer.poll(Duration.ofMillis(100)).forEach(records::add);
    }
    consumer.poll(Duration.ofMillis(100)).forEach(records::add);
    return records;
  }

  private static List<String> values(List<ConsumerRecord<String, String>> records) {
    return records.stream().map(ConsumerRecord::value).toList();
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }
}
