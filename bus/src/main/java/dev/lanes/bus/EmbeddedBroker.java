package dev.lanes.bus;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.common.utils.internals.Exit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A single-node Kafka cluster (one KRaft process that is both broker and controller) running inside this JVM, so that
 * {@code lanes run} and the test suites need no external Kafka.
 *
 * <p>Starting is three steps. First the data directory is formatted with Kafka's own storage tool
 * ({@link StorageTool#execute}, the non-exiting entry point behind {@code kafka-storage.sh format}) unless it already
 * holds a {@code meta.properties}: a directory formatted once is reused as is, so a restart keeps its topics and
 * records. Then {@link KafkaRaftServer} starts with the configuration below. Last, {@code start} waits until an Admin
 * client gets an answer to {@code describeCluster}, so a returned broker accepts client connections.
 *
 * <p>Why the configuration is what it is:
 * <ul>
 *   <li>{@code process.roles=broker,controller}, {@code node.id=1}: one process, one node, no ZooKeeper.</li>
 *   <li>The quorum is static ({@code controller.quorum.voters=1@host:port}), not dynamic
 *       ({@code controller.quorum.bootstrap.servers} with {@code format --standalone}). A dynamic quorum writes the
 *       controller's host and port into the metadata log; ours are picked afresh on every start, so a restarted broker
 *       would look for its controller at the old port. A static voter set is read from the configuration each time.</li>
 *   <li>Two loopback listeners, {@code PLAINTEXT} for clients and inter-broker traffic and {@code CONTROLLER} for
 *       KRaft, each on a port picked by binding port 0. Only {@code PLAINTEXT} is advertised.</li>
 *   <li>Replication factor and min ISR 1 for every internal topic ({@code __consumer_offsets},
 *       {@code __transaction_state}, {@code __share_group_state}): the defaults (3 and 2) cannot be met by one node
 *       and would make consumer groups, transactions and share groups fail. One partition each instead of 50: one
 *       node gains nothing from spreading a handful of groups, and creating 50 partitions added about 0.5 s to the
 *       first consumer group join (1.36 s against 0.80 s measured).</li>
 *   <li>{@code group.initial.rebalance.delay.ms=0}: the 3 s default only helps when many members join at once; here it
 *       would delay every first poll of a consumer group by 3 s.</li>
 *   <li>{@code log.cleaner.dedupe.buffer.size} of 4 MiB: the cleaner of compacted topics otherwise allocates 128 MiB of
 *       heap up front, three times what the rest of the broker needs.</li>
 *   <li>{@code auto.create.topics.enable=false}, {@code num.partitions=1}: topics are created on purpose, so a typo in
 *       a topic name fails instead of silently creating a new topic.</li>
 *   <li>{@code server.max.startup.time.ms}: a broker that cannot catch up with its controller fails {@code start}
 *       instead of hanging it forever (the default).</li>
 * </ul>
 *
 * <p>Kafka's server code ends the JVM through {@link Exit} on fatal errors (a failed log directory, a metadata
 * fault). That must not take down the process that embeds it, so while any embedded broker runs (formatting
 * included), Kafka's exit and halt procedures throw an exception and log an error instead; the default procedures are
 * restored when the last embedded broker closes.
 *
 * <p>The data directory belongs to the broker: it becomes Kafka's only log directory, and Kafka refuses to start on a
 * directory holding anything but its own files. Two brokers need two directories; Kafka locks the directory.
 */
public final class EmbeddedBroker implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedBroker.class);

  private static final String DEFAULT_HOST = "127.0.0.1";
  private static final int NODE_ID = 1;
  private static final int START_ATTEMPTS = 3;
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(30);
  private static final long CLEANER_DEDUPE_BUFFER_BYTES = 4L * 1024 * 1024;

  /** Guards {@link #running}, the count of live brokers that decides when Kafka's {@link Exit} is replaced. */
  private static final Object EXIT_LOCK = new Object();
  private static int running;

  private final KafkaRaftServer server;
  private final Path dataDir;
  private final String host;
  private final int port;
  private final AtomicBoolean closed = new AtomicBoolean();

  private EmbeddedBroker(KafkaRaftServer server, Path dataDir, String host, int port) {
    this.server = server;
    this.dataDir = dataDir;
    this.host = host;
    this.port = port;
  }

  /** Starts a broker on 127.0.0.1 and a free port, with its data in {@code dataDir}. */
  public static EmbeddedBroker start(Path dataDir) {
    return start(dataDir, DEFAULT_HOST, 0);
  }

  /**
   * Starts a broker and controller listening on {@code host}; {@code port} 0 picks a free port. Data lives in
   * {@code dataDir}, formatted on first use and reused afterwards. Returns once the broker accepts clients.
   *
   * @throws IllegalStateException if the broker does not start, for example because the port is in use; nothing is
   *     left running
   */
  public static EmbeddedBroker start(Path dataDir, String host, int port) {
    Objects.requireNonNull(dataDir, "dataDir");
    Objects.requireNonNull(host, "host");
    if (host.isBlank()) {
      throw new IllegalArgumentException("host: must not be blank");
    }
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException(String.format("port: %d is not in 0..65535", port));
    }
    Path dir = dataDir.toAbsolutePath().normalize();
    createDirectories(dir);
    if (port != 0 && !isFree(host, port)) {
      throw new IllegalStateException(String.format(
          "cannot start the embedded Kafka broker: %s is already in use", hostPort(host, port)));
    }
    acquireExitGuard();
    try {
      return startWithRetries(dir, host, port);
    } catch (RuntimeException | Error e) {
      releaseExitGuard();
      throw e;
    }
  }

  /** The address clients connect to, {@code host:port}. */
  public String bootstrapServers() {
    return hostPort(host, port);
  }

  /** The port of the client listener. */
  public int port() {
    return port;
  }

  /** Shuts the broker down and waits until it has stopped. Calling it again does nothing. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    long startNanos = System.nanoTime();
    try {
      stop(server);
    } finally {
      releaseExitGuard();
    }
    LOG.info("Embedded Kafka broker at {} stopped in {} ms", bootstrapServers(), millisSince(startNanos));
  }

  @Override
  public String toString() {
    return "EmbeddedBroker[" + bootstrapServers() + ", " + dataDir + "]";
  }

  private static EmbeddedBroker startWithRetries(Path dir, String host, int requestedPort) {
    long startNanos = System.nanoTime();
    boolean formatted = Files.exists(dir.resolve("meta.properties"));
    IllegalStateException failure = null;
    // A port picked by binding port 0 can be taken by someone else before Kafka binds it: pick again then.
    for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
      int port = requestedPort != 0 ? requestedPort : freePort(host);
      int controllerPort = freePort(host);
      Map<String, Object> config = config(dir, host, port, controllerPort);
      if (!formatted) {
        format(dir, config);
        formatted = true;
      }
      try {
        KafkaRaftServer server = startServer(config, host, port);
        LOG.info("Embedded Kafka broker ready at {} in {} ms (data in {})",
            hostPort(host, port), millisSince(startNanos), dir);
        return new EmbeddedBroker(server, dir, host, port);
      } catch (PortTakenException e) {
        failure = new IllegalStateException(String.format(
            "cannot start the embedded Kafka broker: %s or controller port %d is already in use",
            hostPort(host, port), controllerPort), e.getCause());
        LOG.info("Port {} or {} was taken before Kafka bound it (attempt {} of {})",
            port, controllerPort, attempt, START_ATTEMPTS);
      }
    }
    throw failure;
  }

  /** The whole broker configuration; see the class comment for why each setting is there. */
  private static Map<String, Object> config(Path dir, String host, int port, int controllerPort) {
    return Map.ofEntries(
        Map.entry("process.roles", "broker,controller"),
        Map.entry("node.id", String.valueOf(NODE_ID)),
        Map.entry("controller.quorum.voters", NODE_ID + "@" + hostPort(host, controllerPort)),
        Map.entry("listeners",
            "PLAINTEXT://" + hostPort(host, port) + ",CONTROLLER://" + hostPort(host, controllerPort)),
        Map.entry("advertised.listeners", "PLAINTEXT://" + hostPort(host, port)),
        Map.entry("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"),
        Map.entry("inter.broker.listener.name", "PLAINTEXT"),
        Map.entry("controller.listener.names", "CONTROLLER"),
        Map.entry("log.dirs", dir.toString()),
        Map.entry("offsets.topic.replication.factor", "1"),
        Map.entry("offsets.topic.num.partitions", "1"),
        Map.entry("transaction.state.log.replication.factor", "1"),
        Map.entry("transaction.state.log.min.isr", "1"),
        Map.entry("transaction.state.log.num.partitions", "1"),
        Map.entry("share.coordinator.state.topic.replication.factor", "1"),
        Map.entry("share.coordinator.state.topic.min.isr", "1"),
        Map.entry("share.coordinator.state.topic.num.partitions", "1"),
        Map.entry("default.replication.factor", "1"),
        Map.entry("min.insync.replicas", "1"),
        Map.entry("group.initial.rebalance.delay.ms", "0"),
        Map.entry("log.cleaner.dedupe.buffer.size", String.valueOf(CLEANER_DEDUPE_BUFFER_BYTES)),
        Map.entry("auto.create.topics.enable", "false"),
        Map.entry("num.partitions", "1"),
        Map.entry("server.max.startup.time.ms", String.valueOf(READY_TIMEOUT.toMillis())));
  }

  /**
   * Formats {@code dir} with the storage tool, which writes {@code meta.properties} and the bootstrap metadata. The
   * tool reads the configuration from a file, so it goes to a temporary file outside the data directory. A random
   * cluster id is fine: a formatted directory is never formatted again.
   */
  private static void format(Path dir, Map<String, Object> config) {
    ByteArrayOutputStream output = new ByteArrayOutputStream();
    int status;
    try {
      Path propertiesFile = Files.createTempFile("lanes-kafka-format-", ".properties");
      try {
        Properties properties = new Properties();
        properties.putAll(config);
        try (OutputStream out = Files.newOutputStream(propertiesFile)) {
          properties.store(out, "written by " + EmbeddedBroker.class.getName() + " to format " + dir);
        }
        String[] args = {"format", "-t", Uuid.randomUuid().toString(), "-c", propertiesFile.toString()};
        try (PrintStream print = new PrintStream(output, true, StandardCharsets.UTF_8)) {
          status = StorageTool.execute(args, print);
        }
      } finally {
        Files.deleteIfExists(propertiesFile);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot format " + dir + " for Kafka", e);
    } catch (RuntimeException e) {
      throw new IllegalStateException(String.format("cannot format %s for Kafka: %s %s",
          dir, e.getMessage(), output.toString(StandardCharsets.UTF_8).strip()), e);
    }
    if (status != 0) {
      throw new IllegalStateException(String.format("cannot format %s for Kafka (status %d): %s",
          dir, status, output.toString(StandardCharsets.UTF_8).strip()));
    }
    LOG.debug("Formatted {}: {}", dir, output.toString(StandardCharsets.UTF_8).strip());
  }

  /** Starts Kafka and waits until it answers clients; on any failure stops what was started. */
  private static KafkaRaftServer startServer(Map<String, Object> config, String host, int port) {
    KafkaRaftServer server;
    try {
      server = new KafkaRaftServer(new KafkaConfig(config), Time.SYSTEM);
    } catch (RuntimeException e) {
      throw new IllegalStateException("invalid embedded Kafka configuration: " + e.getMessage(), e);
    }
    try {
      server.startup();
      awaitReady(hostPort(host, port));
      return server;
    } catch (RuntimeException | Error e) {
      try {
        stop(server);
      } catch (RuntimeException stopFailure) {
        e.addSuppressed(stopFailure);
      }
      BindException bind = bindException(e);
      if (bind != null) {
        throw new PortTakenException(bind);
      }
      throw new IllegalStateException(String.format(
          "cannot start the embedded Kafka broker at %s with data in %s: %s",
          hostPort(host, port), config.get("log.dirs"), e.getMessage()), e);
    }
  }

  /** Kafka's startup returns before the broker has necessarily been unfenced: ask it like a client would. */
  private static void awaitReady(String bootstrapServers) {
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    Map<String, Object> adminConfig = Map.of(
        AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
        AdminClientConfig.CLIENT_ID_CONFIG, "lanes-embedded-broker-probe",
        AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 2_000,
        AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5_000);
    try (Admin admin = Admin.create(adminConfig)) {
      while (true) {
        try {
          boolean hasNodes = !admin.describeCluster(new DescribeClusterOptions().timeoutMs(5_000))
              .nodes().get(5, TimeUnit.SECONDS).isEmpty();
          if (hasNodes) {
            return;
          }
        } catch (ExecutionException | TimeoutException e) {
          if (System.nanoTime() > deadline) {
            throw new IllegalStateException(String.format(
                "broker at %s did not answer describeCluster within %s", bootstrapServers, READY_TIMEOUT), e);
          }
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(String.format(
              "broker at %s reported no nodes within %s", bootstrapServers, READY_TIMEOUT));
        }
        Thread.sleep(50);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the embedded Kafka broker", e);
    }
  }

  private static void stop(KafkaRaftServer server) {
    server.shutdown();
    server.awaitShutdown();
  }

  private static void acquireExitGuard() {
    synchronized (EXIT_LOCK) {
      if (running++ == 0) {
        Exit.setExitProcedure(EmbeddedBroker::refuseExit);
        Exit.setHaltProcedure(EmbeddedBroker::refuseExit);
      }
    }
  }

  private static void releaseExitGuard() {
    synchronized (EXIT_LOCK) {
      if (--running == 0) {
        Exit.resetExitProcedure();
        Exit.resetHaltProcedure();
      }
    }
  }

  private static void refuseExit(int status, String message) {
    String text = String.format("Kafka tried to end the JVM (status %d): %s; the embedded broker is unusable",
        status, message == null ? "no reason given" : message);
    LOG.error(text);
    throw new IllegalStateException(text);
  }

  private static BindException bindException(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BindException) {
        return (BindException) t;
      }
    }
    return null;
  }

  private static int freePort(String host) {
    try (ServerSocket socket = new ServerSocket()) {
      socket.setReuseAddress(true);
      socket.bind(new InetSocketAddress(InetAddress.getByName(host), 0));
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot find a free port on " + host, e);
    }
  }

  private static boolean isFree(String host, int port) {
    try (ServerSocket socket = new ServerSocket()) {
      socket.setReuseAddress(true);
      socket.bind(new InetSocketAddress(InetAddress.getByName(host), port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static String hostPort(String host, int port) {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }

  private static void createDirectories(Path dir) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the Kafka data directory " + dir, e);
    }
  }

  private static long millisSince(long startNanos) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
  }

  /** Kafka could not bind one of its ports; the caller may pick new ones and retry. */
  private static final class PortTakenException extends RuntimeException {
    PortTakenException(BindException cause) {
      super(cause.getMessage(), cause);
    }
  }
}
