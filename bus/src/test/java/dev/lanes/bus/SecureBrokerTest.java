package dev.lanes.bus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.LeadOnline;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.Topics;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A secured broker (SASL_SSL, SCRAM-SHA-512, ACLs) made in a temporary directory, and what each client file it writes
 * can and cannot do there. Every check connects with real Kafka clients, over TLS verified against the broker's CA.
 */
class SecureBrokerTest {
  private static final Duration WAIT = Duration.ofSeconds(15);

  @TempDir static Path dir;
  private static BrokerDir brokerDir;
  private static EmbeddedBroker broker;

  @BeforeAll
  static void start() {
    brokerDir = BrokerDir.open(dir, "127.0.0.1");
    broker = EmbeddedBroker.startSecure(brokerDir, "127.0.0.1", 0);
  }

  @AfterAll
  static void stop() {
    if (broker != null) {
      broker.close();
    }
  }

  @Test
  void clientFilesAndSecretsAreReadableByTheirOwnerOnly() throws Exception {
    for (String role : List.of("lead", "worker", "submit")) {
      Path file = ClientFiles.path(dir, role);
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
      Properties p = ClientFiles.read(file);
      assertThat(p.getProperty("bootstrap.servers")).isEqualTo(broker.bootstrapServers());
      assertThat(p.getProperty("security.protocol")).isEqualTo("SASL_SSL");
      assertThat(p.getProperty("sasl.mechanism")).isEqualTo("SCRAM-SHA-512");
      assertThat(p.getProperty("sasl.jaas.config")).contains("username=\"" + role + "\"");
      assertThat(p.getProperty("ssl.truststore.certificates")).startsWith("-----BEGIN CERTIFICATE-----");
    }
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("clients"))))
        .isEqualTo("rwx------");
    for (Path secret : List.of(dir.resolve("secrets.properties"), dir.resolve("tls/ca.p12"),
        dir.resolve("tls/broker.p12"))) {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(secret))).as(secret.toString())
          .isEqualTo("rw-------");
    }
    // The format step's temporary configuration never held a password, and Kafka's data holds none in plain text.
    String secretsText = Files.readString(dir.resolve("secrets.properties"));
    String adminPassword = brokerDir.password(BrokerDir.ADMIN);
    assertThat(secretsText).contains(adminPassword);
    try (var files = Files.walk(dir.resolve("kafka"))) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        assertThat(new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1)).as(f.toString())
            .doesNotContain(adminPassword);
      }
    }
  }

  @ParameterizedTest(name = "{0} writes {1}: {2}")
  @CsvSource({
      "lead, lanes.work, true", "lead, lanes.events, true", "lead, lanes.dead, true", "lead, lanes.reports, true",
      "worker, lanes.reports, true", "worker, lanes.dead, true", "worker, lanes.work, false",
      "worker, lanes.events, false",
      "submit, lanes.reports, true", "submit, lanes.work, false", "submit, lanes.events, false",
      "submit, lanes.dead, true"})
  void eachRoleWritesOnlyTheTopicsItNeeds(String role, String topic, boolean allowed) {
    ClientConfig config = ClientConfig.load(ClientFiles.path(dir, role), Optional.empty());
    if (allowed) {
      assertThat(produce(config, topic)).isNull();
    } else {
      assertThat(produce(config, topic)).isInstanceOf(AuthorizationException.class);
    }
  }

  @ParameterizedTest(name = "{0} reads {1}: {2}")
  @CsvSource({
      "lead, lanes.reports, true", "lead, lanes.events, true", "lead, lanes.work, false",
      "worker, lanes.work, true", "worker, lanes.reports, false", "worker, lanes.events, false",
      "submit, lanes.events, true", "submit, lanes.reports, false", "submit, lanes.work, false"})
  void eachRoleReadsOnlyTheTopicsItNeeds(String role, String topic, boolean allowed) {
    ClientConfig config = ClientConfig.load(ClientFiles.path(dir, role), Optional.empty());
    Properties p = config.kafka();
    p.put("default.api.timeout.ms", 10_000);
    try (KafkaConsumer<String, String> consumer =
        new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
      TopicPartition partition = new TopicPartition(topic, 0);
      consumer.assign(List.of(partition));
      consumer.seekToBeginning(List.of(partition));
      if (allowed) {
        consumer.position(partition);
        consumer.poll(Duration.ofMillis(200));
      } else {
        assertThatThrownBy(() -> {
          consumer.position(partition);
          consumer.poll(Duration.ofMillis(500));
        }).isInstanceOf(AuthorizationException.class);
      }
    }
  }

  @Test
  void aClientWithoutCredentialsWritesNoTopic() {
    for (String topic : Topics.all()) {
      assertThat(produce(ClientConfig.plaintext(broker.bootstrapServers()), topic)).as(topic).isNotNull();
    }
    // TLS alone, trusting the CA but with no SASL login, gets no further.
    Map<String, String> tlsOnly = Map.of("bootstrap.servers", broker.bootstrapServers(),
        "security.protocol", "SSL", "ssl.truststore.type", "PEM", "ssl.truststore.certificates", brokerDir.caPem());
    assertThat(produce(ClientConfig.of(tlsOnly), Topics.REPORTS)).isNotNull();
  }

  @Test
  void aWrongPasswordIsRefused() throws Exception {
    Properties p = ClientFiles.read(ClientFiles.path(dir, "lead"));
    String jaas = p.getProperty("sasl.jaas.config");
    p.setProperty("sasl.jaas.config", jaas.replaceAll("password=\"[^\"]+\"", "password=\"guessed\""));
    Map<String, String> map = new java.util.HashMap<>();
    p.stringPropertyNames().forEach(n -> map.put(n, p.getProperty(n)));
    assertThat(produce(ClientConfig.of(map), Topics.WORK)).isInstanceOf(AuthenticationException.class);
  }

  @Test
  void noRoleMayCreateTopicsOrChangeAcls() {
    for (String role : List.of("lead", "worker", "submit")) {
      Properties p = ClientConfig.load(ClientFiles.path(dir, role), Optional.empty()).kafka();
      try (Admin admin = Admin.create(p)) {
        assertThatThrownBy(() -> admin.createTopics(List.of(new NewTopic("lanes.x", 1, (short) 1))).all()
            .get(10, TimeUnit.SECONDS)).as(role).hasCauseInstanceOf(AuthorizationException.class);
        assertThatThrownBy(() -> admin.createAcls(Role.LEAD.acls(role)).all().get(10, TimeUnit.SECONDS))
            .as(role).hasCauseInstanceOf(AuthorizationException.class);
      }
    }
  }

  @Test
  void leadAndWorkerTalkOverTheBusWithTheirFiles() throws Exception {
    ClientConfig lead = ClientConfig.load(ClientFiles.path(dir, "lead"), Optional.empty());
    ClientConfig worker = ClientConfig.load(ClientFiles.path(dir, "worker"), Optional.empty());
    BlockingQueue<Message> atWorker = new LinkedBlockingQueue<>();
    BlockingQueue<Message> atLead = new LinkedBlockingQueue<>();
    try (KafkaBus leadBus = KafkaBus.connect(lead, "test-lead");
        KafkaBus workerBus = KafkaBus.connect(worker, "test-worker")) {
      leadBus.createTopics(); // not the lead's to create: it goes on without them
      workerBus.createTopics();
      workerBus.subscribe(Topics.WORK, Bus.Start.NOW, atWorker::add);
      leadBus.subscribeExclusive(Topics.REPORTS, Topics.LEAD_GROUP, atLead::add, active -> {});
      leadBus.publish(new LeadOnline("secure-lead")).get(15, TimeUnit.SECONDS);
      assertThat(atWorker.poll(15, TimeUnit.SECONDS)).isEqualTo(new LeadOnline("secure-lead"));
      Heartbeat beat = new Heartbeat("r1", "t1", 1, "w1", "agent", "busy");
      workerBus.publish(beat).get(15, TimeUnit.SECONDS);
      Message got;
      do {
        got = atLead.poll(15, TimeUnit.SECONDS);
      } while (got != null && !got.equals(beat));
      assertThat(got).isEqualTo(beat);
      assertThat(leadBus.mayWrite(Topics.WORK)).isTrue();
      assertThat(workerBus.mayWrite(Topics.WORK)).isFalse();
      // A worker that tries to speak as the lead is refused by the broker, not just ignored by the workers.
      assertThatThrownBy(() -> workerBus.publish(new LeadOnline("forged")).get(15, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class).hasRootCauseInstanceOf(AuthorizationException.class);
    }
  }

  @Test
  void anAddedWorkerActsAsAWorkerUntilRevoked() {
    Path file = brokerDir.addWorker("build-07");
    assertThat(file).isEqualTo(ClientFiles.path(dir, "worker-build-07"));
    ClientConfig config = ClientConfig.load(file, Optional.empty());
    assertThat(produce(config, Topics.REPORTS)).isNull();
    assertThat(produce(config, Topics.WORK)).isInstanceOf(AuthorizationException.class);

    assertThat(brokerDir.revokeWorker("build-07")).isTrue();
    assertThat(file).doesNotExist();
    assertThat(produce(config, Topics.REPORTS)).isInstanceOf(AuthenticationException.class);
    assertThat(brokerDir.revokeWorker("build-07")).isFalse();
  }

  @Test
  void aWorkerIdThatIsNotANameIsRefused() {
    assertThatThrownBy(() -> brokerDir.addWorker("../lead")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("\"../lead\"");
    assertThatThrownBy(() -> brokerDir.addWorker("a,b=c")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aHostThatIsNotAHostNameIsRefusedBeforeAnythingIsMade(@TempDir Path other) {
    assertThatThrownBy(() -> BrokerDir.open(other.resolve("b"), "h,OU=forged")).isInstanceOf(
        IllegalArgumentException.class).hasMessageContaining("--host: \"h,OU=forged\"");
    assertThat(other.resolve("b")).doesNotExist();
  }

  /** Sends one record; null when the broker acknowledged it, else the cause of the failure. */
  static Throwable produce(ClientConfig config, String topic) {
    // Allowed sends take milliseconds; a refused connection is retried until this runs out.
    Properties p = config.kafka();
    p.put("max.block.ms", config.secured() ? 5_000 : 2_000);
    p.put("delivery.timeout.ms", 5_000);
    p.put("request.timeout.ms", 4_000);
    p.put("linger.ms", 0);
    try (KafkaProducer<String, String> producer =
        new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
      producer.send(new ProducerRecord<>(topic, "k", "{}")).get(10, TimeUnit.SECONDS);
      return null;
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (Exception e) {
      return e;
    }
  }
}
