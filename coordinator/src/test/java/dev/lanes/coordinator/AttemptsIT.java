package dev.lanes.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.bus.Bus;
import dev.lanes.bus.EmbeddedBroker;
import dev.lanes.bus.KafkaBus;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.PlanParser;
import dev.lanes.protocol.PlanRevised;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.Topics;
import dev.lanes.protocol.WorkerStatus;
import dev.lanes.testkit.GitRepo;
import dev.lanes.testkit.MovableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --max-attempts N} is N attempts of a task in all, whatever started each one, on a real broker and a real
 * repository; the test plays the workers. Each test lets one cause start the second of two allowed attempts, and
 * shows the count in the task's recorded tally and in the detail of the task the limit stopped. A review of passed work
 * is part of the attempt it reviews, and a grant lost on its way is offered again without using one.
 */
class AttemptsIT {
  private static final Duration PATIENCE = Duration.ofSeconds(30);

  @TempDir Path dir;
  private EmbeddedBroker broker;
  private KafkaBus bus;
  private GitRepo repo;
  private Lead lead;
  private final MovableClock clock = new MovableClock(Instant.parse("2026-12-03T06:00:00Z"));
  private final List<Message> seen = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() {
    broker = EmbeddedBroker.start(dir.resolve("kafka"));
    bus = KafkaBus.connect(broker.bootstrapServers(), "attempts-test");
    repo = GitRepo.sample(dir.resolve("repo"));
    bus.createTopics();
    for (String topic : Topics.all()) {
      if (!topic.equals(Topics.DEAD)) {
        bus.subscribe(topic, Bus.Start.BEGINNING, seen::add);
      }
    }
  }

  @AfterEach
  void tearDown() {
    if (lead != null) {
      lead.close();
    }
    bus.close();
    broker.close();
  }

  @Test
  void aFailedAttemptStartsOneMore() {
    Lead.RunHandle run = start(twoAttempts(), "{id: core, prompt: p, owns: [core/]}");
    bus.publish(failed(grant(run, "core", "w1", 1), "w1"));
    TaskOffered second = grant(run, "core", "w1", 2);
    assertCounted("core", 2, "first", "after a failure");
    bus.publish(failed(second, "w1"));

    assertThat(stopped("core", TaskState.PARKED).detail()).startsWith("agent exited with 1; no attempt left: 2 of 2"
        + " used (--max-attempts 2: 1 first, 2 after a failure); earlier failures: attempt 1: agent exited with 1");
  }

  @Test
  void aLeaseThatRanOutStartsOneMore() {
    Lead.RunHandle run = start(twoAttempts().withLease(Duration.ofMinutes(1)), "{id: core, prompt: p, owns: [core/]}");
    grant(run, "core", "w1", 1);
    clock.advance(Duration.ofMinutes(2));
    grant(run, "core", "w2", 2);
    assertCounted("core", 2, "first", "after a failure");
    clock.advance(Duration.ofMinutes(2));

    assertThat(stopped("core", TaskState.PARKED).detail()).startsWith("the lease of w2 ran out (no heartbeat for 60s);"
        + " no attempt left: 2 of 2 used (--max-attempts 2: 1 first, 2 after a failure); earlier failures: attempt 1:"
        + " the lease of w1 ran out");
  }

  @Test
  void aClaimExtendedStartsOneMore() {
    Lead.RunHandle run = start(twoAttempts(), "{id: core, prompt: p, owns: [core/]}");
    TaskOffered first = grant(run, "core", "w1", 1);
    bus.publish(new Finding(run.id(), "core", 1, "w1", Finding.NEEDS_PATHS, "the guide", List.of("docs/")));
    bus.publish(failed(first, "w1"));
    TaskOffered second = grant(run, "core", "w1", 2);
    assertCounted("core", 2, "first", "after its claim was extended");
    assertThat(second.owns()).containsExactly("core/", "docs/");
    bus.publish(new Finding(run.id(), "core", 2, "w1", Finding.NEEDS_PATHS, "the api", List.of("api/")));
    bus.publish(failed(second, "w1"));

    assertThat(stopped("core", TaskState.PARKED).detail()).isEqualTo("it needs api/, outside its claim (the api); no"
        + " attempt left: 2 of 2 used (--max-attempts 2: 1 first, 2 after its claim was extended)");
    assertThat(all(PlanRevised.class)).as("the claim is not extended for an attempt that cannot run").hasSize(1);
  }

