package dev.lanes.bus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.ProtocolException;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.Topics;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * KafkaBus against a real broker in this JVM. The broker and its topics are shared by the tests of this class, so
 * every test uses a run id of its own and listens only to messages of that run.
 */
class KafkaBusTest {
  private static final Duration WAIT = Duration.ofSeconds(15);

  @TempDir static Path dataDir;
  private static EmbeddedBroker broker;

  private KafkaBus bus;
  private String run;

  @BeforeAll
  static void startBroker() {
    broker = EmbeddedBroker.start(dataDir);
    try (KafkaBus bus = KafkaBus.connect(broker.bootstrapServers(), "kafka-bus-test-setup")) {
      bus.createTopics();
    }
  }

  @AfterAll
  static void stopBroker() {
    if (broker != null) {
      broker.close();
    }
  }

  @BeforeEach
  void connect(TestInfo test) {
    bus = KafkaBus.connect(broker.bootstrapServers(), "kafka-bus-test");
    run = "r-" + test.getTestMethod().orElseThrow().getName().toLowerCase();
  }

  /** Closing the bus also closes every subscription a test opened on it. */
  @AfterEach
  void disconnect() {
    bus.close();
  }

  @Test
  void createTopics_isIdempotent() throws Exception {
    bus.createTopics();
    bus.createTopics();

    try (Admin admin = admin()) {
      assertThat(admin.listTopics().names().get(10, TimeUnit.SECONDS)).containsAll(Topics.all());
      Map<String, TopicDescription> topics =
          admin.describeTopics(Topics.all()).allTopicNames().get(10, TimeUnit.SECONDS);
      assertThat(topics.values()).allSatisfy(t -> assertThat(t.partitions()).hasSize(1));
    }
  }

  @Test
  void publish_futureCompletesOnceTheBrokerHasTheMessage() throws Exception {
    CompletableFuture<Void> published = bus.publish(heartbeat("core", "1"));
    assertThat(published.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isNull();
    assertThat(published).isCompletedWithValue(null);

    Recorder recorder = new Recorder(run);
    bus.subscribe(Topics.REPORTS, Bus.Start.BEGINNING, recorder);
    await().atMost(WAIT).untilAsserted(() -> assertThat(recorder.messages).containsExactly(heartbeat("core", "1")));
  }

  @Test
  void publish_messageLargerThanTheLimitFailsTheFuture() {
    String detail = "x".repeat(Json.MAX_MESSAGE_BYTES + 10_000);
    CompletableFuture<Void> published = bus.publish(heartbeat("core", detail));

    assertThatThrownBy(() -> published.get(WAIT.toSeconds(), TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOf(BusException.class)
        .hasMessageContaining("is larger than the limit of " + Json.MAX_MESSAGE_BYTES);
  }

  @Test
  void subscribeNow_seesOnlyMessagesPublishedAfterSubscribing() throws Exception {
    bus.publish(heartbeat("core", "before")).get(WAIT.toSeconds(), TimeUnit.SECONDS);

    Recorder recorder = new Recorder(run);
    bus.subscribe(Topics.REPORTS, Bus.Start.NOW, recorder);
    bus.publish(heartbeat("core", "after"));
    // "before" sits earlier in the same partition: had it been delivered, it would have come first.
    await().atMost(WAIT).until(() -> !recorder.messages.isEmpty());
    assertThat(recorder.messages).containsExactly(heartbeat("core", "after"));
  }

  @Test
  void subscribeBeginning_seesEarlierMessagesThenNewOnes() throws Exception {
    bus.publish(heartbeat("core", "1")).get(WAIT.toSeconds(), TimeUnit.SECONDS);
    bus.publish(heartbeat("api", "2")).get(WAIT.toSeconds(), TimeUnit.SECONDS);

    Recorder recorder = new Recorder(run);
    bus.subscribe(Topics.REPORTS, Bus.Start.BEGINNING, recorder);
    await().atMost(WAIT).untilAsserted(() ->
        assertThat(recorder.messages).containsExactly(heartbeat("core", "1"), heartbeat("api", "2")));

    bus.publish(heartbeat("core", "3"));
    await().atMost(WAIT).untilAsserted(() -> assertThat(recorder.messages).hasSize(3));
    assertThat(recorder.messages).last().isEqualTo(heartbeat("core", "3"));
  }

  @Test
  void subscribe_deliversOnlyItsOwnTopic() {
    Recorder work = new Recorder(run);
    bus.subscribe(Topics.WORK, Bus.Start.NOW, work);
    bus.publish(heartbeat("core", "to the lead")); // REPORTS
    bus.publish(new TaskUpdate(run, "core", TaskState.RUNNING, 1, "w1", "granted", Optional.empty(), Optional.empty())); // EVENTS
    ClaimGranted grant = new ClaimGranted(run, "core", 1, "w1"); // WORK
    bus.publish(grant);

    await().atMost(WAIT).until(() -> !work.messages.isEmpty());
    assertThat(work.messages).containsExactly(grant);
  }

  @Test
  void publish_keepsTheOrderOfMessagesWithOneKey() {
    int count = 200;
    Recorder recorder = new Recorder(run);
    bus.subscribe(Topics.REPORTS, Bus.Start.NOW, recorder);
    List<CompletableFuture<Void>> sent = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      sent.add(bus.publish(heartbeat("core", String.valueOf(i))));
    }
    assertThat(CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new))).succeedsWithin(WAIT);

    await().atMost(WAIT).untilAsserted(() -> assertThat(recorder.messages).hasSize(count));
    assertThat(recorder.messages)
        .extracting(m -> ((Heartbeat) m).detail())
        .containsExactlyElementsOf(IntStream.range(0, count).mapToObj(String::valueOf).toList());
  }

