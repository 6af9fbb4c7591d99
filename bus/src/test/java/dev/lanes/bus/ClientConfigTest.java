package dev.lanes.bus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.protocol.Redactor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClientConfigTest {
  @TempDir Path dir;

  @Test
  void lanesEntriesAreSetApartAndNoValueIsShown() throws Exception {
    Path file = Files.writeString(dir.resolve("c.properties"), String.join("\n",
        "bootstrap.servers=h:9093", "security.protocol=SASL_SSL",
        "sasl.jaas.config=x required username=\"a\" password=\"p4ssw0rd\";", "lanes.key=s3cret-key", ""));
    ClientConfig config = ClientConfig.load(file, Optional.empty());
    Properties kafka = config.kafka();
    assertThat(kafka.stringPropertyNames()).containsExactlyInAnyOrder("bootstrap.servers", "security.protocol",
        "sasl.jaas.config");
    assertThat(config.lanes()).isEqualTo(Map.of("lanes.key", "s3cret-key"));
    assertThat(config.secured()).isTrue();
    assertThat(config.toString()).doesNotContain("p4ssw0rd", "s3cret-key", "h:9093").contains("sasl.jaas.config");
    // A copy: a caller changing it changes nothing for the next client.
    kafka.put("security.protocol", "PLAINTEXT");
    assertThat(config.kafka().getProperty("security.protocol")).isEqualTo("SASL_SSL");
  }

  @Test
  void theCredentialsOfAFileAreRedactedFromWhatTheProcessPrintsOrPublishes() throws Exception {
    Path file = Files.writeString(dir.resolve("c.properties"), String.join("\n",
        "bootstrap.servers=h:9093", "security.protocol=SASL_SSL",
        "sasl.jaas.config=x required username=\"lead\" password=\"jaas-pw-8c1f7d2e\";",
        "ssl.keystore.password=store-pw-5b9a", "lanes.enrol.secret=enrol-secret-77aa", "lanes.lead.public-key=PUBLIC-1",
        ""));
    ClientConfig.load(file, Optional.empty());

    String said = Redactor.process().redact("login jaas-pw-8c1f7d2e, store store-pw-5b9a, enrol enrol-secret-77aa,"
        + " lead PUBLIC-1, user lead");
    assertThat(said).doesNotContain("jaas-pw-8c1f7d2e", "store-pw-5b9a", "enrol-secret-77aa")
        .contains("[redacted:sasl.jaas.config password]", "[redacted:ssl.keystore.password]",
            "[redacted:lanes.enrol.secret]")
        .contains("lead PUBLIC-1, user lead");
  }

  @Test
  void bootstrapServersGivenOnTheCommandLineReplaceTheFiles() throws Exception {
    Path file = Files.writeString(dir.resolve("c.properties"), "bootstrap.servers=old:1\n");
    assertThat(ClientConfig.load(file, Optional.of("new:2")).bootstrapServers()).isEqualTo("new:2");
    Path none = Files.writeString(dir.resolve("n.properties"), "security.protocol=SSL\n");
    assertThat(ClientConfig.load(none, Optional.of("given:3")).bootstrapServers()).isEqualTo("given:3");
  }

  @Test
  void aFileThatCannotBeUsedIsNamedInTheRefusal() throws Exception {
    Path missing = dir.resolve("missing.properties");
    assertThatThrownBy(() -> ClientConfig.load(missing, Optional.empty()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--kafka-config: " + missing + " cannot be read (no such file)");
    Path noBootstrap = Files.writeString(dir.resolve("n.properties"), "bootstrap.servers=  \n");
    assertThatThrownBy(() -> ClientConfig.load(noBootstrap, Optional.empty()))
        .hasMessage("--kafka-config: " + noBootstrap + " has no bootstrap.servers and no --bootstrap-servers was given");
    Path unreadable = Files.writeString(dir.resolve("u.properties"), "bootstrap.servers=h:1\n");
    Files.setPosixFilePermissions(unreadable, PosixFilePermissions.fromString("---------"));
    if (!Files.isReadable(unreadable)) { // root reads anything
      assertThatThrownBy(() -> ClientConfig.load(unreadable, Optional.empty()))
          .hasMessageContaining("cannot be read (permission denied)");
    }
    Path malformed = Files.writeString(dir.resolve("m.properties"), "bootstrap.servers=h:1\nx=\\u12\n");
    assertThatThrownBy(() -> ClientConfig.load(malformed, Optional.empty()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("--kafka-config: " + malformed
            + " cannot be read");
  }

  @Test
  void settingsNoKafkaClientCanUseAreRefusedBeforeAnyConnection() throws Exception {
    Path protocol = Files.writeString(dir.resolve("p.properties"), "bootstrap.servers=h:1\nsecurity.protocol=TLS\n");
    assertThatThrownBy(() -> ClientConfig.load(protocol, Optional.empty())).hasMessage("--kafka-config: " + protocol
        + ": security.protocol: \"TLS\" is not one a Kafka client can use; use one of PLAINTEXT, SSL, SASL_PLAINTEXT,"
        + " SASL_SSL");
    Path noLogin = Files.writeString(dir.resolve("l.properties"), "bootstrap.servers=h:1\nsecurity.protocol=sasl_ssl\n");
    assertThatThrownBy(() -> ClientConfig.load(noLogin, Optional.empty())).hasMessage("--kafka-config: " + noLogin
        + ": sasl.jaas.config: missing; security.protocol SASL_SSL logs in with the user and password it holds");
    Path noTrust = Files.writeString(dir.resolve("t.properties"), "bootstrap.servers=h:1\nsecurity.protocol=SSL\n"
        + "ssl.truststore.location=" + dir.resolve("gone.p12") + "\n");
    assertThatThrownBy(() -> ClientConfig.load(noTrust, Optional.empty())).hasMessage("--kafka-config: " + noTrust
        + ": ssl.truststore.location: " + dir.resolve("gone.p12") + " cannot be read; the broker's certificate is"
        + " checked with it");
  }

  @Test
  void clientFilesKeepWhatTheyHeldAndAreTheOwnersOnly() throws Exception {
    Properties first = new Properties();
    first.setProperty("bootstrap.servers", "a:1");
    first.setProperty("lanes.key", "k");
    ClientFiles.write(dir, "lead", first);
    Properties second = new Properties();
    second.setProperty("bootstrap.servers", "b:2");
    Path file = ClientFiles.write(dir, "lead", second);
    Properties read = ClientFiles.read(file);
    assertThat(read.getProperty("bootstrap.servers")).isEqualTo("b:2");
    assertThat(read.getProperty("lanes.key")).isEqualTo("k");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
    try (var listing = Files.list(file.getParent())) {
      assertThat(listing.map(p -> p.getFileName().toString())).containsExactly("lead.properties");
    }
  }
}