  @Test
  void aClaimExtendedThatWaitsForItsOwnerStartsOneMoreWhenItRuns() {
    Lead.RunHandle run = start(twoAttempts(), "{id: core, prompt: p, owns: [core/]}\n  - {id: docs, prompt: p,"
        + " owns: [docs/]}");
    TaskOffered docs = grant(run, "docs", "w2", 1);
    TaskOffered first = grant(run, "core", "w1", 1);
    bus.publish(new Finding(run.id(), "core", 1, "w1", Finding.NEEDS_PATHS, "the guide", List.of("docs/")));
    bus.publish(failed(first, "w1"));
    awaitUpdate(u -> u.task().equals("core") && u.state() == TaskState.WAITING);
    bus.publish(passed(docs, "w2", Map.of("docs/guide.md", "guide\n")));
    TaskOffered second = grant(run, "core", "w1", 2);
    assertCounted("core", 2, "first", "after its claim was extended");
    bus.publish(failed(second, "w1"));

    assertThat(stopped("core", TaskState.PARKED).detail()).startsWith("agent exited with 1; no attempt left: 2 of 2"
        + " used (--max-attempts 2: 1 first, 2 after its claim was extended)");
  }

  @Test
  void anEvictionStartsOneMore() {
    Lead.RunHandle run = start(twoAttempts().withMerging(3, 1), "{id: core, prompt: p, owns: [core/]}",
        "verify: test ! -e core/bad.txt");
    TaskOffered first = grant(run, "core", "w1", 1);
    bus.publish(passed(first, "w1", Map.of("core/bad.txt", "bad\n")));
    TaskOffered fix = grant(run, "core", "w1", 2);
    assertCounted("core", 2, "first", "a fix after an eviction");
    bus.publish(passed(fix, "w1", Map.of("core/bad.txt", "still bad\n")));

    assertThat(stopped("core", TaskState.PARKED).detail()).isEqualTo("evicted from the merge queue: verify failed on"
        + " the merged tree: exit 1; no attempt left: 2 of 2 used (--max-attempts 2: 1 first, 2 a fix after an"
        + " eviction)");
    assertThat(repo.rev("lanes/sample")).isEqualTo(repo.rev("main"));
  }

  @Test
  void changesAReviewAsksForStartOneMoreAndTheReviewsNone() {
    Lead.RunHandle run = start(twoAttempts().withMerging(3, 1), "{id: core, prompt: p, owns: [core/]}",
        "review: true");
    TaskOffered first = grant(run, "core", "w1", 1);
    bus.publish(passed(first, "w1", Map.of("core/file.txt", "draft\n")));
    TaskOffered review = grant(run, "core", "w2", 2);
    assertCounted("core", 2, "first");
    requestChanges(review);
    TaskOffered fix = grant(run, "core", "w1", 3);
    assertCounted("core", 3, "first", "a fix a review asked for");
    bus.publish(passed(fix, "w1", Map.of("core/file.txt", "still a draft\n")));
    requestChanges(grant(run, "core", "w2", 4));

    assertThat(stopped("core", TaskState.PARKED).detail()).isEqualTo("review by w2 requested changes: Say polished.;"
        + " no attempt left: 2 of 2 used (--max-attempts 2: 1 first, 2 a fix a review asked for)");
  }

  @Test
  void aFailedReviewStartsOneMore() {
    Lead.RunHandle run = start(twoAttempts(), "{id: core, prompt: p, owns: [core/]}", "review: true");
    TaskOffered first = grant(run, "core", "w1", 1);
    bus.publish(passed(first, "w1", Map.of("core/file.txt", "done\n")));
    bus.publish(failed(grant(run, "core", "w2", 2), "w2"));
    TaskOffered again = grant(run, "core", "w2", 3);
    assertCounted("core", 3, "first", "a review again after a failed review");
    assertThat(again.review()).isPresent();
    bus.publish(failed(again, "w2"));

    assertThat(stopped("core", TaskState.PARKED).detail()).startsWith("review agent exited with 1; no attempt left:"
        + " 2 of 2 used (--max-attempts 2: 1 first, 2 a review again after a failed review)");
  }

  @Test
  void aLostGrantOfferedAgainUsesNone() {
    Lead.RunHandle run = start(Lead.Settings.daemon().withMaxAttempts(1), "{id: core, prompt: p, owns: [core/]}");
    grant(run, "core", "w1", 1);
    // The roll call's answer: w1 neither runs nor awaits the attempt, so its grant never arrived.
    bus.publish(new WorkerStatus("w1", "host", List.of(), 4, 0, Optional.of(List.of())));
    TaskOffered again = grant(run, "core", "w1", 2);
    assertCounted("core", 2, "first");
    bus.publish(failed(again, "w1"));

    assertThat(stopped("core", TaskState.FAILED).detail()).isEqualTo("agent exited with 1; no attempt left: 1 of 1"
        + " used (--max-attempts 1: 1 first)");
  }

