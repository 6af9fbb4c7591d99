package dev.lanes.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.bus.KafkaBus;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.PlanParser;
import dev.lanes.protocol.PlanRevised;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.WorkerStatus;
import dev.lanes.testkit.GitRepo;
import dev.lanes.testkit.MovableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
  @TempDir Path dir;
  private PlayedWorkers played;
  private KafkaBus bus;
  private GitRepo repo;
  private Lead lead;
  private final MovableClock clock = new MovableClock(Instant.parse("2026-12-03T06:00:00Z"));

  @BeforeEach
  void setUp() {
    played = new PlayedWorkers(dir, "attempts-test");
    bus = played.bus();
    repo = played.repo();
  }

  @AfterEach
  void tearDown() {
    if (lead != null) {
      lead.close();
    }
    played.close();
  }

  @Test
  void aFailedAttemptStartsOneMore() {
    Lead.RunHandle run = start(twoAttempts(), "{id: core, prompt: p, owns: [core/]}");
    bus.publish(PlayedWorkers.failed(played.grant(run, "core", "w1", 1), "w1"));
    TaskOffered second = played.grant(run, "core", "w1", 2);
    assertCounted("core", 2, "first", "after a failure");
    bus.publish(PlayedWorkers.failed(second, "w1"));

    assertThat(stopped("core", TaskState.PARKED).detail()).startsWith("agent exited with 1; no attempt left: 2 of 2"
        + " used (--max-attempts 2: 1 first, 2 after a failure); earlier failures: attempt 1: agent exited with 1");
  }

  @Test
  void aLeaseThatRanOutStartsOneMore() {
    Lead.RunHandle run = start(twoAttempts().withLease(Duration.ofMinutes(1)), "{id: core, prompt: p, owns: [core/]}");
    played.grant(run, "core", "w1", 1);
    clock.advance(Duration.ofMinutes(2));
    played.grant(run, "core", "w2", 2);
    assertCounted("core", 2, "first", "after a failure");
    clock.advance(Duration.ofMinutes(2));

    assertThat(stopped("core", TaskState.PARKED).detail()).startsWith("the lease of w2 ran out (no heartbeat for 60s);"
        + " no attempt left: 2 of 2 used (--max-attempts 2: 1 first, 2 after a failure); earlier failures: attempt 1:"
        + " the lease of w1 ran out");
  }

  @Test
  void aClaimExtendedStartsOneMore() {
    Lead.RunHandle run = start(twoAttempts(), "{id: core, prompt: p, owns: [core/]}");
    TaskOffered first = played.grant(run, "core", "w1", 1);
    bus.publish(new Finding(run.id(), "core", 1, "w1", Finding.NEEDS_PATHS, "the guide", List.of("docs/")));
    bus.publish(PlayedWorkers.failed(first, "w1"));
    TaskOffered second = played.grant(run, "core", "w1", 2);
    assertCounted("core", 2, "first", "after its claim was extended");
    assertThat(second.owns()).containsExactly("core/", "docs/");
    bus.publish(new Finding(run.id(), "core", 2, "w1", Finding.NEEDS_PATHS, "the api", List.of("api/")));
    bus.publish(PlayedWorkers.failed(second, "w1"));

    assertThat(stopped("core", TaskState.PARKED).detail()).isEqualTo("it needs api/, outside its claim (the api); no"
        + " attempt left: 2 of 2 used (--max-attempts 2: 1 first, 2 after its claim was extended)");
    assertThat(played.all(PlanRevised.class)).as("the claim is not extended for an attempt that cannot run").hasSize(1);
  }

  @Test
  void aClaimExtendedThatWaitsForItsOwnerStartsOneMoreWhenItRuns() {
    Lead.RunHandle run = start(twoAttempts(), "{id: core, prompt: p, owns: [core/]}\n  - {id: docs, prompt: p,"
        + " owns: [docs/]}");
    TaskOffered docs = played.grant(run, "docs", "w2", 1);
    TaskOffered first = played.grant(run, "core", "w1", 1);
    bus.publish(new Finding(run.id(), "core", 1, "w1", Finding.NEEDS_PATHS, "the guide", List.of("docs/")));
    bus.publish(PlayedWorkers.failed(first, "w1"));
    played.awaitUpdate(u -> u.task().equals("core") && u.state() == TaskState.WAITING);
    bus.publish(played.passed(docs, "w2", Map.of("docs/guide.md", "guide\n")));
    TaskOffered second = played.grant(run, "core", "w1", 2);
    assertCounted("core", 2, "first", "after its claim was extended");
    bus.publish(PlayedWorkers.failed(second, "w1"));

    assertThat(stopped("core", TaskState.PARKED).detail()).startsWith("agent exited with 1; no attempt left: 2 of 2"
        + " used (--max-attempts 2: 1 first, 2 after its claim was extended)");
  }

  @Test
  void anEvictionStartsOneMore() {
    Lead.RunHandle run = start(twoAttempts().withMerging(3, 1), "{id: core, prompt: p, owns: [core/]}",
        "verify: test ! -e core/bad.txt");
    TaskOffered first = played.grant(run, "core", "w1", 1);
    bus.publish(played.passed(first, "w1", Map.of("core/bad.txt", "bad\n")));
    TaskOffered fix = played.grant(run, "core", "w1", 2);
    assertCounted("core", 2, "first", "a fix after an eviction");
    bus.publish(played.passed(fix, "w1", Map.of("core/bad.txt", "still bad\n")));

    assertThat(stopped("core", TaskState.PARKED).detail()).isEqualTo("evicted from the merge queue: verify failed on"
        + " the merged tree: exit 1; no attempt left: 2 of 2 used (--max-attempts 2: 1 first, 2 a fix after an"
        + " eviction)");
    assertThat(repo.rev("lanes/sample")).isEqualTo(repo.rev("main"));
  }

  @Test
  void changesAReviewAsksForStartOneMoreAndTheReviewsNone() {
    Lead.RunHandle run = start(twoAttempts().withMerging(3, 1), "{id: core, prompt: p, owns: [core/]}",
        "review: true");
    TaskOffered first = played.grant(run, "core", "w1", 1);
    bus.publish(played.passed(first, "w1", Map.of("core/file.txt", "draft\n")));
    TaskOffered review = played.grant(run, "core", "w2", 2);
    assertCounted("core", 2, "first");
    requestChanges(review);
    TaskOffered fix = played.grant(run, "core", "w1", 3);
    assertCounted("core", 3, "first", "a fix a review asked for");
    bus.publish(played.passed(fix, "w1", Map.of("core/file.txt", "still a draft\n")));
    requestChanges(played.grant(run, "core", "w2", 4));

    assertThat(stopped("core", TaskState.PARKED).detail()).isEqualTo("review by w2 requested changes: Say polished.;"
        + " no attempt left: 2 of 2 used (--max-attempts 2: 1 first, 2 a fix a review asked for)");
  }

  @Test
  void aFailedReviewStartsOneMore() {
    Lead.RunHandle run = start(twoAttempts(), "{id: core, prompt: p, owns: [core/]}", "review: true");
    TaskOffered first = played.grant(run, "core", "w1", 1);
    bus.publish(played.passed(first, "w1", Map.of("core/file.txt", "done\n")));
    bus.publish(PlayedWorkers.failed(played.grant(run, "core", "w2", 2), "w2"));
    TaskOffered again = played.grant(run, "core", "w2", 3);
    assertCounted("core", 3, "first", "a review again after a failed review");
    assertThat(again.review()).isPresent();
    bus.publish(PlayedWorkers.failed(again, "w2"));

    assertThat(stopped("core", TaskState.PARKED).detail()).startsWith("review agent exited with 1; no attempt left:"
        + " 2 of 2 used (--max-attempts 2: 1 first, 2 a review again after a failed review)");
  }

  @Test
  void aLostGrantOfferedAgainUsesNone() {
    Lead.RunHandle run = start(Lead.Settings.daemon().withMaxAttempts(1), "{id: core, prompt: p, owns: [core/]}");
    played.grant(run, "core", "w1", 1);
    // The roll call's answer: w1 neither runs nor awaits the attempt, so its grant never arrived.
    bus.publish(new WorkerStatus("w1", "host", List.of(), 4, 0, Optional.of(List.of())));
    TaskOffered again = played.grant(run, "core", "w1", 2);
    assertCounted("core", 2, "first");
    bus.publish(PlayedWorkers.failed(again, "w1"));

    assertThat(stopped("core", TaskState.FAILED).detail()).isEqualTo("agent exited with 1; no attempt left: 1 of 1"
        + " used (--max-attempts 1: 1 first)");
  }

  @Test
  void theCountOutlivesALeadsRestart() {
    Lead.RunHandle run = start(twoAttempts(), "{id: core, prompt: p, owns: [core/]}");
    bus.publish(PlayedWorkers.failed(played.grant(run, "core", "w1", 1), "w1"));
    played.awaitUpdate(u -> u.task().equals("core") && u.state() == TaskState.OFFERED && u.epoch() == 2);
    lead.close();
    lead = Lead.start(bus, repo.dir(), clock, twoAttempts());
    announceWorkers();
    TaskOffered second = played.grant(run, "core", "w1", 2);
    bus.publish(PlayedWorkers.failed(second, "w1"));

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
    played.announce(lead);
  }

  /** The recorded offer of attempt {@code epoch} counts {@code attempts} attempts, started by {@code causes}. */
  private void assertCounted(String task, int epoch, String... causes) {
    TaskUpdate offered = played.awaitUpdate(u -> u.task().equals(task) && u.epoch() == epoch
        && (u.state() == TaskState.OFFERED || u.state() == TaskState.REVIEWING));
    assertThat(offered.tally()).hasValueSatisfying(t -> {
      assertThat(t.attempts()).isEqualTo(causes.length);
      assertThat(t.causes()).containsExactly(causes);
    });
  }

  private TaskUpdate stopped(String task, TaskState state) {
    return played.awaitUpdate(u -> u.task().equals(task) && u.state() == state);
  }

  private void requestChanges(TaskOffered review) {
    bus.publish(new Finding(review.run(), review.task(), review.epoch(), "w2", Finding.REQUEST_CHANGES,
        "Say polished.", List.of()));
    bus.publish(new TaskResult(review.run(), review.task(), review.epoch(), "w2", TaskResult.Outcome.PASSED,
        review.branch(), Optional.empty(), List.of(), 0, -1, "", "", 1, Optional.empty(), Optional.empty()));
  }
}