  @Test
  void invalidRecordGoesToOnInvalidAndDeliveryGoesOn() {
    Recorder recorder = new Recorder(run);
    bus.subscribe(Topics.REPORTS, Bus.Start.NOW, recorder);
    try (KafkaProducer<String, byte[]> raw = rawProducer()) {
      String key = run + "/core";
      raw.send(new ProducerRecord<>(Topics.REPORTS, key, new byte[] {0, (byte) 0xff, 'x', '{'}));
      raw.send(new ProducerRecord<>(Topics.REPORTS, key, utf8("{\"type\": \"task-exploded\"}")));
      raw.send(new ProducerRecord<>(Topics.REPORTS, key, null)); // a tombstone has no value at all
      raw.flush();
      bus.publish(heartbeat("core", "still here"));

      await().atMost(WAIT).until(() -> !recorder.messages.isEmpty());
      assertThat(recorder.messages).containsExactly(heartbeat("core", "still here"));
      assertThat(recorder.invalid)
          .hasSize(3)
          .allSatisfy(where -> assertThat(where).matches("lanes\\.reports-0@\\d+"));
      assertThat(recorder.problems)
          .allSatisfy(p -> assertThat(p).startsWith("message: "))
          .anySatisfy(p -> assertThat(p).contains("task-exploded"))
          .anySatisfy(p -> assertThat(p).contains("empty"));
    }
  }

  @Test
  void listenerThatThrowsDoesNotStopTheSubscription() {
    List<Message> delivered = new CopyOnWriteArrayList<>();
    AtomicInteger thrown = new AtomicInteger();
    Bus.Listener listener = message -> {
      if (!message.key().startsWith(run + "/")) {
        return;
      }
      delivered.add(message);
      if (((Heartbeat) message).detail().startsWith("boom")) {
        thrown.incrementAndGet();
        throw new IllegalStateException("listener bug");
      }
    };
    bus.subscribe(Topics.REPORTS, Bus.Start.NOW, listener);
    bus.publish(heartbeat("core", "boom 1"));
    bus.publish(heartbeat("core", "boom 2"));
    bus.publish(heartbeat("core", "fine"));

    await().atMost(WAIT).untilAsserted(() -> assertThat(delivered).hasSize(3));
    assertThat(thrown).hasValue(2);
    assertThat(delivered).last().isEqualTo(heartbeat("core", "fine"));
  }

