package dev.lanes.bus;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The directory of a secured {@code lanes broker}: its Kafka data and everything that secures it, made on first use
 * and reused afterwards.
 *
 * <pre>
 * DIR/kafka/                 Kafka's data (its only log directory)
 * DIR/secrets.properties     passwords of the stores and of every principal (mode 600)
 * DIR/tls/ca.p12             the CA's key and certificate (PKCS12)
 * DIR/tls/ca.pem             the CA's certificate, which clients trust
 * DIR/tls/broker.p12         the broker's key and its certificate, signed by the CA, for --host, 127.0.0.1, localhost
 * DIR/clients/ROLE.properties   ready client files: lead, worker, submit, and worker-ID for each added worker
 * </pre>
 *
 * <p>The CA and the broker's certificate are made by the JDK's own {@code keytool}, run as a child process with an
 * argv (never a shell); store passwords reach it through its environment, not its argv, which other users can list.
 * Every password is 32 random bytes from {@link SecureRandom}. A start with another {@code --host} keeps the CA (so the
 * client files stay good) and has it sign a new broker certificate for the new name.
 */
public final class BrokerDir {
  /** The broker's own principal: creates the topics and ACLs, and is the inter-broker user. */
  static final String ADMIN = "admin";
  /** The principal the broker uses towards its own controller, on the loopback controller listener. */
  static final String CONTROLLER = "controller";
  static final String SCRAM = "SCRAM-SHA-512";
  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9][A-Za-z0-9.:-]{0,252}");
  private static final Pattern WORKER_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final long KEYTOOL_TIMEOUT_SECONDS = 60;

  private final Path dir;
  private final Properties secrets;

  private BrokerDir(Path dir, Properties secrets) {
    this.dir = dir;
    this.secrets = secrets;
  }

  /**
   * Opens {@code dir}, making the CA, passwords and a certificate for {@code host} the first time, and a new broker
   * certificate when {@code host} changed.
   *
   * @throws IllegalArgumentException if {@code dir} holds a broker made without credentials
   */
  public static BrokerDir open(Path dir, String host) {
    // The host goes into the certificate's subject and names: nothing but a host name or an address may get there.
    if (!HOST.matcher(host).matches()) {
      throw new IllegalArgumentException(String.format(
          "--host: \"%s\" is not a host name or IP address (letters, digits, '.', '-', ':')", host));
    }
    Path root = dir.toAbsolutePath().normalize();
    if (Files.exists(root.resolve("meta.properties"))) {
      throw new IllegalArgumentException(String.format("--dir: %s holds the data of a broker started without "
          + "credentials (--insecure); start it with --insecure again, or give a new --dir", root));
    }
    ClientFiles.createPrivateDirectory(root);
    Path secretsFile = root.resolve("secrets.properties");
    Properties secrets = Files.exists(secretsFile) ? ClientFiles.read(secretsFile) : new Properties();
    BrokerDir broker = new BrokerDir(root, secrets);
    broker.create(host);
    return broker;
  }

  /** Opens a directory already made by {@link #open}, for {@code lanes credentials}. */
  public static BrokerDir existing(Path dir) {
    Path root = dir.toAbsolutePath().normalize();
    Path secretsFile = root.resolve("secrets.properties");
    if (!Files.isRegularFile(secretsFile)) {
      throw new IllegalArgumentException(String.format(
          "--dir: %s is not the directory of a secured lanes broker (no secrets.properties)", root));
    }
    return new BrokerDir(root, ClientFiles.read(secretsFile));
  }

  /** Whether {@code dir} is the directory of a secured broker that has been started at least once. */
  public static boolean isSecured(Path dir) {
    return Files.isRegularFile(dir.resolve("secrets.properties"));
  }

  public Path path() {
    return dir;
  }

  /** Kafka's log directory. */
  Path kafkaDir() {
    return dir.resolve("kafka");
  }

  Path keystore() {
    return dir.resolve("tls").resolve("broker.p12");
  }

  String keystorePassword() {
    return secrets.getProperty("store.broker");
  }

  String caPem() {
    try {
      return Files.readString(dir.resolve("tls").resolve("ca.pem"), StandardCharsets.US_ASCII).strip();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the CA certificate in " + dir, e);
    }
  }

  /** The password of a principal made at format time (admin, controller, lead, worker, submit). */
  String password(String user) {
    String password = secrets.getProperty("user." + user);
    if (password == null) {
      throw new IllegalStateException("no password for " + user + " in " + dir.resolve("secrets.properties"));
    }
    return password;
  }

  /** The principals made when Kafka's storage is formatted, with their passwords. */
  Map<String, String> formatUsers() {
    Map<String, String> users = new java.util.LinkedHashMap<>();
    users.put(ADMIN, password(ADMIN));
    for (Role role : Role.values()) {
      users.put(role.id(), password(role.id()));
    }
    return users;
  }

  /** Where the broker was last started ({@code host:port}), for {@code lanes credentials}. */
  public String bootstrapServers() {
    String bootstrap = secrets.getProperty("broker.bootstrap");
    if (bootstrap == null) {
      throw new IllegalArgumentException("--dir: the broker in " + dir + " was never started");
    }
    return bootstrap;
  }

  /** The admin principal's client settings: TLS against the CA, SCRAM as {@code admin}. */
  public ClientConfig adminConfig() {
    return ClientConfig.of(toMap(clientProperties(bootstrapServers(), ADMIN, password(ADMIN))));
  }

  /**
   * Writes the client file of every role (lead, worker, submit) for a broker at {@code bootstrap}, and records the
   * address for {@code lanes credentials}. Returns the files.
   */
  List<Path> writeClientFiles(String bootstrap) {
    secrets.setProperty("broker.bootstrap", bootstrap);
    saveSecrets();
    List<Path> files = new ArrayList<>();
    for (Role role : Role.values()) {
      files.add(writeClientFile(role.id(), bootstrap, role.id(), password(role.id())));
    }
    return files;
  }

  /**
   * The one place a client file is composed; {@code name} is the file's name, {@code user} the SCRAM principal.
   * Lanes' own entries for the party ({@code lanes.*}, such as key material) belong in {@code entries} here too.
   */
  Path writeClientFile(String name, String bootstrap, String user, String password) {
    Properties entries = clientProperties(bootstrap, user, password);
    entries.putAll(messageKeys(name.startsWith("worker-") ? Role.WORKER.id() : name));
    return ClientFiles.write(dir, name, entries);
  }

  /**
   * The {@code lanes.*} message keys of a role's client file (see {@link MessageKeys}): made once for this broker
   * directory and kept with its other secrets, so every file written later carries the same lead key. A file of an
   * added worker carries the worker role's: an enrolment credential, with which the worker makes and enrols its own key.
   */
  private Map<String, String> messageKeys(String role) {
    if (secrets.getProperty("keys.lead." + MessageKeys.LEAD_PUBLIC) == null) {
      MessageKeys.Credentials made = MessageKeys.newCredentials();
      made.lead().forEach((k, v) -> secrets.setProperty("keys.lead." + k, v));
      made.worker().forEach((k, v) -> secrets.setProperty("keys.worker." + k, v));
      made.submit().forEach((k, v) -> secrets.setProperty("keys.submit." + k, v));
      saveSecrets();
    }
    String prefix = "keys." + role + ".";
    Map<String, String> keys = new java.util.TreeMap<>();
    for (String k : secrets.stringPropertyNames()) {
      if (k.startsWith(prefix)) {
        keys.put(k.substring(prefix.length()), secrets.getProperty(k));
      }
    }
    return keys;
  }

  /**
   * Makes the principal {@code worker-ID} with a new random password and the worker role's ACLs on the running broker,
   * and writes its client file {@code clients/worker-ID.properties}. Adding an id again gives it a new password.
   */
  public Path addWorker(String id) {
    String principal = workerPrincipal(id);
    String password = randomPassword();
    ClientConfig admin = adminConfig();
    try (org.apache.kafka.clients.admin.Admin client = org.apache.kafka.clients.admin.Admin.create(admin.kafka())) {
      await(client.alterUserScramCredentials(List.of(new org.apache.kafka.clients.admin.UserScramCredentialUpsertion(
          principal, new org.apache.kafka.clients.admin.ScramCredentialInfo(
              org.apache.kafka.clients.admin.ScramMechanism.SCRAM_SHA_512, 8192), password))).all(),
          "create the credential of " + principal);
      await(client.createAcls(Role.WORKER.acls(principal)).all(), "grant " + principal + " the worker role");
    }
    return writeClientFile(principal, bootstrapServers(), principal, password);
  }

  /**
   * Deletes the credential of {@code worker-ID} and every ACL naming it, so it can neither connect again nor act on
   * a connection it holds, and deletes its client file. Returns whether the broker knew the credential.
   */
  public boolean revokeWorker(String id) {
    String principal = workerPrincipal(id);
    ClientConfig admin = adminConfig();
    boolean known;
    try (org.apache.kafka.clients.admin.Admin client = org.apache.kafka.clients.admin.Admin.create(admin.kafka())) {
      known = exists(client, principal);
      if (known) {
        await(client.alterUserScramCredentials(List.of(new org.apache.kafka.clients.admin.UserScramCredentialDeletion(
            principal, org.apache.kafka.clients.admin.ScramMechanism.SCRAM_SHA_512))).all(),
            "delete the credential of " + principal);
      }
      await(client.deleteAcls(List.of(new org.apache.kafka.common.acl.AclBindingFilter(
          org.apache.kafka.common.resource.ResourcePatternFilter.ANY,
          new org.apache.kafka.common.acl.AccessControlEntryFilter("User:" + principal, null,
              org.apache.kafka.common.acl.AclOperation.ANY,
              org.apache.kafka.common.acl.AclPermissionType.ANY)))).all(),
          "delete the ACLs of " + principal);
    }
    ClientFiles.delete(dir, principal);
    return known;
  }

  private boolean exists(org.apache.kafka.clients.admin.Admin client, String principal) {
    try {
      client.describeUserScramCredentials(List.of(principal)).description(principal).get(30, TimeUnit.SECONDS);
      return true;
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof org.apache.kafka.common.errors.ResourceNotFoundException) {
        return false;
      }
      throw new BusException("cannot look up " + principal + " on the broker at " + bootstrapServers()
          + " (is it running?): " + e.getCause().getMessage(), e);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new BusException("no answer from the broker at " + bootstrapServers() + " (is it running?)", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BusException("interrupted looking up " + principal, e);
    }
  }

  private <T> void await(org.apache.kafka.common.KafkaFuture<T> future, String what) {
    try {
      future.get(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new BusException("cannot " + what + " on the broker at " + bootstrapServers() + " (is it running?): "
          + cause.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BusException("interrupted: " + what, e);
    }
  }

  /** Checks a worker id given to {@code lanes credentials}: it becomes a principal and a file name. */
  public static String workerPrincipal(String id) {
    if (!WORKER_ID.matcher(id).matches()) {
      throw new IllegalArgumentException(String.format(
          "ID: \"%s\" must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", id));
    }
    return "worker-" + id;
  }

  static String randomPassword() {
    byte[] bytes = new byte[32];
    RANDOM.nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  private Properties clientProperties(String bootstrap, String user, String password) {
    Properties p = new Properties();
    p.setProperty("bootstrap.servers", bootstrap);
    p.setProperty("security.protocol", "SASL_SSL");
    p.setProperty("sasl.mechanism", SCRAM);
    p.setProperty("sasl.jaas.config", jaas("org.apache.kafka.common.security.scram.ScramLoginModule", user, password));
    // The CA inline: the file is all a party needs, with no truststore to copy beside it.
    p.setProperty("ssl.truststore.type", "PEM");
    p.setProperty("ssl.truststore.certificates", caPem());
    return p;
  }

  /** A JAAS line for a login module with a user name and password (both from a safe alphabet: no quoting needed). */
  static String jaas(String module, String user, String password) {
    return module + " required username=\"" + user + "\" password=\"" + password + "\";";
  }

  private void create(String host) {
    boolean changed = false;
    for (String user : List.of(ADMIN, CONTROLLER, Role.LEAD.id(), Role.WORKER.id(), Role.SUBMIT.id())) {
      changed |= secrets.putIfAbsent("user." + user, randomPassword()) == null;
    }
    changed |= secrets.putIfAbsent("store.ca", randomPassword()) == null;
    changed |= secrets.putIfAbsent("store.broker", randomPassword()) == null;
    if (changed) {
      saveSecrets(); // before the stores that use them exist, so a crash in between cannot leave a store nobody opens
    }
    Path tls = dir.resolve("tls");
    ClientFiles.createPrivateDirectory(tls);
    if (!Files.exists(tls.resolve("ca.p12")) || !Files.exists(tls.resolve("ca.pem"))) {
      makeCa(tls);
    }
    if (!Files.exists(keystore()) || !host.equals(secrets.getProperty("broker.host"))) {
      makeBrokerCertificate(tls, host);
      secrets.setProperty("broker.host", host);
      saveSecrets();
    }
  }

  private void makeCa(Path tls) {
    deleteIfExists(tls.resolve("ca.p12"));
    keytool(Map.of("LANES_STORE", secrets.getProperty("store.ca")),
        "-genkeypair", "-keystore", tls.resolve("ca.p12").toString(), "-storetype", "PKCS12",
        "-storepass:env", "LANES_STORE", "-alias", "ca", "-dname", "CN=Lanes broker CA " + dir.getFileName(),
        "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "3650", "-ext", "bc:c");
    keytool(Map.of("LANES_STORE", secrets.getProperty("store.ca")),
        "-exportcert", "-rfc", "-keystore", tls.resolve("ca.p12").toString(), "-storepass:env", "LANES_STORE",
        "-alias", "ca", "-file", tls.resolve("ca.pem").toString());
    narrow(tls.resolve("ca.p12"));
  }

  private void makeBrokerCertificate(Path tls, String host) {
    Path store = keystore();
    Path request = tls.resolve("broker.csr");
    Path signed = tls.resolve("broker.crt");
    deleteIfExists(store);
    Map<String, String> env = Map.of("LANES_STORE", secrets.getProperty("store.broker"),
        "LANES_CA", secrets.getProperty("store.ca"));
    keytool(env, "-genkeypair", "-keystore", store.toString(), "-storetype", "PKCS12", "-storepass:env",
        "LANES_STORE", "-alias", "broker", "-dname", "CN=" + host, "-keyalg", "EC", "-groupname", "secp256r1",
        "-validity", "3650");
    narrow(store);
    keytool(env, "-certreq", "-keystore", store.toString(), "-storepass:env", "LANES_STORE", "-alias", "broker",
        "-file", request.toString());
    keytool(env, "-gencert", "-rfc", "-keystore", tls.resolve("ca.p12").toString(), "-storepass:env", "LANES_CA",
        "-alias", "ca", "-infile", request.toString(), "-outfile", signed.toString(), "-validity", "3650",
        "-ext", "SAN=" + subjectAlternativeNames(host), "-ext", "EKU=serverAuth");
    // The reply is the chain, the CA last: keytool installs it without asking whether to trust the CA, and the broker
    // presents both certificates.
    try {
      Files.writeString(signed, Files.readString(signed) + "\n" + Files.readString(tls.resolve("ca.pem")));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + signed, e);
    }
    keytool(env, "-importcert", "-noprompt", "-keystore", store.toString(), "-storepass:env", "LANES_STORE",
        "-alias", "broker", "-file", signed.toString());
    deleteIfExists(request);
    deleteIfExists(signed);
  }

  /** {@code host} as an IP or DNS name, and the loopback names, so local clients verify the broker too. */
  static String subjectAlternativeNames(String host) {
    Set<String> names = new LinkedHashSet<>();
    names.add((isIpAddress(host) ? "ip:" : "dns:") + host);
    names.add("ip:127.0.0.1");
    names.add("dns:localhost");
    return String.join(",", names);
  }

  private static boolean isIpAddress(String host) {
    return host.matches("[0-9.]+") || host.contains(":");
  }

  /** Runs the JDK's keytool with an argv; its output is kept for the error message only (it holds no password). */
  private static void keytool(Map<String, String> env, String... args) {
    Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
    List<String> argv = new ArrayList<>();
    argv.add(keytool.toString());
    argv.addAll(List.of(args));
    // Each run is a short-lived JVM doing one signature: the quick JIT and the smallest collector start it fastest.
    argv.addAll(List.of("-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC"));
    ProcessBuilder builder = new ProcessBuilder(argv).redirectErrorStream(true);
    builder.environment().putAll(env);
    try {
      Process process = builder.start();
      process.getOutputStream().close();
      byte[] output = process.getInputStream().readNBytes(64 * 1024);
      if (!process.waitFor(KEYTOOL_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException("keytool " + args[0] + " did not finish within " + KEYTOOL_TIMEOUT_SECONDS
            + "s");
      }
      if (process.exitValue() != 0) {
        throw new IllegalStateException(String.format("keytool %s failed (exit %d): %s", args[0],
            process.exitValue(), new String(output, StandardCharsets.UTF_8).strip()));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + keytool, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted running keytool", e);
    }
  }

  private void saveSecrets() {
    ClientFiles.writePrivate(dir.resolve("secrets.properties"), secrets,
        "passwords of the lanes broker in this directory; keep this file secret");
  }

  private static void narrow(Path file) {
    try {
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot restrict " + file, e);
    }
  }

  private static void deleteIfExists(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + file, e);
    }
  }

  private static Map<String, String> toMap(Properties p) {
    Map<String, String> map = new java.util.TreeMap<>();
    p.stringPropertyNames().forEach(n -> map.put(n, p.getProperty(n)));
    return map;
  }
}
