package dev.lanes.bus;

import dev.lanes.protocol.Redactor;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;

/**
 * How a party reaches Kafka: standard Kafka client properties ({@code bootstrap.servers}, {@code security.protocol},
 * {@code sasl.*}, {@code ssl.*}) that {@link KafkaBus} hands to its producer, consumers and admin client, and
 * Lanes' own settings, the properties whose names start with {@code lanes.}, which never reach a Kafka client.
 *
 * <p>Values are secrets (passwords, JAAS lines, keys): {@link #toString} names the properties and shows none of them.
 */
public final class ClientConfig {
  /** Properties under this prefix are Lanes' own; Kafka clients never see them. */
  public static final String LANES_PREFIX = "lanes.";
  static final String BOOTSTRAP = "bootstrap.servers";
  /** How long a blocking call waits for the cluster unless a command says otherwise ({@code --timeout}). */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  private final Map<String, String> kafka;
  private final Map<String, String> lanes;
  private final Duration timeout;

  private ClientConfig(Map<String, String> kafka, Map<String, String> lanes, Duration timeout) {
    this.kafka = Map.copyOf(kafka);
    this.lanes = Map.copyOf(lanes);
    this.timeout = timeout;
  }

  /** A plaintext connection to {@code bootstrapServers}, with no credentials. */
  public static ClientConfig plaintext(String bootstrapServers) {
    return of(Map.of(BOOTSTRAP, bootstrapServers));
  }

  /** The given properties, {@code lanes.*} ones set aside; they must name the bootstrap servers. */
  public static ClientConfig of(Map<String, String> properties) {
    Map<String, String> kafka = new TreeMap<>();
    Map<String, String> lanes = new TreeMap<>();
    properties.forEach((name, value) -> (name.startsWith(LANES_PREFIX) ? lanes : kafka).put(name, value));
    String bootstrap = kafka.get(BOOTSTRAP);
    if (bootstrap == null || bootstrap.isBlank()) {
      throw new IllegalArgumentException(BOOTSTRAP + ": missing; the Kafka cluster must be named");
    }
    problem(kafka).ifPresent(p -> {
      throw new IllegalArgumentException(p);
    });
    rememberSecrets(properties);
    return new ClientConfig(kafka, lanes, DEFAULT_TIMEOUT);
  }

  private static final java.util.List<String> PROTOCOLS = java.util.List.of("PLAINTEXT", "SSL", "SASL_PLAINTEXT",
      "SASL_SSL");

  /**
   * What makes these client properties unusable before any connection is tried, so that a command refuses them before
   * it writes anything: a security protocol Kafka does not know, a SASL protocol without the login its
   * {@code sasl.jaas.config} carries, a trust store that cannot be read.
   */
  private static Optional<String> problem(Map<String, String> kafka) {
    String protocol = kafka.getOrDefault("security.protocol", "PLAINTEXT").strip().toUpperCase(java.util.Locale.ROOT);
    if (!PROTOCOLS.contains(protocol)) {
      return Optional.of("security.protocol: \"" + kafka.get("security.protocol") + "\" is not one a Kafka client can"
          + " use; use one of " + String.join(", ", PROTOCOLS));
    }
    if (protocol.startsWith("SASL_") && kafka.getOrDefault("sasl.jaas.config", "").isBlank()) {
      return Optional.of("sasl.jaas.config: missing; security.protocol " + protocol + " logs in with the user and"
          + " password it holds");
    }
    String trustStore = kafka.getOrDefault("ssl.truststore.location", "");
    if (!trustStore.isBlank() && !Files.isReadable(Path.of(trustStore))) {
      return Optional.of("ssl.truststore.location: " + trustStore + " cannot be read; the broker's certificate is"
          + " checked with it");
    }
    return Optional.empty();
  }

  private static final java.util.regex.Pattern JAAS_PASSWORD =
      java.util.regex.Pattern.compile("password\\s*=\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");

