package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.lanes.bus.BrokerDir;
import dev.lanes.bus.Bus;
import dev.lanes.bus.ClientConfig;
import dev.lanes.bus.ClientFiles;
import dev.lanes.bus.EmbeddedBroker;
import dev.lanes.bus.Envelope;
import dev.lanes.bus.KafkaBus;
import dev.lanes.bus.MessageKeys;
import dev.lanes.coordinator.Lead;
import dev.lanes.coordinator.RunReport;
import dev.lanes.protocol.ActionRefused;
import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.BudgetRequested;
import dev.lanes.protocol.Claim;
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
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.PlanRejected;
import dev.lanes.protocol.PlanRevised;
import dev.lanes.protocol.PlanSubmitted;
import dev.lanes.protocol.RunBudget;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.TaskCancelled;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskRef;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.UsageRecorded;
import dev.lanes.protocol.Topics;
import dev.lanes.protocol.WorkerEnrolled;
import dev.lanes.protocol.WorkerStatus;
import dev.lanes.worker.Worker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Forgeries against a real broker secured as {@code lanes broker} secures it (SASL_SSL, SCRAM-SHA-512, ACLs), with
 * the parties as they are across machines, each connecting with its role's client file: a lead, an honest worker {@code w1}
 * and an enrolled but malicious worker {@code w2}, each with keys of its own from one set of client files, and a
 * submitter watching the events topic as {@code lanes submit --wait} does. Records are written with a raw Kafka
 * producer, headers and all, with the broker's admin credential: the strongest writer there is, so that only the
 * envelope stands between a forgery and the daemons (what the ACLs refuse is {@code SecureBrokerTest}'s). Every refused record must reach
 * {@code lanes.dead} with its reason, and the lead must still land a plan afterwards.
 */
class MessageAuthIT {
  /** Generous: every forged record is read, refused and set aside by a daemon on a machine that may be busy. */
  private static final Duration WAIT = Duration.ofMinutes(3);
  /** An X25519 public key nobody holds the private half of. */
  private static final String SOME_KEY = "MCowBQYDK2VuAyEAhSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";

  @TempDir Path dir;

  private EmbeddedBroker broker;
  private Path brokerDir;
  private final List<AutoCloseable> open = new ArrayList<>();
  private KafkaBus leadBus;
  private Lead lead;
  private KafkaBus evilBus;
  private Envelope evil;
  private Path repo;
  private final List<Message> seenBySubmitter = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() throws Exception {
    brokerDir = dir.resolve("broker");
    broker = EmbeddedBroker.startSecure(BrokerDir.open(brokerDir, "127.0.0.1"), "127.0.0.1", 0);
    repo = LanesRunIT.repo(dir);
    startLead();
    startWorker("w1", dir.resolve("w1"));
    // w2 is enrolled like any worker, then turns on the others: its own keys are all it has.
    evil = Envelope.of(keys("worker").withWorkerKey("w2", dir.resolve("w2")));
    evilBus = bus("w2", evil);
    startWorkerOn(evilBus, "w2", dir.resolve("w2"));
    KafkaBus submitter = bus("submit", Envelope.of(keys("submit")));
    submitter.subscribe(Topics.EVENTS, Bus.Start.NOW, seenBySubmitter::add);
    await().atMost(WAIT).until(() -> lead.knownWorkers() == 2);
  }

  @AfterEach
  void stop() throws Exception {
    for (AutoCloseable c : reversed(open)) {
      c.close();
    }
    broker.close();
  }

  @Test
  void everyMessageTypeForgedInEveryWayIsDeadLetteredWithItsReasonAndTheLeadStillLands() throws Exception {
    assertThat(samples()).extracting(Object::getClass).containsExactlyInAnyOrder(Message.class.getPermittedSubclasses());
    List<Forgery> forgeries = new ArrayList<>();
    for (Message m : samples()) {
      String topic = Topics.of(m);
      byte[] value = Json.encode(m);
      String from = Envelope.sender(m);
      forgeries.add(new Forgery("unsigned " + m, topic, m.key(), value, null, null, "no lanes-from header"));
      forgeries.add(new Forgery("bad tag " + m, topic, m.key(), value, from, randomTags(), "does not match"));
      // w2 signs with what it has; its records name the type's rightful sender, or itself where the type allows.
      forgeries.add(new Forgery("wrong party " + m, topic, m.key(), value, "worker/w2", randomTags(),
          "only " + from + " may send it"));
      forgeries.add(new Forgery("malformed " + m, topic, m.key(),
          ("{\"type\":\"" + typeName(m) + "\",\"run\":").getBytes(StandardCharsets.UTF_8), from, randomTags(),
          "message: "));
      String elsewhere = topic.equals(Topics.REPORTS) ? Topics.WORK : Topics.REPORTS;
      forgeries.add(new Forgery("moved topic " + m, elsewhere, m.key(), value, from, randomTags(), "belongs on"));
      forgeries.add(new Forgery("moved key " + m, topic, m.key() + "-x", value, from, randomTags(), "its key is"));
    }
    sendAndAwaitDeadLetters(forgeries);
    assertThat(seenBySubmitter).noneMatch(m -> m.toString().contains("forged"));
    assertThat(leadBus.envelope().refused()).isPositive();

    RunReport report = lead.submit(plan("after-forgeries")).done().get(2, TimeUnit.MINUTES);
    assertThat(report.tasks()).extracting(RunReport.Row::state).containsExactly(TaskState.LANDED);
  }

  @Test
  void aWorkerCannotGrantCancelOrReportAsAnother() throws Exception {
    // Tags w2 really made, with its own keys, put on records that speak for the lead or for w1.
    Envelope.Sealed honest = evil.seal(new Heartbeat("forged-run", "t", 1, "w2", "agent", "fine"));
    List<Forgery> forgeries = List.of(
        retag("grant", new ClaimGranted("forged-run", "t", 1, "w2"), "worker/w2", honest, "only lead may send it"),
        new Forgery("grant as lead", Topics.WORK, TaskRef.key("forged-run", "t"),
            Json.encode(new ClaimGranted("forged-run", "t", 1, "w2")), "lead", randomTags(), "does not match"),
        retag("cancel", new TaskCancelled("forged-run", "t", 1, "stop"), "worker/w2", honest, "only lead may send it"),
        retag("result for w1", result("w1"), "worker/w2", honest, "only worker/w1 may send it"),
        new Forgery("result as w1", Topics.REPORTS, TaskRef.key("forged-run", "t"), Json.encode(result("w1")),
            "worker/w1", honest.mac().orElseThrow(), "does not match"));
    sendAndAwaitDeadLetters(forgeries);
    // Nor can w2 get its own bus to sign as anyone else.
    assertThat(evilBus.publish(new ClaimGranted("forged-run", "t", 1, "w2")))
        .failsWithin(WAIT).withThrowableThat().withMessageContaining("holds no key of lead");
    assertThat(evilBus.publish(result("w1")))
        .failsWithin(WAIT).withThrowableThat().withMessageContaining("holds no key of worker/w1");
  }

  @Test
  void anEnrolledIdIsNotTakenBySecondKey() throws Exception {
    Envelope impostor = Envelope.of(keys("worker")
        .withWorkerKey("w1", dir.resolve("impostor")));
    KafkaBus bus = bus("impostor", impostor);
    List<Message> toImpostor = new java.util.concurrent.CopyOnWriteArrayList<>();
    bus.subscribe(Topics.WORK, Bus.Start.NOW, toImpostor::add);
    bus.publish(impostor.enrolment("w1").orElseThrow()).get(30, TimeUnit.SECONDS);
    bus.publish(new WorkerStatus("w1", "impostor", List.of(), 9, 0)).get(30, TimeUnit.SECONDS);

    await().atMost(WAIT).untilAsserted(() -> assertThat(deadLetters())
        .anySatisfy(d -> assertThat(d.reason).contains("worker \"w1\" is enrolled with another key"))
        .anySatisfy(d -> assertThat(d.reason).contains("WorkerStatus from worker/w1: its tag for lead does not match")));
    // The lead tells the impostor, whose key it refused, and only the impostor can check that it did.
    await().atMost(WAIT).untilAsserted(() -> assertThat(toImpostor).anySatisfy(m -> assertThat(m)
        .isEqualTo(new EnrolmentRefused("w1", impostor.enrolment("w1").orElseThrow().publicKey(), "worker \"w1\" is"
            + " enrolled with another key; an id is not taken over by a second key (the worker with that key last"
            + " announced itself from host host)"))));
    // The lead recorded w1's first key only, and w1 still works.
    List<WorkerEnrolled> recorded = new ArrayList<>();
    leadBus.replay(Topics.EVENTS, m -> {
      if (m instanceof WorkerEnrolled e && e.worker().equals("w1")) {
        recorded.add(e);
      }
    });
    assertThat(recorded).hasSize(1);
    assertThat(lead.submit(plan("still-w1")).done().get(2, TimeUnit.MINUTES).tasks())
        .extracting(RunReport.Row::state).containsExactly(TaskState.LANDED);
  }

  @Test
  void aRestartedLeadIgnoresEventRecordsItDidNotSign() throws Exception {
    Plan forged = plan("forged");
    // A submitter's keys tag the events topic for submitters, not for the lead: not the lead's own record.
    Envelope.Sealed bySubmitter = new Envelope.Sealed(Topics.EVENTS, "forged-run", Json.encode(
        new RunStarted("forged-run", "forged", "lanes/forged", "0".repeat(40), List.of("write"), Optional.of(forged))),
        Optional.of("lead".getBytes(StandardCharsets.UTF_8)), Optional.of(randomTags()));
    try (KafkaProducer<String, byte[]> raw = rawProducer()) {
      raw.send(new Forgery("event", Topics.EVENTS, "forged-run", bySubmitter.value(), "lead", bySubmitter.mac().get(),
          "").record());
      raw.send(new ProducerRecord<>(Topics.EVENTS, "forged-run-2", Json.encode(new RunStarted("forged-run-2",
          "forged", "lanes/forged", "0".repeat(40), List.of("write"), Optional.of(forged))))).get();
    }
    lead.close();
    startLead();
    lead.awaitActive(WAIT);

    assertThat(leadBus.envelope().refused()).isGreaterThanOrEqualTo(2);
    // Had the lead believed either record, it would have resumed that run from its forged base, and a submit under
    // the same id would hand back that run.
    for (String id : List.of("forged-run", "forged-run-2")) {
      Lead.RunHandle run = lead.submit(plan(id), id);
      assertThat(run.baseCommit()).isEqualTo(LanesRunIT.git(repo, "rev-parse", "main").strip());
      assertThat(run.done().get(2, TimeUnit.MINUTES).tasks())
          .extracting(RunReport.Row::state).containsExactly(TaskState.LANDED);
    }
  }

  @Test
  void aGenuineResultReplayedAfterItsAttemptIsRejected() throws Exception {
    Lead.RunHandle run = lead.submit(plan("once"));
    assertThat(run.done().get(2, TimeUnit.MINUTES).tasks())
        .extracting(RunReport.Row::state).containsExactly(TaskState.LANDED);
    ConsumerRecord<String, byte[]> result = records(Topics.REPORTS).stream()
        .filter(r -> new String(r.value(), StandardCharsets.UTF_8).contains("\"task-result\"")
            && r.key().startsWith(run.id() + "/"))
        .findFirst().orElseThrow();
    try (KafkaProducer<String, byte[]> raw = rawProducer()) {
      ProducerRecord<String, byte[]> again = new ProducerRecord<>(Topics.REPORTS, result.key(), result.value());
      result.headers().forEach(h -> again.headers().add(h));
      raw.send(again).get();
    }
    // The run has finished and left the lead: the replay is set aside with the reason.
    await().atMost(WAIT).untilAsserted(() -> assertThat(deadLetters()).anySatisfy(d -> {
      assertThat(d.value).isEqualTo(result.value());
      assertThat(d.reason).isEqualTo("rejected the result of attempt 1 of task write from w1: run " + run.id()
          + " has finished");
    }));
  }

  /** Writes the forgeries as anyone who reaches the broker could, and waits for each to be dead-lettered. */
  private void sendAndAwaitDeadLetters(List<Forgery> forgeries) {
    try (KafkaProducer<String, byte[]> raw = rawProducer()) {
      forgeries.forEach(f -> raw.send(f.record()));
      raw.flush();
    }
    await().atMost(WAIT).untilAsserted(() -> {
      List<DeadLetter> dead = deadLetters();
      for (Forgery f : forgeries) {
        assertThat(dead).as(f.name).anySatisfy(d -> {
          assertThat(d.value).isEqualTo(f.value);
          assertThat(d.source).startsWith(f.topic + "-0@");
          assertThat(d.reason).contains(f.reason);
        });
      }
    });
  }

  // --- the parties ------------------------------------------------------------------------------------------------

  private void startLead() {
    leadBus = bus("lead", Envelope.of(keys("lead")));
    lead = Lead.start(leadBus, repo, Clock.systemUTC(), Lead.Settings.daemon());
    open.add(lead);
  }

  private void startWorker(String id, Path work) {
    Envelope envelope = Envelope.of(keys("worker").withWorkerKey(id, work));
    startWorkerOn(bus(id, envelope), id, work);
  }

  private void startWorkerOn(KafkaBus bus, String id, Path work) {
    open.add(Worker.start(bus, new Worker.Config(id, "host", List.of(), 1, repo.toString(), work,
        Duration.ofMillis(500), Map.of()), Clock.systemUTC()));
  }

  /** The client file of {@code role} as {@code lanes broker} wrote it: its SASL login, its CA and its message keys. */
  private ClientConfig client(String role) {
    return ClientConfig.load(ClientFiles.path(brokerDir, role), Optional.empty());
  }

  private MessageKeys keys(String role) {
    return MessageKeys.of(client(role).lanes()).orElseThrow();
  }

  /** A bus for party {@code name}, logged in with the client file of its role. */
  private KafkaBus bus(String name, Envelope envelope) {
    String role = name.equals("lead") || name.equals("submit") ? name : "worker";
    KafkaBus bus = KafkaBus.connect(client(role), "auth-it-" + name, envelope);
    open.add(bus);
    return bus;
  }

  private static Plan plan(String name) {
    return new Plan(name, Optional.of("main"), "lanes/" + name, List.of(new Plan.Task("write", "write", "Write a.txt.",
        List.of(Claim.parse("a.txt")), List.of(), List.of(), new AgentSpec(List.of("sh", "-c", "echo hi > a.txt"),
        60_000), Optional.empty())));
  }

  // --- the forgeries ----------------------------------------------------------------------------------------------

  /**
   * One forged instance of every message type; each names a run no party knows, so only the envelope stands between.
   * The enrolment refusal names w1's own key: a refusal for another key is not w1's to check.
   */
  private List<Message> samples() {
    String run = "forged-run";
    Plan plan = plan("forged");
    return List.of(
        new WorkerStatus("w1", "forged", List.of(), 1, 0),
        new TaskOffered(run, "forged", "t", 1, "forged", "forged", List.of("a.txt"), List.of(),
            new AgentSpec(List.of("sh", "-c", "touch pwned"), 60_000), Optional.empty(), "0".repeat(40),
            "lanes-work/forged-run/t/e1", Optional.empty()),
        new ClaimRequested(run, "t", 1, "w1"),
        new ClaimGranted(run, "t", 1, "w1"),
        new Heartbeat(run, "t", 1, "w1", "agent", "forged"),
        result("w1"),
        new Finding(run, "t", 1, "w1", Finding.NOTE, "forged", List.of()),
        new RunStarted(run, "forged", "lanes/forged", "0".repeat(40), List.of("t"), Optional.of(plan)),
        new TaskUpdate(run, "t", TaskState.RUNNING, 1, "w1", "forged", Optional.empty(), Optional.empty()),
        new RunFinished(run, "lanes/forged", List.of("t"), List.of()),
        new TaskCancelled(run, "t", 1, "forged"),
        new LeadOnline("forged-lead"),
        new PlanSubmitted("forged-run", plan, "forged"),
        new PlanRejected("forged-run", "forged", List.of("forged")),
        new PlanRevised(run, plan, "forged"),
        new EnrolmentRequested("w1", SOME_KEY),
        new WorkerEnrolled("w9-forged", SOME_KEY, false),
        new LeadServing("forged-lead", "forged", "2026-12-03T00:00:00Z"),
        new EnrolmentRefused("w1", keys("worker").withWorkerKey("w1", dir.resolve("w1")).workerPublicKey("w1")
            .orElseThrow(), "forged"),
        new UsageRecorded(run, "forged", "t", 1, 1, "w1", "forged", java.math.BigDecimal.ONE, 1, 1, 1, false,
            "2026-12-03T00:00:00Z"),
        new RunBudget(run, Optional.empty(), java.math.BigDecimal.ZERO, Optional.of(RunBudget.BUDGET), "forged",
            "lead", Optional.empty(), "2026-12-03T00:00:00Z"),
        new BudgetRequested("forged-budget", run, java.math.BigDecimal.TEN, "forged"),
        new ActionRefused("forged-budget", run, "raise-budget", "forged"),
        new dev.lanes.protocol.ActionTaken("forged-action", run, Optional.empty(), "cancel-run", "forged", "forged",
            "2026-12-03T00:00:00Z"));
  }

  private static TaskResult result(String worker) {
    return new TaskResult("forged-run", "t", 1, worker, TaskResult.Outcome.PASSED, "lanes-work/forged-run/t/e1",
        Optional.of("0".repeat(40)), List.of("a.txt"), 0, 0, "", "", 1, Optional.empty(), Optional.empty());
  }

  private static String typeName(Message m) {
    String json = new String(Json.encode(m), StandardCharsets.UTF_8);
    return json.substring(json.indexOf("\"type\":\"") + 8, json.indexOf('"', json.indexOf("\"type\":\"") + 8));
  }

  /** Tags for every party, of the right shape, under no key anyone holds. */
  private static byte[] randomTags() {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    java.security.SecureRandom random = new java.security.SecureRandom();
    for (String name : List.of("lead", "submit", "enrol", "worker/w1", "worker/w2")) {
      byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
      byte[] tag = new byte[16];
      random.nextBytes(tag);
      out.write(bytes.length);
      out.writeBytes(bytes);
      out.writeBytes(tag);
    }
    return out.toByteArray();
  }

  /** {@code message} under {@code from}, with the tags of a genuine record of another message. */
  private static Forgery retag(String name, Message message, String from, Envelope.Sealed genuine, String reason) {
    return new Forgery(name, Topics.of(message), message.key(), Json.encode(message), from, genuine.mac().orElseThrow(),
        reason);
  }

  private record Forgery(String name, String topic, String key, byte[] value, String from, byte[] mac,
      String reason) {
    ProducerRecord<String, byte[]> record() {
      ProducerRecord<String, byte[]> r = new ProducerRecord<>(topic, key, value);
      if (from != null) {
        r.headers().add("lanes-from", from.getBytes(StandardCharsets.UTF_8));
      }
      if (mac != null) {
        r.headers().add("lanes-mac", mac);
      }
      return r;
    }
  }

  private record DeadLetter(String source, String reason, byte[] value) {}

  private List<DeadLetter> deadLetters() {
    return records(Topics.DEAD).stream().map(r -> new DeadLetter(r.key(),
        new String(r.headers().lastHeader("lanes-reason").value(), StandardCharsets.UTF_8), r.value())).toList();
  }

  private List<ConsumerRecord<String, byte[]>> records(String topic) {
    Properties p = broker.clientConfig().kafka();
    List<ConsumerRecord<String, byte[]>> all = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
      TopicPartition tp = new TopicPartition(topic, 0);
      c.assign(List.of(tp));
      c.seekToBeginning(List.of(tp));
      long end = c.endOffsets(List.of(tp)).get(tp);
      while (c.position(tp) < end) {
        c.poll(Duration.ofMillis(200)).forEach(all::add);
      }
    }
    return all;
  }

  private KafkaProducer<String, byte[]> rawProducer() {
    return new KafkaProducer<>(broker.clientConfig().kafka(), new StringSerializer(), new ByteArraySerializer());
  }

  private static <T> List<T> reversed(List<T> list) {
    List<T> copy = new ArrayList<>(list);
    java.util.Collections.reverse(copy);
    return copy;
  }
}
