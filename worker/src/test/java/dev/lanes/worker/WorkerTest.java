package dev.lanes.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.lanes.bus.MemoryBus;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.LeadOnline;
import dev.lanes.protocol.TaskCancelled;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskResult.Outcome;
import dev.lanes.protocol.Topics;
import dev.lanes.protocol.WorkerStatus;
import dev.lanes.testkit.MovableClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker daemon on an in-memory bus with a real user repository as its remote. The test plays the lead: it
 * publishes offers and grants on the work topic and reads claims, heartbeats and results from the reports topic.
 *
 * <p>That something was not claimed is proven by order, not by waiting: the worker handles the work topic one message
 * at a time and claims while it handles an offer, so a claim it would have made for an earlier offer is on the reports
 * topic before anything it does for a later message.
 */
class WorkerTest {
  private static final String RUN = "r1";

  @TempDir Path dir;
  private TestRepo remote;
  private String base;
  private MemoryBus bus;
  private TestRepo.Recorder reports;
  private final List<Worker> workers = new ArrayList<>();

  @BeforeEach
  void setUp() {
    remote = TestRepo.sample(dir.resolve("remote"));
    base = remote.rev("main");
    bus = new MemoryBus();
    reports = new TestRepo.Recorder(bus, Topics.REPORTS);
  }

  @AfterEach
  void tearDown() {
    workers.forEach(Worker::close);
    bus.close();
    assertThat(remote.headRef()).isEqualTo("refs/heads/main");
    assertThat(remote.rev("main")).as("the user's branch never moves").isEqualTo(base);
    assertThat(remote.status()).as("the user's working tree is never touched").isEmpty();
    assertThat(remote.read("core/file.txt")).isEqualTo("one\ntwo\nthree\n");
  }

  @Test
  void grantedTaskRunsAndItsResultIsReported() {
    Worker worker = start("w1", 1, List.of("java"));
    TaskOffered offer = offer("core", "echo changed > core/file.txt", Optional.of("grep -q changed core/file.txt"),
        List.of("java"));

    bus.publish(offer);
    ClaimRequested claim = reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("core"));
    assertThat(claim).isEqualTo(new ClaimRequested(RUN, "core", 1, worker.id()));
    bus.publish(new ClaimGranted(RUN, "core", 1, worker.id()));
    TaskResult result = reports.awaitFirst(TaskResult.class, r -> r.task().equals("core"));

