package dev.lanes.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.bus.MemoryBus;
import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskResult.Outcome;
import dev.lanes.protocol.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker's own directory: its lock, the attempts it keeps and how they are discarded. Attempts are run through
 * {@link TaskRun} with scripted agents against a real remote, as a worker runs them.
 */
class WorkDirTest {
  private static final String RUN = "r1";

  @TempDir Path dir;
  private TestRepo remote;
  private String base;
  private Path root;
  private MemoryBus bus;
  private TestRepo.Recorder reports;
  private Worker.Config config;
  private TickingClock clock;
  private WorkDir work;

  @BeforeEach
  void setUp() {
    remote = TestRepo.sample(dir.resolve("remote"));
    base = remote.rev("main");
    root = dir.resolve("work");
    bus = new MemoryBus();
    reports = new TestRepo.Recorder(bus, Topics.REPORTS);
    config = new Worker.Config("w1", "host", List.of(), 1, remote.url(), root, Duration.ofMinutes(5));
    clock = new TickingClock(Instant.parse("2026-01-02T03:04:05Z"));
    work = WorkDir.open(root, remote.url(), clock);
  }

  @AfterEach
  void tearDown() {
    work.close();
    bus.close();
    assertThat(remote.rev("main")).isEqualTo(base);
    assertThat(remote.status()).isEmpty();
  }

  @Test
  void open_secondOpenOfTheSameDirectoryFailsNamingTheHolder() {
    assertThatThrownBy(() -> WorkDir.open(root, remote.url(), clock))
        .isInstanceOf(WorkerException.class)
        .hasMessage("work directory " + work.root() + " is in use by another worker (pid "
            + ProcessHandle.current().pid() + "); give each worker its own --dir");
    assertThatThrownBy(() -> WorkDir.open(root, remote.url(), clock)).as("the failed attempt left the lock held")
        .hasMessageContaining("is in use by another worker");
  }

  @Test
  void open_afterCloseTheDirectoryCanBeTakenAgain() {
    work.close();

    work = WorkDir.open(root, remote.url(), clock);

    assertThat(work.root().resolve("lock")).content().isEqualTo(ProcessHandle.current().pid() + "\n");
  }

  @Test
  void start_secondWorkerOnTheSameDirectoryFailsAtStart() {
    work.close();
    try (Worker first = Worker.start(bus, config, Clock.systemUTC())) {
      assertThatThrownBy(() -> Worker.start(bus, config, Clock.systemUTC()))
          .isInstanceOf(WorkerException.class)
          .hasMessageContaining("is in use by another worker (pid " + ProcessHandle.current().pid() + ")")
          .hasMessageEndingWith("give each worker its own --dir");
      assertThat(first.workDir()).as("the first worker keeps its directory").isPresent();
    }
    work = WorkDir.open(root, remote.url(), clock);
  }

  @Test
  void open_lockHeldByAnotherProcessNamesThatProcess() throws Exception {
    work.close();
    try (WorkerProcess other = WorkerProcess.start(dir, "hold", root.toString(), remote.url())) {
      other.awaitLine("ready");

      assertThatThrownBy(() -> WorkDir.open(root, remote.url(), clock))
          .isInstanceOf(WorkerException.class)
          .hasMessageContaining("is in use by another worker (pid " + other.pid() + ")");
    }
    work = WorkDir.open(root, remote.url(), clock);
  }

  @Test
  void open_aDirectoryMirroringAnotherRepositoryIsRefusedNamingBoth() {
    work.close();
    TestRepo other = TestRepo.sample(dir.resolve("other"));

    assertThatThrownBy(() -> WorkDir.open(root, other.url(), clock))
        .isInstanceOf(WorkerException.class)
        .hasMessage(work.root().resolve("mirror.git") + " mirrors " + remote.url() + ", not " + other.url()
            + " (--repo): start with --reset-mirror to mirror " + other.url() + " instead (kept attempts stay), or"
            + " give this worker a --dir of its own");
    work = WorkDir.open(root, remote.url(), clock); // the refusal let go of the lock
    assertThat(work.mirror().url()).isEqualTo(remote.url());
  }

  @Test
  void open_theSameRepositoryWrittenAnotherWayIsNoOtherRepository() {
    work.close();

    work = WorkDir.open(root, remote.dir().resolve(".git").toString(), clock);
    work.close();
    work = WorkDir.open(root, remote.dir().resolve("core/..") + "/", clock);
  }

  @Test
  void open_withResetMirrorMirrorsTheNewRepositoryAndKeepsKeptAttempts() {
    run(offer("core", "echo partial > core/file.txt; exit 3"));
    work.close();
    TestRepo other = TestRepo.withFiles(dir.resolve("other"), Map.of("x.txt", "x\n"));

    work = WorkDir.open(root, other.url(), clock, true);
    work.mirror().fetch();

    assertThat(git(work.root().resolve("mirror.git"), "config", "--get", "remote.origin.url")).isEqualTo(other.url());
    assertThat(git(work.root().resolve("mirror.git"), "for-each-ref", "--format=%(refname) %(objectname)",
        "refs/remotes/")).as("the old remote's branches are gone").isEqualTo("refs/remotes/origin/main "
        + other.rev("main"));
    assertThat(work.listKept()).extracting(WorkDir.Kept::id).containsExactly("r1/core/e1");
    assertThat(mirrorBranches()).contains("lanes-work/r1/core/e1");
  }

