package dev.lanes.bus;

import dev.lanes.protocol.ActionTaken;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.EnrolmentRefused;
import dev.lanes.protocol.EnrolmentRequested;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.LeadOnline;
import dev.lanes.protocol.LeadServing;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.PlanRejected;
import dev.lanes.protocol.PlanRevised;
import dev.lanes.protocol.PlanSubmitted;
import dev.lanes.protocol.ProtocolException;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.TaskCancelled;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.Topics;
import dev.lanes.protocol.UsageRecorded;
import dev.lanes.protocol.RunBudget;
import dev.lanes.protocol.WorkerEnrolled;
import dev.lanes.protocol.WorkerStatus;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What makes a record on the bus say who sent it, and the one place that checks it: {@link KafkaBus} and
 * {@link MemoryBus} seal every message they publish here and open every record they read here.
 *
 * <p>A sealed record carries two headers. {@code lanes-from} names the sender: {@code lead}, {@code submit} or
 * {@code worker/ID}. {@code lanes-mac} holds one tag per party meant to check the record: a 16-byte CBC-MAC (AES-128),
 * under the key the sender shares with that party (see {@link MessageKeys}), of a digest of the topic, the key and the
 * value (SHA-512, cut to 32 bytes). A record moved to another topic or key no longer matches its tags. A worker's or a submitter's record has one
 * tag, for the lead; the lead's records have one for itself (so a restarted lead believes only its own log), one per
 * worker it believes on the work topic, and one for submitters on the events topic.
 *
 * <p>Why MACs and not signatures: Java 17's Ed25519 takes 1–2 ms to sign and as long to verify on this kind of
 * machine (measured), and the lead writes thousands of records a second ({@code lanes bench dispatch}), so signing
 * each one would cost more than a core. A MAC costs microseconds, and a key that only the lead and one other party
 * share proves as much to that party as a signature would; the price is a tag per worker on what the lead broadcasts
 * (16 bytes and two AES blocks each) and that only the two parties of a pair can check their records. With
 * tags this cheap, no verification cache is needed.
 *
 * <p>Opening a record checks, in this order: the value a message (the decoder has its own limits); both headers
 * present; the message on its own topic
 * under its own key; the sender one that may send this type ({@link #sender}: only the lead offers, grants, cancels,
 * calls the roll and records events; a worker speaks only as the worker its message names; only a submitter submits);
 * the tag. A record that fails is refused with the reason, for the bus to set aside on {@link Topics#DEAD}; a record
 * that carries no tag for this process (an offer from before this worker enrolled, a worker's report read by a
 * submitter) is skipped quietly: it is not for this reader, which cannot tell it from a forgery either way.
 *
 * <p>{@link #unsigned} is the explicit opt-out: it adds no headers and believes every well-formed record.
 */
public final class Envelope {
  private static final Logger LOG = LoggerFactory.getLogger(Envelope.class);
  static final String FROM = "lanes-from";
  static final String MAC = "lanes-mac";
  static final int TAG_BYTES = 16;

  private final Optional<MessageKeys> keys;
  private final AtomicLong refused = new AtomicLong();
  private final AtomicLong skipped = new AtomicLong();

  private Envelope(Optional<MessageKeys> keys) {
    this.keys = keys;
  }

  /** Seals with and checks against {@code keys}. */
  public static Envelope of(MessageKeys keys) {
    return new Envelope(Optional.of(keys));
  }

  /** Every party of this process in one key set ({@link MessageKeys#inProcess}). */
  public static Envelope inProcess() {
    return of(MessageKeys.inProcess());
  }

  /** No message authentication at all: anyone who reaches the bus can speak as anyone. Only when asked for. */
  public static Envelope unsigned() {
    return new Envelope(Optional.empty());
  }

  public boolean signed() {
    return keys.isPresent();
  }

  /** A record ready for the bus: its topic, key, value and the two headers (empty when unsigned). */
  public record Sealed(String topic, String key, byte[] value, Optional<byte[]> from, Optional<byte[]> mac) {}

  /** Records refused since this envelope was made: each went to the dead-letter topic with its reason. */
  public long refused() {
    return refused.get();
  }

  /** Records skipped because they carried no tag for this process. */
  public long skipped() {
    return skipped.get();
  }

  /** The enrolment worker {@code id} sends the lead before anything else, if this process is to introduce it. */
  public Optional<EnrolmentRequested> enrolment(String id) {
    return keys.filter(k -> k.mayEnrol(id))
        .flatMap(k -> k.workerPublicKey(id))
        .map(key -> new EnrolmentRequested(id, key));
  }

  /**
   * Encodes and tags {@code message} as its sender ({@link #sender}).
   *
   * @throws BusException when this process holds no key of that sender: it may not speak as them
   */
  public Sealed seal(Message message) {
    String topic = Topics.of(message);
    String key = message.key();
    byte[] value = Json.encode(message);
    if (keys.isEmpty()) {
      return new Sealed(topic, key, value, Optional.empty(), Optional.empty());
    }
    MessageKeys k = keys.get();
    String sender = sender(message);
    if (!k.speaksAs(sender)) {
      throw new BusException("this process holds no key of " + sender + ", so it may not send "
          + message.getClass().getSimpleName() + " (" + k + ")", null);
    }
    byte[] digest = digest(topic, key, value);
    List<MessageKeys.Recipient> to = recipients(sender, topic, message, k);
    int size = 0;
    for (MessageKeys.Recipient r : to) {
      size += 1 + r.name().length + TAG_BYTES;
    }
    byte[] tags = new byte[size];
    int at = 0;
    for (MessageKeys.Recipient r : to) {
      tags[at] = (byte) r.name().length;
      System.arraycopy(r.name(), 0, tags, at + 1, r.name().length);
      at += 1 + r.name().length;
      r.tagger().tag(digest, tags, at);
      at += TAG_BYTES;
    }
    return new Sealed(topic, key, value, Optional.of(sender.getBytes(StandardCharsets.UTF_8)), Optional.of(tags));
  }

  /** Who reads what {@code sender} writes on {@code topic}, and so gets a tag. */
  private static List<MessageKeys.Recipient> recipients(String sender, String topic, Message message,
      MessageKeys keys) {
    List<MessageKeys.Recipient> to = new ArrayList<>();
    recipient(keys, sender, MessageKeys.LEAD, to);
    if (message instanceof EnrolmentRequested) {
      recipient(keys, sender, MessageKeys.ENROL, to);
    } else if (message instanceof EnrolmentRefused r) {
      // For the key the lead refused, which it does not believe: only the worker holding its private half can check it.
      keys.tagger(sender, MessageKeys.WORKER + r.worker(),
              Optional.of(MessageKeys.decodePublic("enrolment-refused.publicKey", r.publicKey())))
          .ifPresent(t -> to.add(new MessageKeys.Recipient(
              (MessageKeys.WORKER + r.worker()).getBytes(StandardCharsets.UTF_8), t)));
    } else if (sender.equals(MessageKeys.LEAD) && topic.equals(Topics.WORK)) {
      to.addAll(keys.broadcast());
    } else if (sender.equals(MessageKeys.LEAD) && topic.equals(Topics.EVENTS)) {
      recipient(keys, sender, MessageKeys.SUBMIT, to);
    }
    return to;
  }

  private static void recipient(MessageKeys keys, String sender, String name, List<MessageKeys.Recipient> to) {
    keys.tagger(sender, name, Optional.empty())
        .ifPresent(t -> to.add(new MessageKeys.Recipient(name.getBytes(StandardCharsets.UTF_8), t)));
  }

  /**
   * Checks a record read from the bus and returns its message, or empty when the record carries no tag for this
   * process.
   *
   * @throws ProtocolException naming why the record is refused: it must not be believed
   */
  public Optional<Message> open(String topic, String key, byte[] value, byte[] from, byte[] mac) {
    try {
      return check(topic, key, value, from, mac);
    } catch (ProtocolException e) {
      refused.incrementAndGet();
      throw e;
    }
  }

  private Optional<Message> check(String topic, String key, byte[] value, byte[] from, byte[] mac) {
    Message message = Json.decode(value);
    if (keys.isPresent() && (from == null || mac == null)) {
      throw new ProtocolException("unsigned " + type(message) + ": no " + (from == null ? FROM : MAC) + " header, and"
          + " every party's messages are signed here");
    }
    String topicOf = Topics.of(message);
    if (!topicOf.equals(topic)) {
      throw new ProtocolException(type(message) + " on " + topic + ": it belongs on " + topicOf + " (moved?)");
    }
    if (!Objects.equals(message.key(), key)) {
      throw new ProtocolException(type(message) + " under key \"" + key + "\": its key is \"" + message.key()
          + "\" (moved?)");
    }
    if (keys.isEmpty()) {
      return Optional.of(message);
    }
    MessageKeys k = keys.get();
    String sender = new String(from, StandardCharsets.UTF_8);
    String allowed = sender(message);
    if (!sender.equals(allowed)) {
      throw new ProtocolException(type(message) + " from " + sender + ": only " + allowed + " may send it");
    }
    Optional<PublicKey> introduced = Optional.empty();
    if (sender.startsWith(MessageKeys.WORKER)) {
      String id = sender.substring(MessageKeys.WORKER.length());
      if (k.isRevoked(id)) {
        throw new ProtocolException(type(message) + " from worker \"" + id + "\": it is revoked");
      }
      if (message instanceof EnrolmentRequested e) {
        introduced = Optional.of(MessageKeys.decodePublic("enrolment-requested.publicKey", e.publicKey()));
      } else if (k.enrolledKey(id).isEmpty() && k.speaksAs(MessageKeys.LEAD)) {
        throw new ProtocolException(type(message) + " from worker \"" + id + "\": no such worker is enrolled");
      }
    }
    if (message instanceof EnrolmentRefused r && !k.speaksAs(MessageKeys.LEAD)
        && !k.workerPublicKey(r.worker()).equals(Optional.of(r.publicKey()))) {
      // A refusal is for the holder of the key it names; a worker with another key for the id is not its reader.
      skipped.incrementAndGet();
      return Optional.empty();
    }
    byte[] digest = digest(topic, key, value);
    boolean checked = false;
    int enrolTag = -1;
    int at = 0;
    // Stops at the first tag this process can check; an enrolment also needs the tag under the enrolment secret.
    while (at < mac.length && (!checked || message instanceof EnrolmentRequested && enrolTag < 0)) {
      int n = mac[at] & 0xff;
      if (n == 0 || at + 1 + n + TAG_BYTES > mac.length) {
        throw new ProtocolException(MAC + ": malformed at byte " + at + " (a name length, the name, " + TAG_BYTES
            + " bytes of tag)");
      }
      String recipient = new String(mac, at + 1, n, StandardCharsets.UTF_8);
      int tagAt = at + 1 + n;
      at = tagAt + TAG_BYTES;
      if (recipient.equals(MessageKeys.ENROL)) {
        enrolTag = tagAt;
        continue;
      }
      if (checked || !k.isEveryone() && !k.speaksAs(recipient)) {
        continue;
      }
      Optional<MessageKeys.Tagger> tagger = k.tagger(sender, recipient, introduced);
      if (tagger.isEmpty()) {
        continue;
      }
      if (!MessageDigest.isEqual(tagger.get().tag(digest), Arrays.copyOfRange(mac, tagAt, at))) {
        throw new ProtocolException(type(message) + " from " + sender + ": its tag for " + recipient
            + " does not match (forged, altered or moved)");
      }
      checked = true;
    }
    if (!checked) {
      skipped.incrementAndGet();
      LOG.debug("skipped {} from {}: it carries no tag this process can check", type(message), sender);
      return Optional.empty();
    }
    if (message instanceof EnrolmentRequested e) {
      enrol(k, e, introduced.get(), enrolTag < 0 ? null : Arrays.copyOfRange(mac, enrolTag, enrolTag + TAG_BYTES),
          digest);
    } else if (message instanceof WorkerEnrolled e) {
      believe(k, e);
    }
    return Optional.of(message);
  }

  /** An enrolment also needs the fleet's secret; then the first key for an id is the one kept. */
  private static void enrol(MessageKeys k, EnrolmentRequested e, PublicKey key, byte[] tag, byte[] digest) {
    Optional<MessageKeys.Tagger> secret = k.tagger(MessageKeys.WORKER + e.worker(), MessageKeys.ENROL, Optional.empty());
    if (secret.isEmpty()) {
      throw new ProtocolException("enrolment of worker \"" + e.worker() + "\": this process has no enrolment secret to"
          + " check it with");
    }
    if (tag == null) {
      throw new ProtocolException("enrolment of worker \"" + e.worker() + "\": no tag under the enrolment secret");
    }
    if (!MessageDigest.isEqual(secret.get().tag(digest), tag)) {
      throw new ProtocolException("enrolment of worker \"" + e.worker() + "\": its tag under the enrolment secret does"
          + " not match");
    }
    k.enrol(e.worker(), key).ifPresent(why -> {
      throw new RefusedEnrolment(e, why);
    });
  }

  /**
   * A genuine enrolment (the fleet's secret and the key's own tag both check) for an id that has another key or is
   * revoked: refused like any record, and the lead answers the worker that sent it ({@link EnrolmentRefused}).
   */
  public static final class RefusedEnrolment extends ProtocolException {
    private static final long serialVersionUID = 1L;
    private final transient EnrolmentRequested request;
    private final String why;

    RefusedEnrolment(EnrolmentRequested request, String why) {
      super("enrolment of worker \"" + request.worker() + "\" refused: " + why);
      this.request = request;
      this.why = why;
    }

    public EnrolmentRequested request() {
      return request;
    }

    /** Why, without the worker's name in front. */
    public String why() {
      return why;
    }
  }

  /** The lead's own record of an enrolment or a revocation: every reader of the log believes it from then on. */
  private static void believe(MessageKeys k, WorkerEnrolled e) {
    if (e.revoked()) {
      k.revoke(e.worker());
    } else {
      k.enrol(e.worker(), MessageKeys.decodePublic("worker-enrolled.publicKey", e.publicKey()))
          .ifPresent(why -> LOG.warn("the log enrols worker {} again: {}; the first key stays", e.worker(), why));
    }
  }

  /**
   * The only party that may send {@code message}: the one place that says who speaks for what. A finding is a
   * worker's, except the lead's note that it refused its own agent's change to a plan.
   */
  public static String sender(Message message) {
    if (message instanceof TaskOffered || message instanceof ClaimGranted || message instanceof TaskCancelled
        || message instanceof LeadOnline || message instanceof RunStarted || message instanceof TaskUpdate
        || message instanceof RunFinished || message instanceof PlanRejected || message instanceof PlanRevised
        || message instanceof WorkerEnrolled || message instanceof EnrolmentRefused
        || message instanceof LeadServing || message instanceof ActionTaken || message instanceof UsageRecorded
        || message instanceof RunBudget || message instanceof dev.lanes.protocol.ActionRefused) {
      return MessageKeys.LEAD;
    } else if (message instanceof ClaimRequested c) {
      return MessageKeys.WORKER + c.worker();
    } else if (message instanceof Heartbeat h) {
      return MessageKeys.WORKER + h.worker();
    } else if (message instanceof TaskResult r) {
      return MessageKeys.WORKER + r.worker();
    } else if (message instanceof WorkerStatus s) {
      return MessageKeys.WORKER + s.worker();
    } else if (message instanceof EnrolmentRequested e) {
      return MessageKeys.WORKER + e.worker();
    } else if (message instanceof Finding f) {
      return f.fromLead() ? MessageKeys.LEAD : MessageKeys.WORKER + f.worker();
    } else if (message instanceof PlanSubmitted || message instanceof dev.lanes.protocol.BudgetRequested) {
      return MessageKeys.SUBMIT;
    }
    throw new IllegalArgumentException("no sender for message type " + message.getClass().getName());
  }

  /**
   * The first 32 bytes of the SHA-512 of the topic, the key and the value, each length-prefixed so that no two triples
   * share a digest. SHA-512 rather than SHA-256: on 64-bit machines it is the quicker of the two, four times here under
   * C1 (12 against 44 us for a 1.2 KB record), and every record is hashed once where it is sealed and once by each
   * process that opens it.
   */
  static byte[] digest(String topic, String key, byte[] value) {
    MessageDigest sha = SHA.get();
    for (byte[] part : new byte[][] {topic.getBytes(StandardCharsets.UTF_8),
        key == null ? new byte[0] : key.getBytes(StandardCharsets.UTF_8), value}) {
      sha.update((byte) (part.length >>> 24));
      sha.update((byte) (part.length >>> 16));
      sha.update((byte) (part.length >>> 8));
      sha.update((byte) part.length);
      sha.update(part);
    }
    return Arrays.copyOf(sha.digest(), 32);
  }

  private static final ThreadLocal<MessageDigest> SHA = ThreadLocal.withInitial(() -> {
    try {
      return MessageDigest.getInstance("SHA-512");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-512 is missing from this JDK", e);
    }
  });

  private static String type(Message message) {
    return message.getClass().getSimpleName();
  }
}