  @Test
  void theCountOutlivesALeadsRestart() {
    Lead.RunHandle run = start(twoAttempts(), "{id: core, prompt: p, owns: [core/]}");
    bus.publish(failed(grant(run, "core", "w1", 1), "w1"));
    awaitUpdate(u -> u.task().equals("core") && u.state() == TaskState.OFFERED && u.epoch() == 2);
    lead.close();
    lead = Lead.start(bus, repo.dir(), clock, twoAttempts());
    announceWorkers();
    TaskOffered second = grant(run, "core", "w1", 2);
    bus.publish(failed(second, "w1"));

    assertThat(stopped("core", TaskState.PARKED).detail()).startsWith("agent exited with 1; no attempt left: 2 of 2"
        + " used (--max-attempts 2: 1 first, 2 after a failure)");
  }

  private static Lead.Settings twoAttempts() {
    return Lead.Settings.daemon().withMaxAttempts(2);
  }

  /** Starts a lead with {@code settings}, announces workers w1 and w2, and submits a plan of {@code task}. */
  private Lead.RunHandle start(Lead.Settings settings, String task, String... planLines) {
    lead = Lead.start(bus, repo.dir(), clock, settings);
    announceWorkers();
    String yaml = "name: sample\nagent: {command: [sh, -c, \"true\"]}\n" + String.join("\n", planLines)
        + "\ntasks:\n  - " + task + "\n";
    return lead.submit(PlanParser.parse(yaml, "plan.yaml"));
  }

  private void announceWorkers() {
    lead.awaitActive(PATIENCE);
    for (String worker : List.of("w1", "w2")) {
      bus.publish(new WorkerStatus(worker, "host", List.of(), 4, 0));
    }
    org.awaitility.Awaitility.await().atMost(PATIENCE).until(() -> lead.knows("w1") && lead.knows("w2"));
  }

  /** The recorded offer of attempt {@code epoch} counts {@code attempts} attempts, started by {@code causes}. */
  private void assertCounted(String task, int epoch, String... causes) {
    TaskUpdate offered = awaitUpdate(u -> u.task().equals(task) && u.epoch() == epoch
        && (u.state() == TaskState.OFFERED || u.state() == TaskState.REVIEWING));
    assertThat(offered.tally()).hasValueSatisfying(t -> {
      assertThat(t.attempts()).isEqualTo(causes.length);
      assertThat(t.causes()).containsExactly(causes);
    });
  }

  private TaskUpdate stopped(String task, TaskState state) {
    return awaitUpdate(u -> u.task().equals(task) && u.state() == state);
  }

  private TaskOffered grant(Lead.RunHandle run, String task, String worker, int epoch) {
    TaskOffered offer = await(TaskOffered.class, o -> o.run().equals(run.id()) && o.task().equals(task)
        && o.epoch() == epoch);
    bus.publish(new ClaimRequested(run.id(), task, epoch, worker));
    await(ClaimGranted.class, g -> g.task().equals(task) && g.epoch() == epoch && g.worker().equals(worker));
    return offer;
  }

  private static TaskResult failed(TaskOffered offer, String worker) {
    return new TaskResult(offer.run(), offer.task(), offer.epoch(), worker, TaskResult.Outcome.AGENT_FAILED,
        offer.branch(), Optional.empty(), List.of(), 1, -1, "", "", 1, Optional.of("agent exited with 1"),
        Optional.empty());
  }

  /** Commits {@code files} onto the offer's base on its branch, and says it passed. */
  private TaskResult passed(TaskOffered offer, String worker, Map<String, String> files) {
    String commit = repo.commitOnto(offer.baseCommit(), offer.branch(), files);
    return new TaskResult(offer.run(), offer.task(), offer.epoch(), worker, TaskResult.Outcome.PASSED, offer.branch(),
        Optional.of(commit), List.copyOf(files.keySet()), 0, 0, "", "", 1, Optional.empty(), Optional.empty());
  }

  private void requestChanges(TaskOffered review) {
    bus.publish(new Finding(review.run(), review.task(), review.epoch(), "w2", Finding.REQUEST_CHANGES,
        "Say polished.", List.of()));
    bus.publish(new TaskResult(review.run(), review.task(), review.epoch(), "w2", TaskResult.Outcome.PASSED,
        review.branch(), Optional.empty(), List.of(), 0, -1, "", "", 1, Optional.empty(), Optional.empty()));
  }

  private TaskUpdate awaitUpdate(Predicate<TaskUpdate> which) {
    return await(TaskUpdate.class, which);
  }

  private <T extends Message> List<T> all(Class<T> type) {
    return seen.stream().filter(type::isInstance).map(type::cast).toList();
  }

  private <T extends Message> T await(Class<T> type, Predicate<T> which) {
    org.awaitility.Awaitility.await().atMost(PATIENCE).until(() -> all(type).stream().anyMatch(which));
    return all(type).stream().filter(which).findFirst().orElseThrow();
  }
}