  @Test
  void aFetchThatFailsDuringAnAttemptEndsItWithGitsMessage() throws Exception {
    String later = remote.commitOnto(base, "later", Map.of("core/later.txt", "later\n"));
    Path moved = dir.resolve("moved");
    Files.move(remote.dir(), moved);
    try {
      TaskResult result = run(TestRepo.offer(RUN, "core", "Do core", "p", List.of("sh", "-c", "true"),
          Duration.ofSeconds(30), Optional.empty(), List.of(), later));

      assertThat(result.outcome()).isEqualTo(Outcome.ERROR);
      assertThat(result.error().orElseThrow()).contains("cannot fetch from " + remote.url() + ": fatal: '" + remote.url()
          + "' does not appear to be a git repository");
    } finally {
      Files.move(moved, remote.dir());
    }
  }

  @Test
  void failedAttemptIsKeptWithItsWorktreeBranchAndLogs() {
    TaskOffered offer = offer("core", "echo partial > core/file.txt; echo giving up; exit 3");

    TaskResult result = run(offer);

    assertThat(result.outcome()).isEqualTo(Outcome.AGENT_FAILED);
    WorkDir.Kept kept = work.listKept().get(0);
    assertThat(work.listKept()).hasSize(1);
    assertThat(kept.id()).isEqualTo("r1/core/e1");
    assertThat(kept.plan()).isEqualTo("sample");
    assertThat(kept.outcome()).isEqualTo("agent-failed");
    assertThat(kept.reason()).isEqualTo("agent exited with 3");
    assertThat(kept.branch()).contains("lanes-work/r1/core/e1");
    assertThat(kept.worktree()).contains(work.root().resolve("worktrees/r1/core-e1"));
    assertThat(kept.worktree().get().resolve("core/file.txt")).hasContent("partial");
    assertThat(kept.logs().resolve("agent.log")).content().contains("giving up");
    assertThat(kept.logs().resolve("attempt.json")).content().contains("\"base\":\"" + base + "\"");
    assertThat(mirrorBranches()).contains("lanes-work/r1/core/e1");
    assertThat(WorkDir.listKept(root)).as("readable without the lock").containsExactly(kept);
    assertThat(work.root().resolve("kept/r1.core.e1.json")).exists();
  }

