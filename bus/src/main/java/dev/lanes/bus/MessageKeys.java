package dev.lanes.bus;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import javax.crypto.KeyAgreement;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The keys one process holds for {@link Envelope}: the parties it may speak as, and the parties it can check.
 *
 * <p>Every party has an X25519 key pair. The lead and each other party agree on a key of their own (X25519, then
 * HMAC-SHA256 of the shared secret with the party's name), which only those two can compute: it tags what the party
 * tells the lead and what the lead tells the party. The lead's own records (its event log) are tagged with a key
 * derived from its private key alone, which no other party can compute. Enrolment needs one more secret, shared by the
 * lead and every holder of {@code worker.properties}: it lets a new worker introduce its public key.
 *
 * <p>Properties, as {@code lanes broker} writes them into the client files (transport strips {@code lanes.*} before
 * Kafka sees them): {@code lanes.lead.private-key} (lead only), {@code lanes.lead.public-key} (everyone),
 * {@code lanes.submit.private-key} (submitters), {@code lanes.submit.public-key} (lead), {@code lanes.enrol.secret}
 * (lead and workers). Keys are base64 of their PKCS#8 (private) or X.509 (public) encodings.
 *
 * <p>Which worker keys the lead believes grows at run time (enrolments, the log's {@code WorkerEnrolled} records):
 * the first key seen for an id is kept, and a revoked id stays revoked.
 */
public final class MessageKeys {
  public static final String LEAD_PRIVATE = "lanes.lead.private-key";
  public static final String LEAD_PUBLIC = "lanes.lead.public-key";
  public static final String SUBMIT_PRIVATE = "lanes.submit.private-key";
  public static final String SUBMIT_PUBLIC = "lanes.submit.public-key";
  public static final String ENROL_SECRET = "lanes.enrol.secret";
  /** Where a worker keeps the key pair it made for itself, in its own directory (mode 600). */
  public static final String WORKER_KEY_FILE = "message-key";

  static final String LEAD = "lead";
  static final String SUBMIT = "submit";
  static final String WORKER = "worker/";
  static final String ENROL = "enrol";

  private static final String ALGORITHM = "X25519";
  private static final SecureRandom RANDOM = new SecureRandom();
  private static volatile MessageKeys inProcess;

  private final PublicKey leadPublic;
  private final Optional<PrivateKey> leadPrivate;
  private final Optional<PrivateKey> submitPrivate;
  private final Optional<PublicKey> submitPublic;
  private final Optional<byte[]> enrolSecret;
  /** Workers this process speaks as. */
  private final Map<String, KeyPair> own = new ConcurrentHashMap<>();
  /** Workers the lead believes, by id: the first key enrolled for each. */
  private final Map<String, PublicKey> enrolled = new ConcurrentHashMap<>();
  private final Set<String> revoked = ConcurrentHashMap.newKeySet();
  /** {@link #broadcast}'s list, dropped whenever the set of believed workers changes. */
  private volatile List<Recipient> recipients;
  /** Tag keys per pair of parties, derived once: an X25519 agreement costs about half a millisecond. */
  private final Map<String, Tagger> taggers = new ConcurrentHashMap<>();
  /** All parties in one process (lanes run, tests): a worker's key is made when it first speaks, and known at once. */
  private final boolean everyone;

  private MessageKeys(PublicKey leadPublic, Optional<PrivateKey> leadPrivate, Optional<PrivateKey> submitPrivate,
      Optional<PublicKey> submitPublic, Optional<byte[]> enrolSecret, boolean everyone) {
    this.leadPublic = leadPublic;
    this.leadPrivate = leadPrivate;
    this.submitPrivate = submitPrivate;
    this.submitPublic = submitPublic;
    this.enrolSecret = enrolSecret;
    this.everyone = everyone;
  }

  /** The {@code lanes.*} properties of a new deployment's three client files. */
  public record Credentials(Map<String, String> lead, Map<String, String> worker, Map<String, String> submit) {
    public Credentials {
      lead = Map.copyOf(lead);
      worker = Map.copyOf(worker);
      submit = Map.copyOf(submit);
    }
  }

  /** Fresh keys for a deployment: what {@code lanes broker} writes into {@code lead}, {@code worker} and {@code submit}.properties. */
  public static Credentials newCredentials() {
    KeyPair lead = generate();
    KeyPair submit = generate();
    String enrol = Base64.getEncoder().encodeToString(randomBytes(32));
    String leadPublic = encode(lead.getPublic());
    Map<String, String> leadProps = new LinkedHashMap<>();
    leadProps.put(LEAD_PRIVATE, encode(lead.getPrivate()));
    leadProps.put(LEAD_PUBLIC, leadPublic);
    leadProps.put(SUBMIT_PUBLIC, encode(submit.getPublic()));
    leadProps.put(ENROL_SECRET, enrol);
    Map<String, String> workerProps = Map.of(LEAD_PUBLIC, leadPublic, ENROL_SECRET, enrol);
    Map<String, String> submitProps = Map.of(LEAD_PUBLIC, leadPublic, SUBMIT_PRIVATE, encode(submit.getPrivate()));
    return new Credentials(leadProps, workerProps, submitProps);
  }

  /**
   * Reads the {@code lanes.*} properties of a client file; {@code Optional.empty()} when it has none (the caller then
   * runs unsigned only if told so). Every party needs the lead's public key.
   *
   * @throws IllegalArgumentException naming the property whose value is not a key
   */
  public static Optional<MessageKeys> of(Map<String, String> properties) {
    if (java.util.stream.Stream.of(LEAD_PRIVATE, LEAD_PUBLIC, SUBMIT_PRIVATE, SUBMIT_PUBLIC, ENROL_SECRET)
        .noneMatch(properties::containsKey)) {
      return Optional.empty();
    }
    String leadPublic = properties.get(LEAD_PUBLIC);
    if (leadPublic == null || leadPublic.isBlank()) {
      throw new IllegalArgumentException(LEAD_PUBLIC + ": missing; every party checks the lead's messages with it");
    }
    return Optional.of(new MessageKeys(publicKey(LEAD_PUBLIC, leadPublic),
        Optional.ofNullable(properties.get(LEAD_PRIVATE)).map(v -> privateKey(LEAD_PRIVATE, v)),
        Optional.ofNullable(properties.get(SUBMIT_PRIVATE)).map(v -> privateKey(SUBMIT_PRIVATE, v)),
        Optional.ofNullable(properties.get(SUBMIT_PUBLIC)).map(v -> publicKey(SUBMIT_PUBLIC, v)),
        Optional.ofNullable(properties.get(ENROL_SECRET)).map(v -> secret(ENROL_SECRET, v)), false));
  }

  /**
   * One key set for every party of this process ({@code lanes run}, tests, benchmarks in one JVM): the lead, the
   * submitter and any worker, whose keys are made when it first speaks. Parties in one process share a heap, so they
   * have no secrets from each other; what they publish is tagged as across machines all the same.
   */
  public static MessageKeys inProcess() {
    MessageKeys keys = inProcess;
    if (keys == null) {
      synchronized (MessageKeys.class) {
        if (inProcess == null) {
          Credentials c = newCredentials();
          Map<String, String> all = new LinkedHashMap<>(c.lead());
          all.putAll(c.submit());
          MessageKeys k = of(all).orElseThrow();
          inProcess = new MessageKeys(k.leadPublic, k.leadPrivate, k.submitPrivate, k.submitPublic, k.enrolSecret, true);
        }
        keys = inProcess;
      }
    }
    return keys;
  }

  /**
   * Speaks as worker {@code id} with the key pair kept in {@code dir}/{@value #WORKER_KEY_FILE}, made there (mode 600)
   * the first time. Returns this.
   */
  public MessageKeys withWorkerKey(String id, Path dir) {
    Path file = dir.resolve(WORKER_KEY_FILE);
    try {
      if (!Files.exists(file)) {
        Files.createDirectories(dir);
        KeyPair pair = generate();
        Path tmp = Files.createTempFile(dir, WORKER_KEY_FILE, ".tmp",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, encode(pair.getPrivate()) + "\n" + encode(pair.getPublic()) + "\n");
        Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      }
      String[] lines = Files.readString(file, StandardCharsets.UTF_8).strip().split("\n");
      if (lines.length != 2) {
        throw new IllegalArgumentException(file + ": not a worker key file (two lines: private key, public key)");
      }
      own.put(id, new KeyPair(publicKey(file.toString(), lines[1].strip()), privateKey(file.toString(), lines[0].strip())));
      return this;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot keep the worker's key in " + file, e);
    }
  }

  /** Speaks as worker {@code id} with a key pair made now and kept in memory only (benchmarks, tests). Returns this. */
  public MessageKeys withNewWorkerKey(String id) {
    own.put(id, generate());
    return this;
  }

  /** The public key this process speaks as worker {@code id} with, base64 (X.509). */
  public Optional<String> workerPublicKey(String id) {
    return Optional.ofNullable(own.get(id)).map(p -> encode(p.getPublic()));
  }

  /** Whether this process can introduce worker {@code id} to the lead: it has the worker's key and the secret. */
  boolean mayEnrol(String id) {
    return !everyone && enrolSecret.isPresent() && own.containsKey(id);
  }

  boolean isEveryone() {
    return everyone;
  }

  /** Whether this process holds the private key of {@code party}. */
  boolean speaksAs(String party) {
    if (party.equals(LEAD)) {
      return leadPrivate.isPresent();
    } else if (party.equals(SUBMIT)) {
      return submitPrivate.isPresent();
    } else if (party.startsWith(WORKER)) {
      String id = party.substring(WORKER.length());
      if (everyone && !own.containsKey(id)) {
        KeyPair pair = own.computeIfAbsent(id, k -> generate());
        if (enrolled.putIfAbsent(id, pair.getPublic()) == null) {
          recipients = null;
        }
      }
      return own.containsKey(id);
    }
    return false;
  }

  /** The parties other than the lead whose tags the lead adds to what it broadcasts: every worker it believes. */
  Iterable<String> workers() {
    return enrolled.keySet();
  }

  boolean isRevoked(String id) {
    return revoked.contains(id);
  }

  Optional<PublicKey> enrolledKey(String id) {
    return Optional.ofNullable(enrolled.get(id));
  }

  /**
   * Believes {@code key} for worker {@code id} unless the id is revoked or has another key already.
   *
   * @return empty when it is believed now (or already was); otherwise why not
   */
  Optional<String> enrol(String id, PublicKey key) {
    if (revoked.contains(id)) {
      return Optional.of("worker \"" + id + "\" is revoked");
    }
    PublicKey kept = enrolled.putIfAbsent(id, key);
    if (kept == null) {
      recipients = null;
    }
    if (kept != null && !kept.equals(key)) {
      return Optional.of("worker \"" + id + "\" is enrolled with another key; an id is not taken over by a second key");
    }
    return Optional.empty();
  }

  /** Believes nothing more from worker {@code id}, now or after a restart of this process's bus. */
  void revoke(String id) {
    revoked.add(id);
    enrolled.remove(id);
    taggers.remove(WORKER + id);
    recipients = null;
  }

  /**
   * The tagger for messages between {@code sender} and {@code recipient}, or empty when this process cannot compute
   * their key (it is neither of them, or the other one's public key is unknown).
   */
  Optional<Tagger> tagger(String sender, String recipient, Optional<PublicKey> senderKey) {
    if (recipient.equals(ENROL)) {
      return enrolSecret.map(s -> taggers.computeIfAbsent(ENROL, k -> new Tagger(s)));
    }
    String other;
    if (sender.equals(LEAD)) {
      other = recipient;
    } else if (recipient.equals(LEAD)) {
      other = sender;
    } else {
      return Optional.empty(); // only the lead and one other party share a key
    }
    if (other.equals(LEAD)) {
      return leadPrivate.map(k -> taggers.computeIfAbsent(LEAD, n -> new Tagger(hmac(k.getEncoded(), "lanes self v1"))));
    }
    Tagger known = taggers.get(other);
    if (known != null && senderKey.isEmpty()) {
      return Optional.of(known);
    }
    Optional<byte[]> shared = agree(other, senderKey);
    if (shared.isEmpty()) {
      return Optional.empty();
    }
    Tagger tagger = new Tagger(hmac(shared.get(), "lanes pair v1 " + other));
    if (senderKey.isEmpty()) {
      taggers.putIfAbsent(other, tagger);
    }
    return Optional.of(tagger);
  }

  /** The X25519 secret shared by the lead and {@code other}, from whichever private half this process holds. */
  private Optional<byte[]> agree(String other, Optional<PublicKey> otherKey) {
    if (leadPrivate.isPresent()) {
      Optional<PublicKey> theirs = otherKey.isPresent() ? otherKey
          : other.equals(SUBMIT) ? submitPublic
          : other.startsWith(WORKER) ? enrolledKey(other.substring(WORKER.length())) : Optional.empty();
      return theirs.map(k -> agreement(leadPrivate.get(), k));
    }
    Optional<PrivateKey> mine = other.equals(SUBMIT) ? submitPrivate
        : other.startsWith(WORKER) ? Optional.ofNullable(own.get(other.substring(WORKER.length()))).map(KeyPair::getPrivate)
        : Optional.empty();
    return mine.map(k -> agreement(k, leadPublic));
  }

  /**
   * One pair's tag key, with a cipher ready to use. A tag is the CBC-MAC (AES-128, zero IV) of a record's 32-byte
   * digest: CBC-MAC is a sound MAC for inputs of one fixed length, and two AES blocks cost less than an HMAC's two
   * hashes, compiled by C1 (measured: a tenth of HMAC-SHA256's cost there) or by C2 onto the CPU's AES instructions, as
   * the launcher has it: the lead tags what it broadcasts once per worker, so this is the cost that grows with the fleet.
   */
  static final class Tagger {
    private final javax.crypto.Cipher cipher;
    private final byte[] out = new byte[32];

    Tagger(byte[] key) {
      try {
        cipher = javax.crypto.Cipher.getInstance("AES/CBC/NoPadding");
        cipher.init(javax.crypto.Cipher.ENCRYPT_MODE, new SecretKeySpec(key, 0, 16, "AES"),
            new javax.crypto.spec.IvParameterSpec(new byte[16]));
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("AES/CBC is missing from this JDK", e);
      }
    }

    /** Writes the tag of {@code digest} (32 bytes) at {@code to[at]}. */
    synchronized void tag(byte[] digest, byte[] to, int at) {
      try {
        cipher.doFinal(digest, 0, 32, out, 0); // doFinal leaves the cipher as init left it, IV included
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("cannot tag a digest", e);
      }
      System.arraycopy(out, 16, to, at, Envelope.TAG_BYTES);
    }

    byte[] tag(byte[] digest) {
      byte[] tag = new byte[Envelope.TAG_BYTES];
      tag(digest, tag, 0);
      return tag;
    }
  }

  /** A party the lead tags its broadcasts for: the party's name as on the wire, and its tagger. */
  record Recipient(byte[] name, Tagger tagger) {}

  /**
   * Every worker the lead believes, with its tagger, for the lead's broadcasts: made again only when the set changes,
   * not for every record.
   */
  List<Recipient> broadcast() {
    List<Recipient> list = recipients;
    if (list == null) {
      List<Recipient> made = new ArrayList<>();
      for (String id : enrolled.keySet()) {
        tagger(LEAD, WORKER + id, Optional.empty())
            .ifPresent(t -> made.add(new Recipient((WORKER + id).getBytes(StandardCharsets.UTF_8), t)));
      }
      list = List.copyOf(made);
      recipients = list;
    }
    return list;
  }

  static PublicKey decodePublic(String what, String base64) {
    return publicKey(what, base64);
  }

  static String encode(java.security.Key key) {
    return Base64.getEncoder().encodeToString(key.getEncoded());
  }

  private static KeyPair generate() {
    try {
      return KeyPairGenerator.getInstance(ALGORITHM).generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(ALGORITHM + " is missing from this JDK", e);
    }
  }

  private static byte[] agreement(PrivateKey mine, PublicKey theirs) {
    try {
      KeyAgreement agreement = KeyAgreement.getInstance(ALGORITHM);
      agreement.init(mine);
      agreement.doPhase(theirs, true);
      return agreement.generateSecret();
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("cannot agree a key with " + encode(theirs) + ": " + e.getMessage(), e);
    }
  }

  private static byte[] hmac(byte[] key, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is missing from this JDK", e);
    }
  }

  private static PublicKey publicKey(String what, String base64) {
    try {
      return KeyFactory.getInstance(ALGORITHM).generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(base64)));
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IllegalArgumentException(what + ": not an X25519 public key in base64 (X.509)");
    }
  }

  private static PrivateKey privateKey(String what, String base64) {
    try {
      return KeyFactory.getInstance(ALGORITHM).generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(base64)));
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IllegalArgumentException(what + ": not an X25519 private key in base64 (PKCS#8)");
    }
  }

  private static byte[] secret(String what, String base64) {
    byte[] bytes;
    try {
      bytes = Base64.getDecoder().decode(base64);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(what + ": not base64");
    }
    if (bytes.length < 16) {
      throw new IllegalArgumentException(what + ": " + bytes.length + " bytes; a secret has at least 16");
    }
    return bytes;
  }

  private static byte[] randomBytes(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return b;
  }

  /** Names which parties this process speaks as; never a key. */
  @Override
  public String toString() {
    return "MessageKeys[lead=" + leadPrivate.isPresent() + ", submit=" + submitPrivate.isPresent() + ", workers="
        + own.keySet() + ", enrol=" + enrolSecret.isPresent() + "]";
  }
}