    assertThat(result.outcome()).as(result.toString()).isEqualTo(Outcome.PASSED);
    assertThat(result.worker()).isEqualTo("w1");
    assertThat(result.changedFiles()).containsExactly("core/file.txt");
    String commit = result.commit().orElseThrow();
    assertThat(remote.rev(offer.branch())).isEqualTo(commit);
    assertThat(remote.parents(commit)).containsExactly(base);
    assertThat(remote.show(commit, "core/file.txt")).isEqualTo("changed\n");
    await().atMost(Duration.ofSeconds(20)).until(() -> !Files.exists(worktree("w1", offer)));
    assertThat(reports.all(Heartbeat.class, h -> h.task().equals("core"))).extracting(Heartbeat::phase)
        .containsExactly("setup", "agent", "commit", "verify", "push");
    // A worker announces itself when it starts (and on a roll call), not after every task: the lead keeps count.
    assertThat(reports.all(WorkerStatus.class, s -> s.worker().equals("w1"))).singleElement().satisfies(s -> {
      assertThat(s).usingRecursiveComparison().ignoringFields("instance")
          .isEqualTo(new WorkerStatus("w1", "host", List.of("java"), 1, 0, Optional.of(List.of())));
      // Which process it is: its directory's id, the same for a worker started there again.
      assertThat(s.instance()).hasValueSatisfying(i -> assertThat(i.dir()).endsWith("work-w1"));
    });
  }

  @Test
  void cancelFromTheLeadEndsTheRunningAgentAndReportsWhy() {
    Worker worker = start("w1", 1, List.of("java"));
    TaskOffered offer = offer("core", "echo started > core/file.txt; sleep 300", Optional.empty(), List.of("java"));

    bus.publish(offer);
    reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("core"));
    bus.publish(new ClaimGranted(RUN, "core", 1, worker.id()));
    reports.awaitFirst(Heartbeat.class, h -> h.task().equals("core") && h.phase().equals("agent"));
    bus.publish(new TaskCancelled(RUN, "core", 1, "the user gave up"));
    TaskResult result = reports.awaitFirst(TaskResult.class, r -> r.task().equals("core"));

    assertThat(result.outcome()).isEqualTo(Outcome.AGENT_FAILED);
    assertThat(result.error()).contains("agent stopped: cancelled by the lead: the user gave up");
    assertThat(result.durationMs()).isLessThan(Duration.ofSeconds(60).toMillis());
    assertThat(remote.hasBranch(offer.branch())).isFalse();
  }

  @Test
  void leadOnlineMakesTheWorkerAnnounceItself() {
    start("w1", 1, List.of("java"));
    reports.awaitFirst(WorkerStatus.class, s -> s.worker().equals("w1"));
    int before = reports.all(WorkerStatus.class).size();

    bus.publish(new LeadOnline("lead-1"));

    await().atMost(Duration.ofSeconds(20)).until(() -> reports.all(WorkerStatus.class).size() > before);
  }

  @Test
  void rollCallIsAnsweredWithTheAttemptsTheWorkerRunsAndTheClaimsItAwaits() {
    Worker worker = start("w1", 2, List.of("java"));
    bus.publish(offer("core", "sleep 300", Optional.empty(), List.of("java")));
    reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("core"));
    bus.publish(new ClaimGranted(RUN, "core", 1, worker.id()));
    reports.awaitFirst(Heartbeat.class, h -> h.task().equals("core") && h.phase().equals("agent"));
    bus.publish(offer("api", "true", Optional.empty(), List.of("java")));
    reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("api"));

    bus.publish(new LeadOnline("lead-2"));

    WorkerStatus answer = reports.awaitFirst(WorkerStatus.class, s -> s.holds().orElse(List.of()).size() == 2);
    assertThat(answer.holds().orElseThrow()).containsExactlyInAnyOrder(new WorkerStatus.Hold(RUN, "core", 1, true),
        new WorkerStatus.Hold(RUN, "api", 1, false));
    bus.publish(new TaskCancelled(RUN, "core", 1, "test over"));
  }

  @Test
  void grantThisWorkerCannotTakeUpIsAnsweredAtOnceWithWhatItHolds() {
    Worker worker = start("w1", 1, List.of("java"));
    reports.awaitFirst(WorkerStatus.class, s -> s.worker().equals("w1"));

    // No claim for it here: made by this worker's previous process, or taken back unanswered.
    bus.publish(new ClaimGranted(RUN, "core", 1, worker.id()));

    await().atMost(Duration.ofSeconds(20)).until(() -> reports.all(WorkerStatus.class).size() == 2);
    assertThat(reports.all(WorkerStatus.class).get(1).holds()).contains(List.of());
    assertThat(reports.all(ClaimRequested.class)).isEmpty();
  }

  @Test
  void newerAttemptReplacingAnUnansweredClaimKeepsItsSlot() {
    start("w1", 2, List.of("java"));
    TaskOffered first = offer("core", "true", Optional.empty(), List.of("java"));

    bus.publish(first);
    reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("core") && c.epoch() == 1);
    bus.publish(attempt(first, 2));
    reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("core") && c.epoch() == 2);
    bus.publish(offer("api", "true", Optional.empty(), List.of("java")));

    ClaimRequested api = reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("api"));
    assertThat(api.worker()).as("the second slot is still free").isEqualTo("w1");
  }

  private static TaskOffered attempt(TaskOffered o, int epoch) {
    return new TaskOffered(o.run(), o.plan(), o.task(), epoch, o.title(), o.prompt(), o.owns(), o.requires(),
        o.agent(), o.verify(), o.baseCommit(), dev.lanes.protocol.TaskRef.branch(o.run(), o.task(), epoch),
        o.preferred());
  }

  @Test
  void taskNeedingACapabilityTheWorkerLacksIsNeverClaimed() {
    start("w1", 2, List.of("java"));

    bus.publish(offer("gpu-task", "true", Optional.empty(), List.of("gpu")));
    bus.publish(offer("both-task", "true", Optional.empty(), List.of("java", "gpu")));
    bus.publish(offer("java-task", "true", Optional.empty(), List.of("java")));
    reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("java-task"));

    assertThat(reports.all(ClaimRequested.class)).extracting(ClaimRequested::task).containsExactly("java-task");
  }

  @Test
  void grantToAnotherWorkerReleasesTheSlot() {
    Worker worker = start("w1", 1, List.of());

    bus.publish(offer("a", "true", Optional.empty(), List.of()));
    reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("a"));
    bus.publish(new ClaimGranted(RUN, "a", 1, "other"));
    bus.publish(offer("b", "true", Optional.empty(), List.of()));

    assertThat(reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("b")).worker()).isEqualTo(worker.id());
    assertThat(reports.all(Heartbeat.class, h -> h.task().equals("a"))).as("a is not run").isEmpty();
    assertThat(dir.resolve("work-w1/worktrees/r1/a-e1")).doesNotExist();
  }

  @Test
  void busyWorkerClaimsNoMoreThanItsSlotsAndTheRememberedOfferWhenOneFrees() throws Exception {
    start("w1", 1, List.of());
    Path gate = dir.resolve("gate");
    TaskOffered slow = offer("slow", "while [ ! -f '" + gate + "' ]; do sleep 0.05; done", Optional.empty(),
        List.of());

    bus.publish(slow);
    reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("slow"));
    bus.publish(offer("next", "true", Optional.empty(), List.of()));
    bus.publish(new ClaimGranted(RUN, "slow", 1, "w1"));
    reports.awaitFirst(Heartbeat.class, h -> h.task().equals("slow") && h.phase().equals("agent"));

    assertThat(reports.all(ClaimRequested.class)).extracting(ClaimRequested::task).containsExactly("slow");

    Files.writeString(gate, "go");
    assertThat(reports.awaitFirst(TaskResult.class, r -> r.task().equals("slow")).outcome())
        .isEqualTo(Outcome.PASSED);
    reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("next"));
  }

  @Test
  void simulatedWorkerPassesAtOnceWithoutAChange() {
    Worker.Config config = new Worker.Config("sim", "host", List.of(), 1, remote.url(), dir.resolve("work-sim"),
        Duration.ofMinutes(5), Map.of());
    Worker worker = Worker.simulated(bus, config, Clock.systemUTC());
    workers.add(worker);
    TaskOffered offer = offer("core", "exit 1", Optional.of("exit 1"), List.of());

    worker.accept(offer);
    reports.awaitFirst(ClaimRequested.class, c -> c.equals(new ClaimRequested(RUN, "core", 1, "sim")));
    worker.accept(new ClaimGranted(RUN, "core", 1, "sim"));
    TaskResult result = reports.awaitFirst(TaskResult.class, r -> r.task().equals("core"));

    assertThat(result.outcome()).isEqualTo(Outcome.PASSED);
    assertThat(result.worker()).isEqualTo("sim");
    assertThat(result.commit()).contains(base);
    assertThat(result.changedFiles()).isEmpty();
    assertThat(result.branch()).isEqualTo(offer.branch());
    assertThat(remote.hasBranch(offer.branch())).isFalse();
    assertThat(reports.all(WorkerStatus.class)).extracting(WorkerStatus::worker).contains("sim");
    assertThat(dir.resolve("work-sim")).as("a simulated worker touches no repository").doesNotExist();
  }

  @Test
  void offerMeantForAnotherWorkerIsLeftToItForTheHoldBackThenClaimed() {
    Worker worker = simulated("sim", 2);
    TaskOffered theirs = meantFor(offer("theirs", "true", Optional.empty(), List.of()), "other");
    TaskOffered mine = meantFor(offer("mine", "true", Optional.empty(), List.of()), "sim");

    long offered = System.nanoTime();
    worker.accept(theirs);
    worker.accept(mine);

    ClaimRequested late = reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("theirs"));
    long waited = System.nanoTime() - offered;
    assertThat(reports.all(ClaimRequested.class)).extracting(ClaimRequested::task)
        .as("the offer meant for this worker is claimed at once, the other one only after the hold-back")
        .containsExactly("mine", "theirs");
    assertThat(late.worker()).isEqualTo("sim");
    assertThat(Duration.ofNanos(waited)).isGreaterThanOrEqualTo(Worker.HOLD_BACK);
  }

  @Test
  void aLeadSlowToAnswerClaimsMakesOffersForOtherWorkersWaitLonger() throws Exception {
    Worker worker = simulated("sim", 1);
    assertThat(Duration.ofNanos(worker.holdBack())).isEqualTo(Worker.HOLD_BACK);
    worker.accept(meantFor(offer("slow", "true", Optional.empty(), List.of()), "sim"));
    reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("slow"));
    Thread.sleep(400); // the lead takes this long to grant it: a loaded lead
    worker.accept(new ClaimGranted(RUN, "slow", 1, "sim"));
    assertThat(Duration.ofNanos(worker.holdBack())).as("four times the time the lead took to answer")
        .isGreaterThanOrEqualTo(Duration.ofMillis(1600)).isLessThanOrEqualTo(Worker.MAX_HOLD_BACK);

    long offered = System.nanoTime();
    worker.accept(meantFor(offer("next", "true", Optional.empty(), List.of()), "other"));
    reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("next"));
    assertThat(Duration.ofNanos(System.nanoTime() - offered)).isGreaterThanOrEqualTo(Duration.ofMillis(1600));
  }

  @Test
  void heldBackOfferIsClaimedAfterItsOwnHoldBackWhenAnEarlierOneWentElsewhere() throws Exception {
    Worker worker = simulated("sim", 1);
    TaskOffered first = meantFor(offer("first", "true", Optional.empty(), List.of()), "other");
    TaskOffered second = meantFor(offer("second", "true", Optional.empty(), List.of()), "other");

    worker.accept(first);
    worker.accept(new ClaimGranted(RUN, "first", 1, "other")); // the earliest hold-back is gone with it
    Thread.sleep(Worker.HOLD_BACK.toMillis() / 2);
    long offered = System.nanoTime();
    worker.accept(second);

    ClaimRequested claim = reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("second"));
    assertThat(Duration.ofNanos(System.nanoTime() - offered)).isGreaterThanOrEqualTo(Worker.HOLD_BACK);
    assertThat(claim.worker()).isEqualTo("sim");
    assertThat(reports.all(ClaimRequested.class)).extracting(ClaimRequested::task).containsExactly("second");
  }

  @Test
  void floodOfOffersKeepsTheOpenOffersBoundedAndAFreshOfferIsStillClaimed() {
    MovableClock clock = new MovableClock(java.time.Instant.parse("2026-12-02T00:00:00Z"));
    Worker worker = Worker.simulated(bus, new Worker.Config("sim", "host", List.of(), 1, remote.url(),
        dir.resolve("work-sim"), Duration.ofMinutes(5), Map.of()), clock);
    workers.add(worker);
    worker.accept(offer("busy", "true", Optional.empty(), List.of())); // claimed, never granted: the slot is full
    reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("busy"));

    for (int i = 0; i < Worker.MAX_OPEN + 5_000; i++) {
      worker.accept(offer("flood-" + i, "true", Optional.empty(), List.of()));
    }

    assertThat(worker.openOffers()).isEqualTo(Worker.MAX_OPEN);
    clock.advance(Worker.OPEN_FOR.plusSeconds(1));
    worker.accept(meantFor(offer("fresh", "true", Optional.empty(), List.of()), "sim"));
    assertThat(worker.openOffers()).as("offers unseen for longer than they are kept are gone").isEqualTo(1);
    worker.accept(new ClaimGranted(RUN, "busy", 1, "other")); // the slot frees
    reports.awaitFirst(ClaimRequested.class, c -> c.task().equals("fresh"));
    assertThat(reports.all(ClaimRequested.class)).extracting(ClaimRequested::task).containsExactly("busy", "fresh");
  }

  private Worker simulated(String id, int slots) {
    Worker.Config config = new Worker.Config(id, "host", List.of(), slots, remote.url(), dir.resolve("work-" + id),
        Duration.ofMinutes(5), Map.of());
    Worker worker = Worker.simulated(bus, config, Clock.systemUTC());
    workers.add(worker);
    return worker;
  }

  private static TaskOffered meantFor(TaskOffered o, String worker) {
    return new TaskOffered(o.run(), o.plan(), o.task(), o.epoch(), o.title(), o.prompt(), o.owns(), o.requires(),
        o.agent(), o.verify(), o.baseCommit(), o.branch(), Optional.of(worker));
  }

  @Test
  void accept_reportMessageIsRefused() {
    Worker worker = Worker.simulated(bus, new Worker.Config("sim", "host", List.of(), 1, remote.url(),
        dir.resolve("work-sim"), Duration.ofMinutes(5), Map.of()), Clock.systemUTC());
    workers.add(worker);

    assertThatThrownBy(() -> worker.accept(new WorkerStatus("x", "host", List.of(), 1, 0)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("WorkerStatus");
  }

  @Test
  void config_slotsMustBePositive() {
    assertThatThrownBy(() -> new Worker.Config("w", "host", List.of(), 0, remote.url(), dir, Duration.ofSeconds(1),
        Map.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--slots")
        .hasMessageContaining("0");
  }

  @Test
  void config_passEnvNamesAVariableTheWorkerDoesNotSetItself() {
    assertThatThrownBy(() -> new Worker.Config("w", "host", List.of(), 1, remote.url(), dir, Duration.ofSeconds(1),
        Map.of(), List.of("NPM_TOKEN", "LANES_OWNS")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--pass-env")
        .hasMessageContaining("\"LANES_OWNS\"");
    assertThatThrownBy(() -> new Worker.Config("w", "host", List.of(), 1, remote.url(), dir, Duration.ofSeconds(1),
        Map.of(), List.of("A=B")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("\"A=B\" is not an environment variable name");
  }

  private Worker start(String id, int slots, List<String> capabilities) {
    Worker.Config config = new Worker.Config(id, "host", capabilities, slots, remote.url(), dir.resolve("work-" + id),
        Duration.ofMinutes(5), Map.of());
    Worker worker = Worker.start(bus, config, Clock.systemUTC());
    workers.add(worker);
    return worker;
  }

  private TaskOffered offer(String task, String script, Optional<String> verify, List<String> requires) {
    return TestRepo.offer(RUN, task, "Do " + task, "Please do " + task, List.of("sh", "-c", script),
        Duration.ofSeconds(30), verify, requires, base);
  }

  private Path worktree(String worker, TaskOffered offer) {
    return dir.resolve("work-" + worker).resolve("worktrees").resolve(offer.run())
        .resolve(offer.task() + "-e" + offer.epoch());
  }
}