  @Test
  void timedOutAndVerifyFailedAttemptsAreKeptWithTheirReason() {
    run(TestRepo.offer(RUN, "slow", "Do slow", "p", List.of("sh", "-c", "sleep 30"), Duration.ofMillis(500),
        Optional.empty(), List.of(), base));
    run(TestRepo.offer(RUN, "tested", "Do tested", "p", List.of("sh", "-c", "echo x > core/file.txt"),
        Duration.ofSeconds(30), Optional.of("exit 4"), List.of(), base));

    assertThat(work.listKept()).extracting(WorkDir.Kept::id, WorkDir.Kept::outcome, WorkDir.Kept::reason)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("r1/tested/e1", "verify-failed", "verify exited with 4"),
            org.assertj.core.groups.Tuple.tuple("r1/slow/e1", "agent-failed", "agent timed out after 500ms"));
  }

  @Test
  void passedAttemptIsRemovedAndNotKept() {
    TaskOffered offer = offer("core", "echo done > core/file.txt");

    TaskResult result = run(offer);

    assertThat(result.outcome()).isEqualTo(Outcome.PASSED);
    assertThat(work.listKept()).isEmpty();
    assertThat(work.root().resolve("worktrees/r1/core-e1")).doesNotExist();
    assertThat(mirrorBranches()).doesNotContain("lanes-work/r1/core/e1");
    assertThat(work.root().resolve("logs/r1/core-e1/agent.log")).exists();
  }

  @Test
  void listKept_newestFirst() {
    run(offer("first", "exit 1"));
    run(offer("second", "exit 1"));
    run(offer("third", "exit 1"));

    List<WorkDir.Kept> kept = work.listKept();

    assertThat(kept).extracting(WorkDir.Kept::task).containsExactly("third", "second", "first");
    assertThat(kept.get(0).time()).isAfter(kept.get(1).time());
  }

  @Test
  void discard_removesWorktreeBranchLogsAndEntry() {
    run(offer("core", "echo partial > core/file.txt; exit 1"));
    run(offer("docs", "exit 1"));
    WorkDir.Kept core = work.listKept().stream().filter(k -> k.task().equals("core")).findFirst().orElseThrow();

    WorkDir.Kept discarded = work.discard("r1/core/e1");

    assertThat(discarded).isEqualTo(core);
    assertThat(core.worktree().orElseThrow()).doesNotExist();
    assertThat(core.logs()).doesNotExist();
    assertThat(mirrorBranches()).doesNotContain("lanes-work/r1/core/e1").contains("lanes-work/r1/docs/e1");
    assertThat(TestRepo.exec(work.mirror().dir(), Map.of(), List.of("worktree", "list")).out())
        .doesNotContain("core-e1").contains("docs-e1");
    assertThat(work.listKept()).extracting(WorkDir.Kept::id).containsExactly("r1/docs/e1");
  }

  @Test
  void openExisting_findsTheRemoteInTheMirrorSoThatKeptAttemptsCanBeDiscardedWithoutIt() {
    run(offer("core", "exit 1"));
    work.close();

    work = WorkDir.openExisting(root, clock);
    work.discard("r1/core/e1");

    assertThat(work.mirror().url()).isEqualTo(remote.url());
    assertThat(work.listKept()).isEmpty();
    assertThatThrownBy(() -> WorkDir.openExisting(dir.resolve("remote"), clock))
        .isInstanceOf(WorkerException.class)
        .hasMessageContaining("is not a worker's directory: it has no mirror.git");
  }

  @Test
  void discard_unknownAttemptFails() {
    assertThatThrownBy(() -> work.discard("r1/nope/e1"))
        .isInstanceOf(WorkerException.class)
        .hasMessageContaining("no kept attempt r1/nope/e1");
  }

  @Test
  void attempt_idsThatAreNotSafeAreRejectedNamingTheField() {
    assertThatThrownBy(() -> work.attempt(offer(RUN, "../../x", TaskRefBranch.of(RUN, "../../x"), base)))
        .isInstanceOf(WorkerException.class)
        .hasMessage("task: \"../../x\" must be 1 to 100 of [a-z0-9-]");
    assertThatThrownBy(() -> work.attempt(offer("R1", "core", TaskRefBranch.of("R1", "core"), base)))
        .hasMessage("run: \"R1\" must be 1 to 100 of [a-z0-9-]");
    assertThatThrownBy(() -> work.attempt(offer(RUN, "core", "main", base)))
        .hasMessage("branch: \"main\" is not the branch of this attempt (lanes-work/r1/core/e1)");
    assertThatThrownBy(() -> work.attempt(offer(RUN, "core", TaskRefBranch.of(RUN, "core"), "--orphan")))
        .hasMessage("baseCommit: \"--orphan\" is not a full commit id");
  }

  @Test
  void unsafeOfferEndsAsAnErrorAndCreatesNothing() {
    TaskOffered offer = offer(RUN, "core/../..", TaskRefBranch.of(RUN, "core/../.."), base);

    new TaskRun(offer, config, work, bus, clock).run();

    TaskResult result = reports.awaitFirst(TaskResult.class, r -> true);
    assertThat(result.outcome()).isEqualTo(Outcome.ERROR);
    assertThat(result.error()).contains("task: \"core/../..\" must be 1 to 100 of [a-z0-9-]");
    assertThat(work.root().resolve("worktrees")).doesNotExist();
    assertThat(work.listKept()).isEmpty();
  }

  @Test
  void recoveryLeavesKeptAttemptsAsTheyAre() {
    run(offer("core", "echo partial > core/file.txt; exit 1"));
    WorkDir.Kept kept = work.listKept().get(0);

    assertThat(work.recover()).isEmpty();

    assertThat(work.listKept()).containsExactly(kept);
    assertThat(kept.worktree().orElseThrow().resolve("core/file.txt")).hasContent("partial");
    assertThat(mirrorBranches()).contains("lanes-work/r1/core/e1");
  }

  private TaskOffered offer(String task, String script) {
    return TestRepo.offer(RUN, task, "Do " + task, "Please do " + task, List.of("sh", "-c", script),
        Duration.ofSeconds(30), Optional.empty(), List.of(), base);
  }

  private static TaskOffered offer(String run, String task, String branch, String baseCommit) {
    return new TaskOffered(run, "sample", task, 1, "t", "p", List.of("core/"), List.of(),
        new AgentSpec(List.of("true"), 30_000), Optional.empty(), baseCommit, branch, Optional.empty());
  }

  private TaskResult run(TaskOffered offer) {
    new TaskRun(offer, config, work, bus, clock).run();
    return reports.awaitFirst(TaskResult.class, r -> r.task().equals(offer.task()));
  }

  private List<String> mirrorBranches() {
    return TestRepo.exec(work.mirror().dir(), Map.of(), List.of("for-each-ref", "--format=%(refname:strip=2)",
        "refs/heads/")).out().lines().toList();
  }

  /** The branch name the lead derives, written out so that the test does not depend on the code it checks. */
  private static final class TaskRefBranch {
    static String of(String run, String task) {
      return "lanes-work/" + run + "/" + task + "/e1";
    }
  }

  /** A clock that moves one second each time it is read, so that every record has a time of its own. */
  static final class TickingClock extends Clock {
    private Instant now;

    TickingClock(Instant start) {
      this.now = start;
    }

    @Override
    public synchronized Instant instant() {
      now = now.plusSeconds(1);
      return now;
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }

  private static String git(Path where, String... args) {
    return dev.lanes.git.GitCli.in(where).run(args).text().strip();
  }
}
