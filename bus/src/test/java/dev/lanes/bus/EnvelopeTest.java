package dev.lanes.bus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.EnrolmentRefused;
import dev.lanes.protocol.EnrolmentRequested;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.ProtocolException;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.Topics;
import dev.lanes.protocol.WorkerEnrolled;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The envelope on its own: parties with keys from one set of client files, as on separate machines. */
class EnvelopeTest {
  @TempDir Path dir;

  private final MessageKeys.Credentials files = MessageKeys.newCredentials();
  private final Envelope lead = Envelope.of(MessageKeys.of(files.lead()).orElseThrow());
  private final Envelope submitter = Envelope.of(MessageKeys.of(files.submit()).orElseThrow());

  private Envelope worker(String id, Path keyDir) {
    return Envelope.of(MessageKeys.of(files.worker()).orElseThrow().withWorkerKey(id, keyDir));
  }

  private static Optional<Message> open(Envelope reader, Envelope.Sealed s) {
    return reader.open(s.topic(), s.key(), s.value(), s.from().orElse(null), s.mac().orElse(null));
  }

  /** Introduces {@code worker} to the lead as a worker does when it announces itself. */
  private void enrol(Envelope worker, String id) {
    assertThat(open(lead, worker.seal(worker.enrolment(id).orElseThrow()))).isPresent();
  }

  @Test
  void open_sealedByEnrolledWorker_isBelievedByTheLead() {
    Envelope w1 = worker("w1", dir.resolve("w1"));
    enrol(w1, "w1");
    Heartbeat beat = new Heartbeat("r", "t", 1, "w1", "agent", "ok");

    assertThat(open(lead, w1.seal(beat))).contains(beat);
  }

  @Test
  void open_leadBroadcast_isBelievedByEachEnrolledWorkerAndNotBySomeoneElse() {
    Envelope w1 = worker("w1", dir.resolve("w1"));
    Envelope w2 = worker("w2", dir.resolve("w2"));
    enrol(w1, "w1");
    enrol(w2, "w2");
    ClaimGranted grant = new ClaimGranted("r", "t", 1, "w1");
    Envelope.Sealed sealed = lead.seal(grant);

    assertThat(open(w1, sealed)).contains(grant);
    assertThat(open(w2, sealed)).contains(grant);
    assertThat(open(worker("w3", dir.resolve("w3")), sealed)).isEmpty(); // not enrolled when it was sent: not for it
  }

  @Test
  void seal_asAnotherParty_isRefusedBeforeAnythingIsSent() {
    Envelope w1 = worker("w1", dir.resolve("w1"));

    assertThatThrownBy(() -> w1.seal(new ClaimGranted("r", "t", 1, "w1"))).isInstanceOf(BusException.class)
        .hasMessageContaining("holds no key of lead");
    assertThatThrownBy(() -> w1.seal(new ClaimRequested("r", "t", 1, "w2"))).isInstanceOf(BusException.class)
        .hasMessageContaining("holds no key of worker/w2");
  }

  @Test
  void open_alteredValue_isRefused() {
    Envelope w1 = worker("w1", dir.resolve("w1"));
    enrol(w1, "w1");
    Envelope.Sealed s = w1.seal(new ClaimRequested("r", "t", 1, "w1"));
    byte[] altered = new String(s.value(), java.nio.charset.StandardCharsets.UTF_8).replace("\"epoch\":1", "\"epoch\":2")
        .getBytes(java.nio.charset.StandardCharsets.UTF_8);

    assertThatThrownBy(() -> lead.open(s.topic(), s.key(), altered, s.from().get(), s.mac().get()))
        .isInstanceOf(ProtocolException.class).hasMessageContaining("its tag for lead does not match");
    assertThat(lead.refused()).isEqualTo(1);
  }

  @Test
  void open_unenrolledWorker_isRefused() {
    Envelope stranger = worker("w9", dir.resolve("w9"));

    assertThatThrownBy(() -> open(lead, stranger.seal(new ClaimRequested("r", "t", 1, "w9"))))
        .isInstanceOf(ProtocolException.class).hasMessageContaining("no such worker is enrolled");
  }

  @Test
  void enrolment_secondKeyForAnEnrolledId_isRefusedAndTheFirstKeyStays() {
    Envelope first = worker("w1", dir.resolve("first"));
    Envelope second = worker("w1", dir.resolve("second"));
    enrol(first, "w1");

    assertThatThrownBy(() -> open(lead, second.seal(second.enrolment("w1").orElseThrow())))
        .isInstanceOf(ProtocolException.class).hasMessageContaining("is enrolled with another key");
    assertThatThrownBy(() -> open(lead, second.seal(new ClaimRequested("r", "t", 1, "w1"))))
        .isInstanceOf(ProtocolException.class).hasMessageContaining("does not match");
    assertThat(open(lead, first.seal(new ClaimRequested("r", "t", 1, "w1")))).isPresent();
  }