  /**
   * Tells this process's {@link Redactor} the credentials among {@code properties}, so that no log line or record can
   * carry them: every value whose name marks it as one ({@code ssl.keystore.password}, {@code lanes.enrol.secret},
   * {@code lanes.lead.private-key}; not the public keys), and the passwords inside {@code sasl.jaas.config}.
   */
  private static void rememberSecrets(Map<String, String> properties) {
    Map<String, String> secrets = new TreeMap<>(properties);
    secrets.keySet().removeIf(name -> name.endsWith("public-key")); // keys, but made to be shown
    java.util.regex.Matcher m = JAAS_PASSWORD.matcher(properties.getOrDefault("sasl.jaas.config", ""));
    for (int i = 1; m.find(); i++) {
      secrets.put("sasl.jaas.config password" + (i == 1 ? "" : " " + i), m.group(1));
    }
    Redactor.remember(secrets);
  }

  /**
   * Reads a Kafka client properties file ({@code --kafka-config}). {@code bootstrapServers}, when given, replaces the
   * file's {@code bootstrap.servers}; without either there is no cluster to connect to.
   *
   * @throws IllegalArgumentException naming the file when it cannot be read, names no bootstrap servers, or holds
   *     settings no Kafka client can use (see {@link #problem})
   */
  public static ClientConfig load(Path file, Optional<String> bootstrapServers) {
    Properties read = new Properties();
    try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      read.load(in);
    } catch (IOException | IllegalArgumentException e) {
      throw new IllegalArgumentException(String.format("--kafka-config: %s cannot be read (%s)", file, describe(e)), e);
    }
    Map<String, String> properties = new TreeMap<>();
    read.stringPropertyNames().forEach(name -> properties.put(name, read.getProperty(name).strip()));
    bootstrapServers.ifPresent(b -> properties.put(BOOTSTRAP, b));
    if (properties.getOrDefault(BOOTSTRAP, "").isBlank()) {
      throw new IllegalArgumentException(String.format(
          "--kafka-config: %s has no bootstrap.servers and no --bootstrap-servers was given", file));
    }
    try {
      return of(properties);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--kafka-config: " + file + ": " + e.getMessage(), e);
    }
  }

  /** The cluster's address list, {@code host:port[,host:port…]}. */
  public String bootstrapServers() {
    return kafka.get(BOOTSTRAP);
  }

  /**
   * These settings with every blocking call of the bus (connecting, creating or finding topics, publishing) given up
   * after {@code timeout}: a command against a wrong address ends within it instead of Kafka's own minute.
   */
  public ClientConfig withTimeout(Duration timeout) {
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("--timeout: " + timeout + " must be longer than zero");
    }
    return new ClientConfig(kafka, lanes, timeout);
  }

  /** How long a blocking call waits for the cluster. */
  public Duration timeout() {
    return timeout;
  }

  /** Whether the connection authenticates (SASL or TLS) rather than plaintext. */
  public boolean secured() {
    return !kafka.getOrDefault("security.protocol", "PLAINTEXT").equalsIgnoreCase("PLAINTEXT");
  }

  /** A fresh copy of the Kafka client properties, {@code lanes.*} left out. */
  public Properties kafka() {
    Properties p = new Properties();
    p.putAll(kafka);
    return p;
  }

  /** Lanes' own settings from the same file (names starting with {@code lanes.}), for the parties that use them. */
  public Map<String, String> lanes() {
    return lanes;
  }

  /** The names of the properties only: their values may be credentials. */
  @Override
  public String toString() {
    return "ClientConfig" + new TreeMap<>(kafka).keySet() + (lanes.isEmpty() ? "" : " + " + lanes.keySet());
  }

  private static String describe(Exception e) {
    if (e instanceof java.nio.file.NoSuchFileException) {
      return "no such file";
    } else if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied";
    }
    return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
  }
}
