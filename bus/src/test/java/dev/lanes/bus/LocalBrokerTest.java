package dev.lanes.bus;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.protocol.LeadOnline;
import dev.lanes.protocol.Topics;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.errors.AuthenticationException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The broker of {@code lanes run}: only the password it made in memory gets in. */
class LocalBrokerTest {
  @TempDir Path dir;

  @Test
  void onlyItsInMemoryCredentialPublishes() throws Exception {
    try (EmbeddedBroker broker = EmbeddedBroker.startLocal(dir)) {
      ClientConfig config = broker.clientConfig();
      assertThat(config.bootstrapServers()).startsWith("127.0.0.1:");
      assertThat(config.kafka().getProperty("security.protocol")).isEqualTo("SASL_PLAINTEXT");
      try (KafkaBus bus = KafkaBus.connect(config, "local-test")) {
        bus.createTopics();
        bus.publish(new LeadOnline("local")).get(15, TimeUnit.SECONDS);
      }
      // An agent that finds the port: no credential, or a guessed one, gets nothing written.
      for (String topic : Topics.all()) {
        assertThat(SecureBrokerTest.produce(ClientConfig.plaintext(broker.bootstrapServers()), topic)).as(topic)
            .isNotNull();
      }
      Map<String, String> guessed = new HashMap<>();
      config.kafka().stringPropertyNames().forEach(n -> guessed.put(n, config.kafka().getProperty(n)));
      guessed.put("sasl.jaas.config", guessed.get("sasl.jaas.config").replaceAll("password=\"[^\"]+\"",
          "password=\"lanes\""));
      assertThat(SecureBrokerTest.produce(ClientConfig.of(guessed), Topics.WORK))
          .isInstanceOf(AuthenticationException.class);

      // The password lives in this JVM only: not in the broker's files, not in the environment children inherit.
      String jaas = config.kafka().getProperty("sasl.jaas.config");
      String password = jaas.replaceAll(".*password=\"([^\"]+)\".*", "$1");
      assertThat(password).hasSizeGreaterThan(20);
      try (var files = Files.walk(dir)) {
        for (Path f : files.filter(Files::isRegularFile).toList()) {
          assertThat(new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1)).as(f.toString())
              .doesNotContain(password);
        }
      }
      assertThat(System.getenv().values()).noneMatch(v -> v.contains(password));
    }
  }
}