  @Test
  void enrolmentRefused_isBelievedByTheRefusedKeysHolderAloneAndCannotBeForged() {
    Envelope first = worker("w1", dir.resolve("first"));
    Envelope second = worker("w1", dir.resolve("second"));
    Envelope other = worker("w2", dir.resolve("w2"));
    enrol(first, "w1");
    enrol(other, "w2");
    EnrolmentRequested request = second.enrolment("w1").orElseThrow();
    Envelope.RefusedEnrolment refusal = catchThrowableOfType(Envelope.RefusedEnrolment.class,
        () -> open(lead, second.seal(request)));
    assertThat(refusal.request()).isEqualTo(request);
    assertThat(refusal.why()).isEqualTo("worker \"w1\" is enrolled with another key; an id is not taken over by a"
        + " second key");

    EnrolmentRefused answer = new EnrolmentRefused("w1", request.publicKey(), refusal.why());
    Envelope.Sealed sealed = lead.seal(answer);

    assertThat(open(second, sealed)).contains(answer);
    assertThat(open(first, sealed)).as("the worker holding the enrolled key passes it over").isEmpty();
    assertThat(open(other, sealed)).isEmpty();
    assertThat(first.refused() + other.refused()).isZero();
    // Only the lead can tag a refusal: a worker cannot seal one, and tags the lead made for another record do not match.
    assertThatThrownBy(() -> second.seal(answer)).isInstanceOf(BusException.class);
    Envelope.Sealed forged = new Envelope.Sealed(sealed.topic(), sealed.key(), sealed.value(), sealed.from(),
        lead.seal(new ClaimGranted("r", "t", 1, "w1")).mac());
    assertThatThrownBy(() -> open(second, forged)).isInstanceOf(ProtocolException.class)
        .hasMessageContaining("its tag for worker/w1 does not match");
  }

  @Test
  void enrolment_withoutTheFleetSecret_isRefused() {
    Envelope w1 = worker("w1", dir.resolve("w1"));
    Envelope.Sealed s = w1.seal(w1.enrolment("w1").orElseThrow());
    byte[] mac = s.mac().get().clone();
    mac[mac.length - 1] ^= 1; // the enrolment tag comes last

    assertThatThrownBy(() -> lead.open(s.topic(), s.key(), s.value(), s.from().get(), mac))
        .isInstanceOf(ProtocolException.class).hasMessageContaining("tag under the enrolment secret does not match");
  }

  @Test
  void revocation_inTheLeadsLog_makesEveryReaderRefuseTheWorker() {
    Envelope w1 = worker("w1", dir.resolve("w1"));
    enrol(w1, "w1");
    assertThat(open(lead, lead.seal(new WorkerEnrolled("w1", "", true)))).isPresent();

    assertThatThrownBy(() -> open(lead, w1.seal(new ClaimRequested("r", "t", 1, "w1"))))
        .isInstanceOf(ProtocolException.class).hasMessageContaining("is revoked");
  }

  @Test
  void open_leadEvents_areBelievedBySubmittersAndTheLeadOnly() {
    RunFinished end = new RunFinished("r", "lanes/x", List.of("t"), List.of());
    Envelope.Sealed s = lead.seal(end);

    assertThat(open(submitter, s)).contains(end);
    assertThat(open(lead, s)).contains(end);
    assertThat(open(worker("w1", dir.resolve("w1")), s)).isEmpty();
    // A submitter cannot write the lead's log: it holds no key the lead's own tag is made with.
    assertThatThrownBy(() -> submitter.seal(end)).isInstanceOf(BusException.class);
  }

  @Test
  void open_movedToAnotherTopicOrKey_isRefused() {
    Envelope.Sealed s = lead.seal(new ClaimGranted("r", "t", 1, "w1"));

    assertThatThrownBy(() -> lead.open(Topics.REPORTS, s.key(), s.value(), s.from().get(), s.mac().get()))
        .isInstanceOf(ProtocolException.class).hasMessageContaining("belongs on lanes.work");
    assertThatThrownBy(() -> lead.open(s.topic(), "r/other", s.value(), s.from().get(), s.mac().get()))
        .isInstanceOf(ProtocolException.class).hasMessageContaining("its key is \"r/task/t\"");
  }

  @Test
  void unsigned_believesWellFormedRecordsAndSignedPartiesRefuseIt() {
    Envelope.Sealed s = Envelope.unsigned().seal(new ClaimRequested("r", "t", 1, "w1"));

    assertThat(s.from()).isEmpty();
    assertThat(open(Envelope.unsigned(), s)).isPresent();
    assertThatThrownBy(() -> open(lead, s)).isInstanceOf(ProtocolException.class)
        .hasMessageContaining("no lanes-from header");
  }

  @Test
  void withWorkerKey_keepsTheKeyInTheWorkersDirectoryReadableByItsOwnerOnly() throws Exception {
    Envelope once = worker("w1", dir.resolve("w1"));
    Envelope again = worker("w1", dir.resolve("w1"));

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("w1").resolve(
        MessageKeys.WORKER_KEY_FILE)))).isEqualTo("rw-------");
    assertThat(once.enrolment("w1")).isEqualTo(again.enrolment("w1"));
  }

  @Test
  void of_clientFileWithoutLanesProperties_isEmptyAndABadKeyIsNamed() {
    assertThat(MessageKeys.of(java.util.Map.of("bootstrap.servers", "h:1"))).isEmpty();
    assertThatThrownBy(() -> MessageKeys.of(java.util.Map.of(MessageKeys.LEAD_PUBLIC, "bm90IGEga2V5")))
        .isInstanceOf(IllegalArgumentException.class).hasMessage(MessageKeys.LEAD_PUBLIC
            + ": not an X25519 public key in base64 (X.509)");
  }
}
