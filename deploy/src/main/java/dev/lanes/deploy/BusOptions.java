package dev.lanes.deploy;

import dev.lanes.bus.ClientConfig;
import dev.lanes.protocol.Durations;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import picocli.CommandLine.Option;

/**
 * How a client command reaches Kafka: {@code --bootstrap-servers}, {@code --kafka-config FILE} (Kafka client
 * properties: credentials, TLS, and {@code bootstrap.servers}, which the flag replaces when both are given), or both;
 * and {@code --timeout}, how long a blocking call waits for the cluster.
 */
final class BusOptions {
  @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
      description = "The Kafka cluster (default: bootstrap.servers of --kafka-config).")
  String bootstrapServers;

  @Option(names = "--kafka-config", paramLabel = "FILE",
      description = "Kafka client properties (security.protocol, sasl.*, ssl.*, bootstrap.servers), such as a file "
          + "lanes broker writes to DIR/clients/.")
  Path kafkaConfig;

  @Option(names = "--timeout", defaultValue = "30s", paramLabel = "DURATION",
      description = "How long to wait for Kafka to answer, and for a lead where one is awaited (default: "
          + "${DEFAULT-VALUE}; a bare number is seconds).")
  String timeout;

  /** Whether either option was given. */
  boolean given() {
    return bootstrapServers != null || kafkaConfig != null;
  }

  /**
   * The client settings the options describe.
   *
   * @throws IllegalArgumentException if the file cannot be read or no cluster is named anywhere
   */
  ClientConfig config() {
    Duration wait = timeout();
    if (kafkaConfig != null) {
      return ClientConfig.load(kafkaConfig, Optional.ofNullable(bootstrapServers)).withTimeout(wait);
    }
    if (bootstrapServers == null || bootstrapServers.isBlank()) {
      throw new IllegalArgumentException(
          "--bootstrap-servers or --kafka-config (with bootstrap.servers) is required: no Kafka cluster was named");
    }
    return ClientConfig.plaintext(bootstrapServers).withTimeout(wait);
  }

  /** {@code --timeout}: a duration; a bare number, the form it had before, is seconds. */
  Duration timeout() {
    return Durations.parseOrSeconds("--timeout", timeout);
  }
}
