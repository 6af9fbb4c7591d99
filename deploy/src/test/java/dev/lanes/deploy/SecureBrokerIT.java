package dev.lanes.deploy;

import static dev.lanes.deploy.LanesRunIT.lanes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.bus.BrokerDir;
import dev.lanes.bus.ClientConfig;
import dev.lanes.bus.ClientFiles;
import dev.lanes.bus.EmbeddedBroker;
import dev.lanes.bus.KafkaBus;
import dev.lanes.protocol.LeadOnline;
import dev.lanes.protocol.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line against a secured broker: {@code --kafka-config} on the client commands, {@code lanes credentials}
 * and a broker started again on its directory. {@code FaultIT} runs whole plans on a secured {@code lanes broker}.
 */
class SecureBrokerIT {
  @TempDir Path dir;

  @Test
  void aKafkaConfigThatCannotBeUsedIsBadInput() throws Exception {
    LanesRunIT.Run missing = lanes("status", "--kafka-config", dir.resolve("nope.properties").toString());
    assertThat(missing.exit()).isEqualTo(Main.BAD_INPUT);
    assertThat(missing.err().strip()).isEqualTo("lanes: --kafka-config: " + dir.resolve("nope.properties")
        + " cannot be read (no such file)");

    Path noBootstrap = Files.writeString(dir.resolve("c.properties"), "security.protocol=SASL_SSL\n");
    for (String command : List.of("status", "coordinator", "submit", "worker")) {
      List<String> args = new java.util.ArrayList<>(List.of(command, "--kafka-config", noBootstrap.toString()));
      if (command.equals("coordinator") || command.equals("worker")) {
        args.addAll(List.of("--repo", dir.toString()));
        if (command.equals("worker")) {
          // A directory of its own: the default one, in the home directory, may mirror another test's repository.
          args.addAll(List.of("--dir", dir.resolve("worker").toString()));
        }
      } else if (command.equals("submit")) {
        args.add(Files.writeString(dir.resolve("p.yaml"), "name: p\nagent: {command: [true]}\ntasks:\n"
            + "  - {id: a, prompt: p, owns: [a]}\n").toString());
      }
      LanesRunIT.Run run = lanes(args.toArray(String[]::new));
      assertThat(run.exit()).as(command + ": " + run.output()).isEqualTo(Main.BAD_INPUT);
      assertThat(run.err()).as(command).contains("has no bootstrap.servers and no --bootstrap-servers was given");
    }
    LanesRunIT.Run none = lanes("status");
    assertThat(none.exit()).isEqualTo(Main.BAD_INPUT);
    assertThat(none.err()).contains("--bootstrap-servers or --kafka-config");
  }

  @Test
  void credentialsAddAndRevokeAWorkerOfARunningBroker() throws Exception {
    Path brokerDir = dir.resolve("broker");
    try (EmbeddedBroker broker = EmbeddedBroker.startSecure(BrokerDir.open(brokerDir, "127.0.0.1"), "127.0.0.1", 0)) {
      LanesRunIT.Run added = lanes("credentials", "add-worker", "build-02", "--dir", brokerDir.toString());
      assertThat(added.exit()).as(added.output()).isZero();
      Path file = ClientFiles.path(brokerDir, "worker-build-02");
      assertThat(added.out()).contains(file.toString());
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
      ClientConfig worker = ClientConfig.load(file, Optional.empty());
      assertThat(send(worker, Topics.REPORTS)).isNull();

      // status with the submitter's file: the runs, and no roll call it may not hold.
      LanesRunIT.Run status = lanes("status", "--kafka-config", ClientFiles.path(brokerDir, "submit").toString(),
          "--json");
      assertThat(status.exit()).as(status.output()).isZero();
      assertThat(status.out()).contains("\"rollCall\":false");

      LanesRunIT.Run revoked = lanes("credentials", "revoke", "build-02", "--dir", brokerDir.toString());
      assertThat(revoked.exit()).as(revoked.output()).isZero();
      assertThat(file).doesNotExist();
      assertThat(send(worker, Topics.REPORTS)).isInstanceOf(AuthenticationException.class);
      assertThat(lanes("credentials", "revoke", "build-02", "--dir", brokerDir.toString()).exit())
          .isEqualTo(Main.FAILED);
      assertThat(lanes("credentials", "add-worker", "../x", "--dir", brokerDir.toString()).exit())
          .isEqualTo(Main.BAD_INPUT);
    }
    assertThat(lanes("credentials", "add-worker", "w", "--dir", dir.resolve("elsewhere").toString()).exit())
        .isEqualTo(Main.BAD_INPUT);
  }