  @Test
  void listenerThatThrowsOnAnInvalidRecordDoesNotStopTheSubscription() {
    List<Message> delivered = new CopyOnWriteArrayList<>();
    AtomicInteger invalid = new AtomicInteger();
    Bus.Listener listener = new Bus.Listener() {
      @Override
      public void onMessage(Message message) {
        if (message.key().startsWith(run + "/")) {
          delivered.add(message);
        }
      }

      @Override
      public void onInvalid(String where, ProtocolException problem) {
        invalid.incrementAndGet();
        throw new IllegalStateException("listener bug in onInvalid");
      }
    };
    bus.subscribe(Topics.REPORTS, Bus.Start.NOW, listener);
    try (KafkaProducer<String, byte[]> raw = rawProducer()) {
      raw.send(new ProducerRecord<>(Topics.REPORTS, run + "/core", utf8("not json")));
      raw.flush();
      bus.publish(heartbeat("core", "after the bad record"));

      await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(delivered).hasSize(1));
      assertThat(invalid).hasValue(1);
    }
  }

  @Test
  void exclusiveSubscription_commitsPastABatchOnlyOnceItsListenerHasHandledIt() throws Exception {
    String group = "g-" + run;
    TopicPartition reports = new TopicPartition(Topics.REPORTS, 0);
    CountDownLatch active = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Recorder recorder = new Recorder(run);
    AtomicInteger waiting = new AtomicInteger();
    Bus.Listener slow = new Bus.Listener() {
      @Override
      public void onMessage(Message message) {
        recorder.onMessage(message);
      }

      @Override
      public void handled() {
        if (!recorder.messages.isEmpty()) {
          waiting.incrementAndGet();
          awaitLatch(release); // as the lead does while its loop works through the batch
        }
      }
    };
    try (Admin admin = admin()) {
      long before = admin.listOffsets(Map.of(reports, OffsetSpec.latest())).partitionResult(reports).get().offset();
      bus.subscribeExclusive(Topics.REPORTS, group, slow, gained -> {
        if (gained) {
          active.countDown();
        }
      });
      assertThat(active.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
      // The history before the reports is committed first, and the commit interval has passed since: a commit made
      // before the listener has handled the reports would go out at once.
      await().atMost(WAIT).untilAsserted(() -> assertThat(committed(admin, group, reports)).isEqualTo(before == 0 ? -1 : before));
      Thread.sleep(300);
      for (int i = 0; i < 3; i++) {
        bus.publish(heartbeat("core", "report " + i)).get(WAIT.toSeconds(), TimeUnit.SECONDS);
      }
      await().atMost(WAIT).untilAsserted(() -> assertThat(waiting).hasPositiveValue());
      Thread.sleep(600); // three commit intervals: a commit past the reports would have happened by now
      assertThat(committed(admin, group, reports)).isLessThanOrEqualTo(before);

      release.countDown();
      await().atMost(WAIT).untilAsserted(() -> assertThat(committed(admin, group, reports)).isGreaterThanOrEqualTo(before + 3));
      assertThat(recorder.messages).hasSize(3);

      // A report handled within the commit interval of the last commit, then silence: still committed.
      bus.publish(heartbeat("core", "last before a quiet spell")).get(WAIT.toSeconds(), TimeUnit.SECONDS);
      await().atMost(WAIT).untilAsserted(() -> assertThat(committed(admin, group, reports)).isEqualTo(before + 4));
    }
  }

  private static long committed(Admin admin, String group, TopicPartition partition) throws Exception {
    OffsetAndMetadata at = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().get(partition);
    return at == null ? -1 : at.offset();
  }

  private static void awaitLatch(CountDownLatch latch) {
    try {
      latch.await(WAIT.toSeconds(), TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Test
  void closingASubscriptionStopsDelivery() throws Exception {
    Recorder closed = new Recorder(run);
    Recorder witness = new Recorder(run);
    bus.subscribe(Topics.REPORTS, Bus.Start.NOW, witness);
    Bus.Subscription subscription = bus.subscribe(Topics.REPORTS, Bus.Start.NOW, closed);
    bus.publish(heartbeat("core", "1"));
    await().atMost(WAIT).untilAsserted(() -> assertThat(closed.messages).hasSize(1));

    subscription.close();
    bus.publish(heartbeat("core", "2")).get(WAIT.toSeconds(), TimeUnit.SECONDS);
    bus.publish(heartbeat("core", "3"));

    // The open subscription reads the same partition: once it has both, the closed one would have had them too.
    await().atMost(WAIT).untilAsserted(() -> assertThat(witness.messages).hasSize(3));
    assertThat(closed.messages).containsExactly(heartbeat("core", "1"));
  }

  @Test
  void closingTheBusStopsItsSubscriptions() throws Exception {
    Recorder closed = new Recorder(run);
    Recorder witness = new Recorder(run);
    KafkaBus other = KafkaBus.connect(broker.bootstrapServers(), "kafka-bus-test-other");
    other.subscribe(Topics.REPORTS, Bus.Start.NOW, closed);
    bus.subscribe(Topics.REPORTS, Bus.Start.NOW, witness);
    other.close();

    bus.publish(heartbeat("core", "after close")).get(WAIT.toSeconds(), TimeUnit.SECONDS);
    await().atMost(WAIT).untilAsserted(() -> assertThat(witness.messages).hasSize(1));
    assertThat(closed.messages).isEmpty();
  }

  @Test
  void closingASubscriptionTwiceDoesNothing() {
    Bus.Subscription subscription = bus.subscribe(Topics.EVENTS, Bus.Start.NOW, new Recorder(run));
    subscription.close();
    assertThatCode(subscription::close).doesNotThrowAnyException();
  }

  private Heartbeat heartbeat(String task, String detail) {
    return new Heartbeat(run, task, 1, "w1", "agent", detail);
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static Admin admin() {
    return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()));
  }

  private static KafkaProducer<String, byte[]> rawProducer() {
    return new KafkaProducer<>(
        Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()),
        new StringSerializer(),
        new ByteArraySerializer());
  }

  /** Keeps the messages of one run, and every invalid record, in the order they arrive. */
  static final class Recorder implements Bus.Listener {
    final String run;
    final List<Message> messages = new CopyOnWriteArrayList<>();
    final List<String> invalid = new CopyOnWriteArrayList<>();
    final List<String> problems = new CopyOnWriteArrayList<>();

    Recorder(String run) {
      this.run = run;
    }

    @Override
    public void onMessage(Message message) {
      if (message.key().equals(run) || message.key().startsWith(run + "/")) {
        messages.add(message);
      }
    }

    @Override
    public void onInvalid(String where, ProtocolException problem) {
      invalid.add(where);
      problems.add(problem.getMessage());
    }
  }
}
