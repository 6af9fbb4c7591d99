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
import java.util.List;
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
 * <p>Three kinds of client listener: plaintext ({@link #start}, for tests and {@code lanes broker --insecure}); SASL
 * PLAIN on loopback with a password made in memory ({@link #startLocal}, for {@code lanes run}); and SASL_SSL with
 * SCRAM-SHA-512 principals, TLS keys and ACLs from a {@link BrokerDir} ({@link #startSecure}, for {@code lanes broker}).
 * The secured kinds put the controller listener on 127.0.0.1 behind a password of its own (see {@code Security}).
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
  private final Security security;
  private final AtomicBoolean closed = new AtomicBoolean();

  private EmbeddedBroker(KafkaRaftServer server, Path dataDir, String host, int port, Security security) {
    this.server = server;
    this.dataDir = dataDir;
    this.host = host;
    this.port = port;
    this.security = security;
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
    if (Files.isRegularFile(dataDir.resolve("secrets.properties"))) {
      throw new IllegalArgumentException(String.format("--dir: %s holds a broker with credentials; it cannot be "
          + "started without them (drop --insecure)", dataDir.toAbsolutePath().normalize()));
    }
    return start(dataDir, host, port, Security.PLAINTEXT);
  }

  /**
   * Starts a broker on 127.0.0.1 that only clients with a password made here and now can use, for a party that runs
   * every client in this JVM ({@code lanes run}): SASL PLAIN with a random password, held in memory only and handed
   * out by {@link #clientConfig}. Nothing about the credential is written to disk or to any environment.
   *
   * <p>Without TLS: the listener is on loopback, where only this machine's root (who can read this JVM's memory
   * anyway) could watch the traffic, and a TLS handshake would add to every connection of every run for nothing. The
   * password is what keeps an agent that finds the port from publishing.
   */
  public static EmbeddedBroker startLocal(Path dataDir) {
    return start(dataDir, DEFAULT_HOST, 0, Security.local());
  }

  /**
   * Starts the broker of a {@link BrokerDir}: SASL_SSL with SCRAM-SHA-512 on {@code host}, ACLs enforced, the topics
   * made by the broker itself, and a client file written for each {@link Role}.
   */
  public static EmbeddedBroker startSecure(BrokerDir dir, String host, int port) {
    EmbeddedBroker broker = start(dir.kafkaDir(), host, port, Security.secure(dir, host));
    try {
      broker.prepareBus();
      dir.writeClientFiles(broker.bootstrapServers());
      return broker;
    } catch (RuntimeException e) {
      broker.close();
      throw e;
    }
  }

  private static EmbeddedBroker start(Path dataDir, String host, int port, Security security) {
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
      return startWithRetries(dir, host, port, security);
    } catch (RuntimeException | Error e) {
      releaseExitGuard();
      throw e;
    }
  }

  /** The address clients connect to, {@code host:port}. */
  public String bootstrapServers() {
    return hostPort(host, port);
  }

  /**
   * How a client reaches this broker with every right: plaintext, the in-memory password of a local broker, or the
   * admin principal of a secured one.
   */
  public ClientConfig clientConfig() {
    return security.client(bootstrapServers());
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

  private static EmbeddedBroker startWithRetries(Path dir, String host, int requestedPort, Security security) {
    long startNanos = System.nanoTime();
    boolean formatted = Files.exists(dir.resolve("meta.properties"));
    IllegalStateException failure = null;
    // A port picked by binding port 0 can be taken by someone else before Kafka binds it: pick again then.
    for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
      int port = requestedPort != 0 ? requestedPort : freePort(host);
      String controllerHost = security.secured() ? DEFAULT_HOST : host;
      int controllerPort = freePortOtherThan(port, () -> freePort(controllerHost));
      Map<String, Object> config = new java.util.HashMap<>(config(dir, host, port, controllerHost, controllerPort));
      config.putAll(security.brokerConfig(hostPort(host, port), hostPort(controllerHost, controllerPort)));
      if (!formatted) {
        format(dir, config, security.formatArgs());
        formatted = true;
      }
      try {
        KafkaRaftServer server = startServer(config, host, port, security);
        LOG.info("Embedded Kafka broker ready at {} ({}) in {} ms (data in {})",
            hostPort(host, port), security.protocol, millisSince(startNanos), dir);
        return new EmbeddedBroker(server, dir, host, port, security);
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
  private static Map<String, Object> config(Path dir, String host, int port, String controllerHost,
      int controllerPort) {
    return Map.ofEntries(
        Map.entry("process.roles", "broker,controller"),
        Map.entry("node.id", String.valueOf(NODE_ID)),
        Map.entry("controller.quorum.voters", NODE_ID + "@" + hostPort(controllerHost, controllerPort)),
        Map.entry("listeners",
            "PLAINTEXT://" + hostPort(host, port) + ",CONTROLLER://" + hostPort(controllerHost, controllerPort)),
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
  private static void format(Path dir, Map<String, Object> config, List<String> extraArgs) {
    ByteArrayOutputStream output = new ByteArrayOutputStream();
    int status;
    try {
      Path propertiesFile = Files.createTempFile("lanes-kafka-format-", ".properties");
      try {
        Properties properties = new Properties();
        // The file is a temporary one outside the data directory: no password goes into it. The tool does not need
        // the listeners' JAAS lines or store passwords to format.
        config.forEach((name, value) -> {
          if (!Security.isSecret(name)) {
            properties.put(name, value);
          }
        });
        try (OutputStream out = Files.newOutputStream(propertiesFile)) {
          properties.store(out, "written by " + EmbeddedBroker.class.getName() + " to format " + dir);
        }
        List<String> argv = new java.util.ArrayList<>(
            List.of("format", "-t", Uuid.randomUuid().toString(), "-c", propertiesFile.toString()));
        argv.addAll(extraArgs); // in this JVM: never a child's argv
        String[] args = argv.toArray(String[]::new);
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
  private static KafkaRaftServer startServer(Map<String, Object> config, String host, int port,
      Security security) {
    KafkaRaftServer server;
    try {
      server = new KafkaRaftServer(new KafkaConfig(config), Time.SYSTEM);
    } catch (RuntimeException e) {
      throw new IllegalStateException("invalid embedded Kafka configuration: " + e.getMessage(), e);
    }
    try {
      server.startup();
      awaitReady(security.client(hostPort(host, port)));
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
  private static void awaitReady(ClientConfig client) {
    String bootstrapServers = client.bootstrapServers();
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    Properties adminConfig = client.kafka();
    adminConfig.put(AdminClientConfig.CLIENT_ID_CONFIG, "lanes-embedded-broker-probe");
    adminConfig.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 2_000);
    adminConfig.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5_000);
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

  /**
   * A port from {@code pick} other than {@code taken}. Each pick binds port 0 and lets it go, so two picks in a row can
   * give the same port, and Kafka then refuses a client and a controller listener on one port (seen once in
   * {@code lanes bench dispatch}: "If you have two listeners on the same port then one needs to be IPv4 and the other
   * IPv6").
   */
  static int freePortOtherThan(int taken, java.util.function.IntSupplier pick) {
    for (int tries = 0; tries < 100; tries++) {
      int port = pick.getAsInt();
      if (port != taken) {
        return port;
      }
    }
    throw new IllegalStateException("cannot find a free port other than " + taken);
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

  /**
   * Makes the topics and grants every {@link Role} its ACLs, as the admin principal. Both are idempotent, so every
   * start does it: a directory from an older version gets what is new.
   */
  private void prepareBus() {
    long startNanos = System.nanoTime();
    ClientConfig admin = clientConfig();
    try (KafkaBus bus = KafkaBus.connect(admin, "lanes-broker")) {
      bus.createTopics();
    }
    List<org.apache.kafka.common.acl.AclBinding> acls = new java.util.ArrayList<>();
    for (Role role : Role.values()) {
      acls.addAll(role.acls(role.id()));
    }
    grant(admin, acls);
    LOG.info("Topics and ACLs of the broker at {} in place in {} ms", bootstrapServers(), millisSince(startNanos));
  }

  /** Adds ACLs as the given (admin) client. */
  static void grant(ClientConfig admin, List<org.apache.kafka.common.acl.AclBinding> acls) {
    try (Admin client = Admin.create(admin.kafka())) {
      client.createAcls(acls).all().get(READY_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new BusException("cannot grant the roles' ACLs on " + admin.bootstrapServers() + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BusException("interrupted granting ACLs", e);
    }
  }

  /**
   * How the client listener is secured, and what that adds to the broker's configuration.
   *
   * <p>A secured broker has two listeners: the client listener on the given host, and the controller listener on
   * 127.0.0.1. The controller listener is authenticated too (SASL PLAIN, one random password): it answers admin
   * requests such as creating ACLs or SCRAM credentials, so a local process that could reach it unauthenticated could
   * give itself any right. The broker speaks to itself (inter-broker) as {@code admin}, a super user, on the client
   * listener.
   */
  private static final class Security {
    static final Security PLAINTEXT = new Security("PLAINTEXT", "", "", Map.of(), null, "", "", null);

    private static final String PLAIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule";
    private static final String SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule";

    final String protocol;
    final String mechanism;
    final String controllerPassword;
    /** Principals made at format time (SCRAM), with their passwords. */
    final Map<String, String> scramUsers;
    /** The secured broker's directory, for its key store; null without TLS. */
    final BrokerDir tls;
    final String clientUser;
    final String clientPassword;
    /** The PLAIN users the client listener knows (local broker), or null. */
    final Map<String, String> plainUsers;

    private Security(String protocol, String mechanism, String controllerPassword, Map<String, String> scramUsers,
        BrokerDir tls, String clientUser, String clientPassword, Map<String, String> plainUsers) {
      this.protocol = protocol;
      this.mechanism = mechanism;
      this.controllerPassword = controllerPassword;
      this.scramUsers = scramUsers;
      this.tls = tls;
      this.clientUser = clientUser;
      this.clientPassword = clientPassword;
      this.plainUsers = plainUsers;
    }

    static Security local() {
      String password = BrokerDir.randomPassword();
      return new Security("SASL_PLAINTEXT", "PLAIN", BrokerDir.randomPassword(), Map.of(), null, "lanes", password,
          Map.of("lanes", password));
    }

    static Security secure(BrokerDir dir, String host) {
      return new Security("SASL_SSL", BrokerDir.SCRAM, dir.password(BrokerDir.CONTROLLER), dir.formatUsers(), dir,
          BrokerDir.ADMIN, dir.password(BrokerDir.ADMIN), null);
    }

    boolean secured() {
      return !protocol.equals("PLAINTEXT");
    }

    /** Settings that hold a password: kept out of the file the storage tool reads. */
    static boolean isSecret(String name) {
      return name.endsWith("sasl.jaas.config") || name.endsWith("password");
    }

    /** The client settings of this broker's all-powerful user. */
    ClientConfig client(String bootstrap) {
      if (!secured()) {
        return ClientConfig.plaintext(bootstrap);
      }
      Map<String, String> p = new java.util.HashMap<>();
      p.put("bootstrap.servers", bootstrap);
      p.put("security.protocol", protocol);
      p.put("sasl.mechanism", mechanism);
      p.put("sasl.jaas.config",
          BrokerDir.jaas(mechanism.equals("PLAIN") ? PLAIN_MODULE : SCRAM_MODULE, clientUser, clientPassword));
      if (tls != null) {
        p.put("ssl.truststore.type", "PEM");
        p.put("ssl.truststore.certificates", tls.caPem());
      }
      return ClientConfig.of(p);
    }

    /** The SCRAM principals to create when the storage is formatted ({@code --add-scram}). */
    List<String> formatArgs() {
      List<String> args = new java.util.ArrayList<>();
      scramUsers.forEach((user, password) -> {
        args.add("--add-scram");
        args.add(mechanism + "=[name=" + user + ",password=" + password + "]");
      });
      return args;
    }

    Map<String, Object> brokerConfig(String client, String controller) {
      if (!secured()) {
        return Map.of();
      }
      Map<String, Object> c = new java.util.HashMap<>();
      c.put("listeners", "CLIENT://" + client + ",CONTROLLER://" + controller);
      c.put("advertised.listeners", "CLIENT://" + client);
      c.put("listener.security.protocol.map", "CLIENT:" + protocol + ",CONTROLLER:SASL_PLAINTEXT");
      c.put("inter.broker.listener.name", "CLIENT");
      c.put("sasl.enabled.mechanisms", mechanism);
      c.put("sasl.mechanism.inter.broker.protocol", mechanism);
      c.put("sasl.mechanism.controller.protocol", "PLAIN");
      c.put("listener.name.controller.sasl.enabled.mechanisms", "PLAIN");
      c.put("listener.name.controller.plain.sasl.jaas.config", PLAIN_MODULE + " required username=\"controller\""
          + " password=\"" + controllerPassword + "\" user_controller=\"" + controllerPassword + "\";");
      String lower = mechanism.toLowerCase(java.util.Locale.ROOT);
      if (plainUsers != null) {
        StringBuilder jaas = new StringBuilder(BrokerDir.jaas(PLAIN_MODULE, clientUser, clientPassword));
        jaas.setLength(jaas.length() - 1);
        plainUsers.forEach((user, password) -> jaas.append(" user_").append(user).append("=\"").append(password)
            .append('"'));
        c.put("listener.name.client." + lower + ".sasl.jaas.config", jaas.append(';').toString());
      } else {
        c.put("listener.name.client." + lower + ".sasl.jaas.config",
            BrokerDir.jaas(SCRAM_MODULE, clientUser, clientPassword));
      }
      if (tls != null) {
        c.put("listener.name.client.ssl.keystore.type", "PKCS12");
        c.put("listener.name.client.ssl.keystore.location", tls.keystore().toString());
        c.put("listener.name.client.ssl.keystore.password", tls.keystorePassword());
        c.put("listener.name.client.ssl.key.password", tls.keystorePassword());
        // The broker is its own client (inter-broker): it trusts the CA.
        c.put("listener.name.client.ssl.truststore.type", "PEM");
        c.put("listener.name.client.ssl.truststore.certificates", tls.caPem());
        c.put("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer");
        c.put("super.users", "User:" + BrokerDir.ADMIN + ";User:" + BrokerDir.CONTROLLER);
        c.put("allow.everyone.if.no.acl.found", "false");
        // An open connection re-authenticates within this time, so a revoked credential stops working on it too.
        c.put("connections.max.reauth.ms", String.valueOf(Duration.ofMinutes(10).toMillis()));
      }
      return c;
    }
  }

  /** Kafka could not bind one of its ports; the caller may pick new ones and retry. */
  private static final class PortTakenException extends RuntimeException {
    PortTakenException(BindException cause) {
      super(cause.getMessage(), cause);
    }
  }
}
