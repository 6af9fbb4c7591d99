package dev.lanes.bus;

import dev.lanes.protocol.Durations;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.Redactor;
import dev.lanes.protocol.ProtocolException;
import dev.lanes.protocol.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bus on Apache Kafka.
 *
 * <p>One idempotent producer with {@code acks=all} is shared by every publisher of the process: a message is
 * published once it is acknowledged by all in-sync replicas, and retries never duplicate it. Each subscription is a
 * consumer of its own that is <em>assigned</em> every partition of its topic rather than joining a consumer group:
 * every worker must see every offer (a broadcast, not a queue), and assignment avoids group rebalances, so a
 * subscription is live as soon as its position is known. Where each party resumes after a restart is the business of
 * the party (the lead's event log), not of committed group offsets.
 */
public final class KafkaBus implements Bus {
  private static final Logger LOG = LoggerFactory.getLogger(KafkaBus.class);
  private static final Duration POLL = Duration.ofMillis(200);
  private static final Duration COMMIT_EVERY = Duration.ofMillis(200);

  private final ClientConfig config;
  private final String bootstrapServers;
  private final String clientId;
  private final Envelope envelope;
  /** How long each blocking call waits for the cluster ({@link ClientConfig#timeout}). */
  private final Duration timeout;
  private final KafkaProducer<String, byte[]> producer;
  private final List<Poller> pollers = new CopyOnWriteArrayList<>();

  private KafkaBus(ClientConfig config, String clientId, Envelope envelope) {
    this.config = config;
    this.bootstrapServers = config.bootstrapServers();
    this.clientId = clientId;
    this.envelope = envelope;
    this.timeout = config.timeout();
    Properties p = common();
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
    // One request in flight: what is published meanwhile goes out together in the next one. Under load that is
    // several records per request instead of one, which is most of the broker's work (lanes bench dispatch: a third
    // more tasks/s); an idle bus sends at once as before.
    p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 1);
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) timeout.toMillis());
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) Duration.ofMinutes(2).toMillis());
    p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Json.MAX_MESSAGE_BYTES + 4096);
    this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
  }

  /**
   * Connects to a cluster over plaintext as one of the parties of this process, all of which share
   * {@link Envelope#inProcess}'s keys. {@code clientId} shows up in the broker's logs and metrics.
   */
  public static KafkaBus connect(String bootstrapServers, String clientId) {
    return connect(ClientConfig.plaintext(bootstrapServers), clientId, Envelope.inProcess());
  }

  /**
   * Connects with the given client properties (credentials, TLS) applied to the producer, every consumer and the
   * admin client, as one of the parties of this process ({@link Envelope#inProcess}). {@code clientId} shows up in
   * the broker's logs and metrics.
   */
  public static KafkaBus connect(ClientConfig config, String clientId) {
    return connect(config, clientId, Envelope.inProcess());
  }

  /** Connects over plaintext, sealing and opening every message with {@code envelope}. */
  public static KafkaBus connect(String bootstrapServers, String clientId, Envelope envelope) {
    return connect(ClientConfig.plaintext(bootstrapServers), clientId, envelope);
  }

  /** Connects with the given client properties, sealing and opening every message with {@code envelope}. */
  public static KafkaBus connect(ClientConfig config, String clientId, Envelope envelope) {
    return new KafkaBus(config, clientId, envelope);
  }

  /** How this bus signs and checks messages, with its count of refused records. */
  public Envelope envelope() {
    return envelope;
  }

  @Override
  public Optional<dev.lanes.protocol.EnrolmentRequested> enrolment(String id) {
    return envelope.enrolment(id);
  }

  /** How many records the dead-letter topic holds: every record a party of this cluster refused. */
  public long deadLetterCount() {
    Properties p = common();
    p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
    try (KafkaConsumer<String, byte[]> consumer =
        new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> partitions = partitions(consumer, Topics.DEAD);
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
      Map<TopicPartition, Long> start = consumer.beginningOffsets(partitions);
      return partitions.stream().mapToLong(tp -> end.get(tp) - start.get(tp)).sum();
    }
  }

  public String bootstrapServers() {
    return bootstrapServers;
  }

  /** The user's client properties, then what every client of the bus needs. */
  private Properties common() {
    Properties p = config.kafka();
    p.put(AdminClientConfig.CLIENT_ID_CONFIG, clientId);
    return p;
  }

  /**
   * Creates the topics that do not exist yet. A party whose credential may not create topics (on a secured cluster the
   * broker creates them itself) leaves them alone: its subscriptions wait for the topics it reads.
   */
  @Override
  public void createTopics() {
    Properties p = admin();
    List<String> present = new ArrayList<>();
    try (Admin admin = Admin.create(p)) {
      List<NewTopic> topics = new ArrayList<>();
      for (String name : Topics.all()) {
        // One partition: the lead is a single reader, and one partition gives a total order across tasks.
        NewTopic topic = new NewTopic(name, Optional.of(1), Optional.empty());
        if (name.equals(Topics.EVENTS)) {
          // The lead's log: every record about a task holds the task's whole state under the key <run>/task/<id>,
          // and a run's end replaces its start under the key <run> (see TaskRef.key), so the latest record per key
          // is all a replay needs.
          // Compaction keeps replay fast however long the history grows.
          topic.configs(Map.of("cleanup.policy", "compact", "segment.ms", Long.toString(Duration.ofHours(1).toMillis()),
              "min.cleanable.dirty.ratio", "0.1"));
        }
        topics.add(topic);
      }
      admin.createTopics(topics).values().forEach((name, future) -> {
        if (awaitCreated(name, future)) {
          present.add(name);
        }
      });
    }
    awaitLeaders(present);
  }

  /**
   * Whether this party's credential may write to {@code topic}, as the broker says (every operation where the broker
   * authorizes nothing). For a command that does something extra when the credential it was given allows it.
   */
  public boolean mayWrite(String topic) {
    Properties p = admin();
    try (Admin admin = Admin.create(p)) {
      var description = admin.describeTopics(List.of(topic),
              new org.apache.kafka.clients.admin.DescribeTopicsOptions().includeAuthorizedOperations(true))
          .allTopicNames().get(timeout.toMillis(), TimeUnit.MILLISECONDS).get(topic);
      var operations = description.authorizedOperations();
      return operations == null || operations.contains(org.apache.kafka.common.acl.AclOperation.WRITE)
          || operations.contains(org.apache.kafka.common.acl.AclOperation.ALL);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof org.apache.kafka.common.errors.AuthorizationException) {
        return false;
      }
      throw new BusException("cannot describe topic " + topic + " on " + bootstrapServers + ": " + e.getCause(), e);
    } catch (TimeoutException e) {
      throw new BusException("no answer from Kafka at " + bootstrapServers + " within " + Durations.format(timeout), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BusException("interrupted describing " + topic, e);
    }
  }

  /**
   * Returns once every partition's leader answers. A topic that was just created is in the metadata before its leader
   * serves it, and a producer that writes in that moment gets NOT_LEADER_OR_FOLLOWER and can end up with a sequence
   * the broker refuses for good; asking each leader for its end offset (retried until it answers) closes that gap.
   */
  private void awaitLeaders(List<String> topics) {
    if (topics.isEmpty()) {
      return;
    }
    Properties p = common();
    p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
    try (KafkaConsumer<String, byte[]> consumer =
        new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> all = new ArrayList<>();
      for (String topic : topics) {
        all.addAll(partitions(consumer, topic));
      }
      consumer.endOffsets(all);
    } catch (org.apache.kafka.common.errors.TimeoutException e) {
      throw new BusException("the topics' leaders on " + bootstrapServers + " did not answer within "
          + Durations.format(timeout), e);
    }
  }

  /**
   * An admin client's properties: every call waits at most the timeout. Kafka refuses an API timeout below the request
   * timeout, so a short one shortens both.
   */
  private Properties admin() {
    Properties p = common();
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) Math.min(timeout.toMillis(), 30_000));
    return p;
  }

  /**
   * Returns once a broker of the cluster answers, within the timeout; a command calls it first, so that a wrong address
   * or a missing broker is one line within the timeout, not an error from whichever call happens to come first.
   *
   * @throws BusException naming the address and the timeout when no broker answered
   */
  public void awaitReachable() {
    try (Admin admin = Admin.create(admin())) {
      admin.describeCluster().clusterId().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      if (!(e.getCause() instanceof org.apache.kafka.common.errors.TimeoutException)) {
        // An answer after all, such as a refused password: that is what to say.
        throw new BusException("Kafka at " + bootstrapServers + " refused this client: " + e.getCause().getMessage(), e);
      }
      throw new BusException("no Kafka broker answered at " + bootstrapServers + " within " + Durations.format(timeout)
          + credentialsHint(), e);
    } catch (TimeoutException e) {
      throw new BusException("no Kafka broker answered at " + bootstrapServers + " within " + Durations.format(timeout)
          + credentialsHint(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BusException("interrupted waiting for Kafka at " + bootstrapServers, e);
    }
  }

  /**
   * The topics this credential may see, as they are now; for a command that only reads, which must not create any.
   *
   * @throws BusException when the broker does not answer within the timeout
   */
  public java.util.Set<String> topics() {
    try (Admin admin = Admin.create(admin())) {
      return admin.listTopics().names().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new BusException("no answer from Kafka at " + bootstrapServers + " within " + Durations.format(timeout)
          + " listing topics" + credentialsHint(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BusException("interrupted listing topics", e);
    }
  }

  /**
   * What the broker says of the leads' consumer group ({@link Topics#LEAD_GROUP}): whether a member holds the reports
   * topic, which is what serving as the lead means, and which member.
   *
   * @param visible false when this credential may not describe the group: then nothing is known
   * @param holder the member that holds the reports topic ({@code client-id on host}), if one does
   */
  public record LeadGroup(boolean visible, Optional<String> holder) {}

  /** Asks the broker who holds the leads' group now; see {@link LeadGroup}. */
  public LeadGroup leadGroup() {
    try (Admin admin = Admin.create(admin())) {
      var group = admin.describeConsumerGroups(List.of(Topics.LEAD_GROUP)).describedGroups().get(Topics.LEAD_GROUP)
          .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return new LeadGroup(true, group.members().stream()
          .filter(m -> m.assignment().topicPartitions().stream().anyMatch(tp -> tp.topic().equals(Topics.REPORTS)))
          .map(m -> m.clientId() + " on " + m.host().replaceFirst("^/", ""))
          .findFirst());
    } catch (ExecutionException e) {
      if (e.getCause() instanceof org.apache.kafka.common.errors.AuthorizationException) {
        return new LeadGroup(false, Optional.empty());
      } else if (e.getCause() instanceof org.apache.kafka.common.errors.GroupIdNotFoundException) {
        return new LeadGroup(true, Optional.empty()); // no lead ever joined
      }
      throw new BusException("cannot describe the group " + Topics.LEAD_GROUP + " on " + bootstrapServers + ": "
          + e.getCause().getMessage(), e);
    } catch (TimeoutException e) {
      throw new BusException("no answer from Kafka at " + bootstrapServers + " within " + Durations.format(timeout), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BusException("interrupted describing " + Topics.LEAD_GROUP, e);
    }
  }

  /** A plaintext client that gets no answer may be talking to a broker that wants credentials. */
  private String credentialsHint() {
    return config.secured() ? ""
        : " (a secured broker, such as lanes broker without --insecure, wants credentials: --kafka-config FILE)";
  }

  /** Whether the topic exists now; false when this party may not create it (it is not this party's to make). */
  private boolean awaitCreated(String name, org.apache.kafka.common.KafkaFuture<Void> future) {
    try {
      future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (ExecutionException e) {
      if (e.getCause() instanceof TopicExistsException) {
        return true;
      } else if (e.getCause() instanceof org.apache.kafka.common.errors.AuthorizationException) {
        LOG.debug("not allowed to create {}: it is the broker's to create", name);
        return false;
      }
      throw new BusException("cannot create topic " + name + " on " + bootstrapServers + ": " + e.getCause()
          + credentialsHint(), e);
    } catch (TimeoutException e) {
      throw new BusException(
          "no answer from Kafka at " + bootstrapServers + " within " + Durations.format(timeout) + " creating " + name, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BusException("interrupted creating topic " + name, e);
    }
  }

  @Override
  public CompletableFuture<Void> publish(Message message) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    Envelope.Sealed sealed;
    try {
      sealed = envelope.seal(message);
    } catch (BusException e) {
      LOG.warn("not published: {}", e.getMessage());
      done.completeExceptionally(e);
      return done;
    }
    byte[] bytes = sealed.value();
    if (bytes.length > Json.MAX_MESSAGE_BYTES) {
      // Every reader would refuse it; better the publisher hears of it.
      done.completeExceptionally(new BusException(message.getClass().getSimpleName() + " of " + bytes.length
          + " bytes is larger than the limit of " + Json.MAX_MESSAGE_BYTES, null));
      return done;
    }
    ProducerRecord<String, byte[]> record = new ProducerRecord<>(sealed.topic(), sealed.key(), bytes);
    sealed.from().ifPresent(from -> record.headers().add(Envelope.FROM, from));
    sealed.mac().ifPresent(mac -> record.headers().add(Envelope.MAC, mac));
    producer.send(
        record,
        (metadata, error) -> {
          if (error == null) {
            done.complete(null);
          } else {
            LOG.warn("publish of {} failed: {}", message.getClass().getSimpleName(), error.toString());
            done.completeExceptionally(new BusException("publish failed: " + error.getMessage(), error));
          }
        });
    return done;
  }

  /** A dead letter keeps at most this much of the record: enough to see what it was. */
  private static final int DEAD_LETTER_BYTES = 64 * 1024;

  @Override
  public void deadLetter(String source, byte[] value, String reason) {
    // Set aside as read, but what this process knows to be secret still does not leave it.
    byte[] kept = value == null ? new byte[0] : Redactor.process().redact(
        value.length > DEAD_LETTER_BYTES ? java.util.Arrays.copyOf(value, DEAD_LETTER_BYTES) : value);
    ProducerRecord<String, byte[]> record = new ProducerRecord<>(Topics.DEAD, source, kept);
    record.headers().add("lanes-reason",
        Redactor.process().redact(reason).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    record.headers().add("lanes-source", source.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    record.headers().add("lanes-bytes", Integer.toString(value == null ? 0 : value.length)
        .getBytes(java.nio.charset.StandardCharsets.UTF_8));
    producer.send(record, (metadata, error) -> {
      if (error != null) {
        LOG.warn("could not set aside a record from {} ({}): {}", source, reason, error.toString());
      }
    });
  }

  @Override
  public Subscription subscribe(String topic, Start start, Listener listener) {
    Properties p = common();
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Json.MAX_MESSAGE_BYTES * 2);
    p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100);
    p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
    KafkaConsumer<String, byte[]> consumer =
        new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
    try {
      List<TopicPartition> partitions = partitions(consumer, topic);
      consumer.assign(partitions);
      if (start == Start.BEGINNING) {
        consumer.seekToBeginning(partitions);
      } else {
        consumer.seekToEnd(partitions);
      }
      // Resolve the positions now: a message published after subscribe() returns must be seen.
      partitions.forEach(consumer::position);
    } catch (RuntimeException e) {
      consumer.close();
      throw e;
    }
    Poller poller = new Poller(topic, consumer, listener, false);
    pollers.add(poller);
    poller.start();
    return poller;
  }

  @Override
  public Subscription subscribeExclusive(String topic, String group, Listener listener,
      java.util.function.Consumer<Boolean> onActive) {
    Properties p = common();
    p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    // A new group reads what was sent before its first member joined (a plan submitted before the first lead started);
    // afterwards the committed position decides.
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Json.MAX_MESSAGE_BYTES * 2);
    p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100);
    // The member that has the topic keeps it when another joins: with the default (eager) assignor every join would
    // take it away and hand it out again, to either member.
    p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
        org.apache.kafka.clients.consumer.CooperativeStickyAssignor.class.getName());
    // A member that dies is replaced within seconds, not the default 45.
    p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 6000);
    p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 1000);
    KafkaConsumer<String, byte[]> consumer =
        new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
    partitions(consumer, topic);
    Poller poller = new Poller(topic, consumer, listener, true);
    consumer.subscribe(List.of(topic), new org.apache.kafka.clients.consumer.ConsumerRebalanceListener() {
      @Override
      public void onPartitionsAssigned(java.util.Collection<TopicPartition> partitions) {
        if (!partitions.isEmpty()) {
          onActive.accept(true);
        }
      }

      @Override
      public void onPartitionsRevoked(java.util.Collection<TopicPartition> partitions) {
        if (!partitions.isEmpty()) {
          poller.commitNow();
          onActive.accept(false);
        }
      }

      @Override
      public void onPartitionsLost(java.util.Collection<TopicPartition> partitions) {
        if (!partitions.isEmpty()) {
          onActive.accept(false); // another member has the topic already: its position is not ours to commit
        }
      }
    });
    pollers.add(poller);
    poller.start();
    return poller;
  }

  @Override
  public void replay(String topic, Listener listener) {
    Properties p = common();
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Json.MAX_MESSAGE_BYTES * 2);
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000);
    p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
    try (KafkaConsumer<String, byte[]> consumer =
        new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> partitions = partitions(consumer, topic);
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
      Poller reader = new Poller(topic, consumer, listener, false);
      reader.readOnly = true;
      while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
        for (ConsumerRecord<String, byte[]> record : consumer.poll(POLL)) {
          if (record.offset() < end.get(new TopicPartition(record.topic(), record.partition()))) {
            reader.deliver(record);
          }
        }
      }
    }
  }

  private List<TopicPartition> partitions(KafkaConsumer<String, byte[]> consumer, String topic) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      Map<String, List<PartitionInfo>> topics;
      try {
        topics = consumer.listTopics();
      } catch (org.apache.kafka.common.errors.TimeoutException e) {
        throw new BusException("no answer from Kafka at " + bootstrapServers + " within " + Durations.format(timeout)
            + credentialsHint(), e);
      }
      List<PartitionInfo> infos = topics.get(topic);
      if (infos != null && !infos.isEmpty()) {
        return infos.stream().map(i -> new TopicPartition(topic, i.partition())).toList();
      }
      if (System.nanoTime() > deadline) {
        throw new BusException(
            "topic " + topic + " does not exist on " + bootstrapServers
            + " or this credential may not read it (is the lead running?)", null);
      }
      sleep(200);
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BusException("interrupted", e);
    }
  }

  @Override
  public void close() {
    for (Poller poller : pollers) {
      poller.close();
    }
    producer.close(Duration.ofSeconds(5));
  }

  /** One subscription: a consumer and the thread that polls it. */
  private final class Poller implements Subscription {
    private final String topic;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Listener listener;
    private final boolean commits;
    private long lastCommit = System.nanoTime();
    /** Batches were handled since the last commit. */
    private boolean uncommitted;
    /** A batch its listener could not finish: nothing is committed from then on, so the next member reads it again. */
    private boolean stuck;
    /** A replay reads history: what it finds invalid was set aside when it was first read. */
    private boolean readOnly;
    private final Thread thread;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile boolean closing;

    /** {@code commits}: the consumer is a group member whose position is committed after each handled batch. */
    Poller(String topic, KafkaConsumer<String, byte[]> consumer, Listener listener, boolean commits) {
      this.topic = topic;
      this.consumer = consumer;
      this.listener = listener;
      this.commits = commits;
      this.thread = new Thread(this::run, "lanes-bus-" + clientId + "-" + topic);
      this.thread.setDaemon(true);
    }

    void start() {
      thread.start();
    }

    private void run() {
      try {
        while (!closing) {
          var records = consumer.poll(POLL);
          for (ConsumerRecord<String, byte[]> record : records) {
            deliver(record);
          }
          if (!records.isEmpty() && handled()) {
            uncommitted = commits;
          }
          if (uncommitted) {
            commit(); // after an idle poll too, so the last batch before a quiet spell is committed
          }
        }
      } catch (WakeupException e) {
        // closing
      } catch (RuntimeException e) {
        LOG.error("subscription to {} stopped: {}", topic, e.toString(), e);
      } finally {
        consumer.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(2)));
        stopped.countDown();
      }
    }

    /**
     * Commits the position past the handled batches without waiting, at most every {@link #COMMIT_EVERY}: a
     * synchronous commit would put a round trip to the group coordinator after every batch, and a commit per batch
     * would make the broker write its offsets topic a thousand times a second under load. Reports read again after a crash are harmless (each is judged by its
     * epoch), and the position is committed synchronously when the member gives up the topic.
     */
    private void commit() {
      long now = System.nanoTime();
      if (now - lastCommit < COMMIT_EVERY.toNanos()) {
        return;
      }
      lastCommit = now;
      uncommitted = false;
      if (stuck) {
        return;
      }
      consumer.commitAsync((offsets, error) -> {
        if (error != null) {
          LOG.debug("position on {} not committed: {}", topic, error.toString());
        }
      });
    }

    /** Commits the position now, when the member is about to give up the topic. */
    void commitNow() {
      if (stuck) {
        return;
      }
      try {
        consumer.commitSync(Duration.ofSeconds(5));
      } catch (RuntimeException e) {
        LOG.warn("could not commit the position on {}: {}", topic, e.getMessage());
      }
    }

    /** Whether the listener finished the batch; if not, this subscription commits nothing more (see {@link #stuck}). */
    private boolean handled() {
      try {
        listener.handled();
        return true;
      } catch (RuntimeException | AssertionError | LinkageError e) {
        LOG.error("listener on {} could not finish a batch{}: {}", topic,
            commits ? "; the position stays where it is" : "", e.toString());
        stuck = true;
        return false;
      }
    }

    private void deliver(ConsumerRecord<String, byte[]> record) {
      // Neither a bad record nor a failing listener may stop the subscription: the next record is delivered.
      try {
        Optional<Message> message;
        try {
          message = envelope.open(record.topic(), record.key(), record.value(), header(record, Envelope.FROM),
              header(record, Envelope.MAC));
        } catch (ProtocolException e) {
          String where = record.topic() + "-" + record.partition() + "@" + record.offset();
          if (!readOnly) {
            deadLetter(where, record.value(), e.getMessage());
          }
          listener.onInvalid(where, e);
          return;
        }
        if (message.isPresent()) {
          listener.onMessage(message.get());
        }
      } catch (RuntimeException | AssertionError | LinkageError e) {
        LOG.error("listener on {} failed at offset {}: {}", topic, record.offset(), e.toString(), e);
      }
    }

    private static byte[] header(ConsumerRecord<String, byte[]> record, String name) {
      org.apache.kafka.common.header.Header h = record.headers().lastHeader(name);
      return h == null ? null : h.value();
    }

    @Override
    public void close() {
      closing = true;
      consumer.wakeup();
      if (Thread.currentThread() != thread) {
        try {
          stopped.await(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      pollers.remove(this);
    }
  }
}