  @Test
  void aSecondStartReusesTheKeysAndCredentials() throws Exception {
    Path brokerDir = dir.resolve("broker");
    String lead;
    String ca;
    try (EmbeddedBroker broker = EmbeddedBroker.startSecure(BrokerDir.open(brokerDir, "127.0.0.1"), "127.0.0.1", 0)) {
      lead = Files.readString(ClientFiles.path(brokerDir, "lead"));
      ca = Files.readString(brokerDir.resolve("tls/ca.pem"));
    }
    try (EmbeddedBroker broker = EmbeddedBroker.startSecure(BrokerDir.open(brokerDir, "127.0.0.1"), "127.0.0.1", 0)) {
      assertThat(Files.readString(brokerDir.resolve("tls/ca.pem"))).isEqualTo(ca);
      Properties before = new Properties();
      before.load(new java.io.StringReader(lead));
      Properties after = new Properties();
      after.load(Files.newBufferedReader(ClientFiles.path(brokerDir, "lead")));
      assertThat(after.getProperty("sasl.jaas.config")).isEqualTo(before.getProperty("sasl.jaas.config"));
      assertThat(after.getProperty("bootstrap.servers")).isEqualTo(broker.bootstrapServers());
      try (KafkaBus bus = KafkaBus.connect(ClientConfig.load(ClientFiles.path(brokerDir, "lead"), Optional.empty()),
          "restart-test")) {
        bus.publish(new LeadOnline("again")).get(15, TimeUnit.SECONDS);
      }
    }
    // The same directory cannot be started without its credentials.
    LanesRunIT.Run insecure = lanes("broker", "--insecure", "--dir", brokerDir.toString(), "--port", "1");
    assertThat(insecure.exit()).isEqualTo(Main.BAD_INPUT);
  }

  @Test
  void lanesRunsBrokerRefusesAClientWithoutItsPassword() throws Exception {
    Path repo = LanesRunIT.repo(dir.resolve("repo"));
    try (LocalCluster cluster = LocalCluster.start(repo, 1, List.of(), Optional.empty(),
        dev.lanes.coordinator.Lead.Settings.fixedWorkers())) {
      assertThat(cluster.bootstrapServers()).startsWith("127.0.0.1:");
      assertThat(send(ClientConfig.plaintext(cluster.bootstrapServers()), Topics.WORK)).isNotNull();
      assertThat(send(ClientConfig.plaintext(cluster.bootstrapServers()), Topics.REPORTS)).isNotNull();
    }
  }

  @Test
  void lanesBrokerAndALeadOnItLogNoSecret() throws Exception {
    Path repo = LanesRunIT.repo(dir.resolve("repo"));
    try (ProcessCluster cluster = new ProcessCluster(dir)) {
      cluster.startBroker();
      cluster.awaitLog("broker", "submit: ");
      String brokerLog = Files.readString(cluster.log("broker"));
      assertThat(brokerLog).contains("(SASL_SSL)", cluster.clientFile("lead").toString(),
          cluster.clientFile("worker").toString(), cluster.clientFile("submit").toString());
      assertThat(brokerLog).as("said at once, so a first start that takes a minute does not look hung")
          .containsSubsequence("Starting the Kafka broker for Lanes in " + dir.resolve("broker"), "(SASL_SSL)");

      // Lanes' own entries ride in the same file and reach no Kafka client and no log.
      Path leadFile = dir.resolve("lead-with-lanes.properties");
      Files.writeString(leadFile, Files.readString(cluster.clientFile("lead"))
          + "lanes.canary=lanes-canary-7f3a9c\n");
      cluster.startLead("lead", repo, leadFile);
      cluster.awaitLog("lead", "This lead holds the lead role.");
      String leadLog = Files.readString(cluster.log("lead"));

      Properties secrets = new Properties();
      secrets.load(Files.newBufferedReader(dir.resolve("broker/secrets.properties")));
      List<String> values = new java.util.ArrayList<>();
      secrets.stringPropertyNames().stream().filter(n -> n.startsWith("user.") || n.startsWith("store."))
          .forEach(n -> values.add(secrets.getProperty(n)));
      values.add("lanes-canary-7f3a9c");
      assertThat(values).hasSize(8);
      for (String secret : values) {
        assertThat(brokerLog).doesNotContain(secret);
        assertThat(leadLog).doesNotContain(secret);
      }
    }
  }

  @Test
  void anInsecureBrokerSaysSoLoudly() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster(dir)) {
      cluster.startBroker("--insecure");
      String log = Files.readString(cluster.log("broker"));
      assertThat(log).contains("WARNING: --insecure", "no credentials", "(INSECURE: plaintext, no credentials)");
      assertThat(dir.resolve("broker/clients")).doesNotExist();
      try (KafkaBus bus = KafkaBus.connect(cluster.bootstrap(), "insecure-test")) {
        bus.createTopics();
      }
      assertThat(send(ClientConfig.plaintext(cluster.bootstrap()), Topics.WORK)).isNull();
    }
  }

  /** Sends one record; null when acknowledged, else why not. */
  private static Throwable send(ClientConfig config, String topic) {
    Properties p = config.kafka();
    p.put("max.block.ms", 3_000);
    p.put("delivery.timeout.ms", 5_000);
    p.put("request.timeout.ms", 4_000);
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
