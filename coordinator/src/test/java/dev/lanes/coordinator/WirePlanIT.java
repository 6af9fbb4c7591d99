package dev.lanes.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.lanes.bus.Bus;
import dev.lanes.bus.EmbeddedBroker;
import dev.lanes.bus.KafkaBus;
import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.Claim;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.PlanRejected;
import dev.lanes.protocol.PlanSubmitted;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.Topics;
import dev.lanes.testkit.GitRepo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Forged plans on a real broker, sent as anyone who reaches Kafka can send them: {@code PlanSubmitted} records whose
 * plan no client checked. The lead refuses each with a {@code PlanRejected} naming the field, the value and the rule,
 * starts nothing (no record of a run, no branch, no file in the repository's git directory), and still runs a good
 * plan submitted after it.
 */
class WirePlanIT {
  private static final Duration PATIENCE = Duration.ofSeconds(30);
  private static final AgentSpec AGENT = new AgentSpec(List.of("sh", "-c", "true"), 60_000);

  @TempDir Path dir;
  private EmbeddedBroker broker;
  private KafkaBus bus;
  private GitRepo repo;
  private Lead lead;
  private final List<Message> events = new CopyOnWriteArrayList<>();
  private final List<Message> work = new CopyOnWriteArrayList<>();
  private List<String> refsBefore;

  @BeforeEach
  void setUp() {
    broker = EmbeddedBroker.start(dir.resolve("kafka"));
    bus = KafkaBus.connect(broker.bootstrapServers(), "wire-plan-test");
    repo = GitRepo.sample(dir.resolve("repo"));
    lead = Lead.start(bus, repo.dir(), Clock.systemUTC());
    lead.awaitActive(PATIENCE);
    bus.subscribe(Topics.EVENTS, Bus.Start.BEGINNING, events::add);
    bus.subscribe(Topics.WORK, Bus.Start.BEGINNING, work::add);
    refsBefore = refs();
  }

  @AfterEach
  void tearDown() {
    lead.close();
    bus.close();
    broker.close();
  }

  @Test
  void dependencyOnNoTask_isRefusedInsteadOfHanging() {
    Plan forged = plan(task("a", "a/"), task("b", "b/", "nowhere"));

    assertRefused(forged, "tasks[1].after[0] (task b): \"nowhere\" is not the id of any task in the plan");
  }

  @Test
  void targetOutsideTheBranches_isRefusedAndNoFileAppearsInTheGitDirectory() {
    Plan forged = new Plan("sample", Optional.empty(), "../../hooks-x", List.of(task("a", "a/")));

    assertRefused(forged, "target: \"../../hooks-x\" is not a valid branch name: it contains \"..\"");
    try (Stream<Path> all = Files.walk(repo.dir().resolve(".git"))) {
      assertThat(all.map(p -> p.getFileName().toString())).noneMatch(name -> name.contains("hooks-x"));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    assertThat(repo.dir().getParent().resolve("hooks-x")).doesNotExist();
  }

  @Test
  void baseThatGitWouldReadAsAnOption_isRefused() {
    Plan forged = new Plan("sample", Optional.of("--output=/tmp/x"), "lanes/sample", List.of(task("a", "a/")));

    assertRefused(forged, "base: \"--output=/tmp/x\" is not a valid branch, tag or commit name: it starts with '-'");
  }

  @Test
  void dependencyCycle_isRefused() {
    Plan forged = plan(task("a", "a/", "b"), task("b", "b/", "a"), task("c", "c/"));

    assertRefused(forged, "tasks: dependency cycle: a -> b -> a");
  }

  @Test
  void duplicateId_isRefused() {
    Plan forged = plan(task("a", "a/"), task("a", "b/"));

    assertRefused(forged, "tasks[1].id: \"a\" is already the id of tasks[0]; ids are unique");
  }

  @Test
  void parallelTasksOwningTheSamePaths_areRefused() {
    Plan forged = plan(task("a", "src/"), task("b", "src/main/"));

    assertRefused(forged, "tasks[1].owns (task b): a (src/) and b (src/main/) both own src/main;");
  }

  @Test
  void runIdThatIsNotABranchComponent_isRefused() {
    Plan good = plan(task("a", "a/"));
    bus.publish(new PlanSubmitted("x/task/y", good, "forger"));

    PlanRejected rejected = awaitRejected("x/task/y");

    assertThat(rejected.problems()).singleElement().asString().startsWith("request: \"x/task/y\" is not a valid run id");
    assertNothingStarted();
    assertStillServes();
  }

  /**
   * Records that are not messages never reach the lead's logic: bytes that are not JSON, a plan whose claim leaves the
   * repository, and a record over the size limit (which the broker itself refuses). The two that arrive are set aside
   * with their reason, and the lead goes on.
   */
  @Test
  void malformedAndOversizedRecords_areSetAsideAndTheLeadGoesOn() throws Exception {
    String badClaim = new String(dev.lanes.protocol.Json.encode(new PlanSubmitted("bad-claim",
        plan(task("a", "a/")), "forger")), StandardCharsets.UTF_8).replace("\"a/\"", "\"../a\"");
    Properties p = new Properties();
    p.put("bootstrap.servers", broker.bootstrapServers());
    p.put("max.request.size", 4 << 20);
    try (KafkaProducer<String, byte[]> raw = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
      raw.send(new ProducerRecord<>(Topics.REPORTS, "x", "{\"type\":\"plan-submitted\",".getBytes(StandardCharsets.UTF_8)))
          .get();
      raw.send(new ProducerRecord<>(Topics.REPORTS, "bad-claim", badClaim.getBytes(StandardCharsets.UTF_8))).get();
      byte[] huge = new byte[dev.lanes.protocol.Json.MAX_MESSAGE_BYTES + 1];
      java.util.Arrays.fill(huge, (byte) ' ');
      assertThat(org.assertj.core.api.Assertions.catchThrowable(
          () -> raw.send(new ProducerRecord<>(Topics.REPORTS, "huge", huge)).get()))
          .as("the broker refuses a record over the limit").isInstanceOf(ExecutionException.class)
          .hasCauseInstanceOf(org.apache.kafka.common.errors.RecordTooLargeException.class);
    }

    await().atMost(PATIENCE).until(() -> deadReasons(broker.bootstrapServers()).size() >= 2);
    assertThat(deadReasons(broker.bootstrapServers())).anySatisfy(r -> assertThat(r).contains("not a valid Lanes message"))
        .anySatisfy(r -> assertThat(r).contains("../a"));
    assertStillServes();
    assertThat(events).noneMatch(m -> m instanceof RunStarted s && s.run().equals("bad-claim"));
  }

  private void assertRefused(Plan forged, String problem) {
    String request = "forged-" + Integer.toHexString(forged.hashCode());
    bus.publish(new PlanSubmitted(request, forged, "forger"));

    PlanRejected rejected = awaitRejected(request);

    assertThat(rejected.problems()).as("each problem names the field, the value and the rule")
        .anySatisfy(p -> assertThat(p).startsWith(problem));
    assertNothingStarted();
    assertStillServes();
  }

  private PlanRejected awaitRejected(String request) {
    await().atMost(PATIENCE).until(() -> events.stream()
        .anyMatch(m -> m instanceof PlanRejected r && r.request().equals(request)));
    return events.stream().filter(m -> m instanceof PlanRejected r && r.request().equals(request))
        .map(PlanRejected.class::cast).findFirst().orElseThrow();
  }

  /** No run record, no offer, and not one ref of the repository changed. */
  private void assertNothingStarted() {
    assertThat(events).noneMatch(m -> m instanceof RunStarted);
    assertThat(work).noneMatch(m -> m instanceof TaskOffered);
    assertThat(refs()).isEqualTo(refsBefore);
  }

  /** A good plan on the same bus starts a run and offers its task. */
  private void assertStillServes() {
    String request = "good-" + events.size();
    bus.publish(new PlanSubmitted(request, plan(task("core", "core/")), "tester"));
    await().atMost(PATIENCE).until(() -> work.stream()
        .anyMatch(m -> m instanceof TaskOffered o && o.run().equals(request) && o.task().equals("core")));
    assertThat(repo.hasBranch("lanes/sample")).isTrue();
  }

  private List<String> refs() {
    return repo.git("for-each-ref", "--format=%(refname) %(objectname)").lines().toList();
  }

  /** The reasons of every record set aside on the dead-letter topic so far, in order. */
  static List<String> deadReasons(String bootstrapServers) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrapServers);
    List<String> reasons = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      TopicPartition dead = new TopicPartition(Topics.DEAD, 0);
      consumer.assign(List.of(dead));
      consumer.seekToBeginning(List.of(dead));
      long end = consumer.endOffsets(List.of(dead)).get(dead);
      while (consumer.position(dead) < end) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          reasons.add(new String(r.headers().lastHeader("lanes-reason").value(), StandardCharsets.UTF_8));
        }
      }
    }
    return reasons;
  }

  private static Plan plan(Plan.Task... tasks) {
    return new Plan("sample", Optional.empty(), "lanes/sample", List.of(tasks));
  }

  private static Plan.Task task(String id, String owns, String... after) {
    return new Plan.Task(id, id, "Do " + id + ".", List.of(Claim.parse(owns)), List.of(after), List.of(), AGENT,
        Optional.empty());
  }
}
