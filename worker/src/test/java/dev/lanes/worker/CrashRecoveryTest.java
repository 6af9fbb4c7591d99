package dev.lanes.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.bus.MemoryBus;
import dev.lanes.protocol.TaskOffered;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker that starts on a directory an earlier worker left without cleaning up. Most tests make the leftovers the
 * way a crash would: the attempt is set up exactly as {@link TaskRun} sets it up ({@link WorkDir#prepare}), the "agent"
 * changes files, and the directory is let go without the attempt ever ending. One test kills a real worker JVM with
 * SIGKILL in the middle of its agent.
 */
class CrashRecoveryTest {
  private static final String RUN = "r1";

  @TempDir Path dir;
  private TestRepo remote;
  private String base;
  private Path root;
  private MemoryBus bus;
  private Worker.Config config;
  private Worker worker;

  @BeforeEach
  void setUp() {
    remote = TestRepo.sample(dir.resolve("remote"));
    base = remote.rev("main");
    root = dir.resolve("work");
    bus = new MemoryBus();
    config = new Worker.Config("w1", "host", List.of(), 1, remote.url(), root, Duration.ofMinutes(5));
  }

  @AfterEach
  void tearDown() {
    if (worker != null) {
      worker.close();
    }
    bus.close();
    assertThat(remote.rev("main")).as("the user's branch never moves").isEqualTo(base);
    assertThat(remote.status()).as("the user's working tree is never touched").isEmpty();
    assertThat(remote.git("for-each-ref", "--format=%(refname)")).as("nothing archived is pushed")
        .doesNotContain("lanes-archive");
  }

  @Test
  void uncommittedWorkIsArchivedOnABranchThenTheWorktreeRemoved() throws IOException {
    Path wt = crashedAttempt("core", attempt -> {
      write(attempt.worktree(), "core/file.txt", "changed\n");
      write(attempt.worktree(), "core/new.txt", "untracked\n");
      Files.delete(attempt.worktree().resolve("docs/README.md"));
      write(attempt.worktree(), ".lanes/findings.json", "{\"notes\": [\"half done\"]}");
    });

    startWorker();

    String archive = "lanes-archive/r1/core/e1";
    assertThat(mirror("show", archive + ":core/file.txt")).isEqualTo("changed");
    assertThat(mirror("show", archive + ":core/new.txt")).isEqualTo("untracked");
    assertThat(mirror("ls-tree", "-r", "--name-only", archive).lines())
        .containsExactlyInAnyOrder("core/file.txt", "core/new.txt");
    assertThat(mirror("rev-parse", archive + "^")).as("one commit on the base").isEqualTo(base);
    assertThat(mirror("log", "-1", "--format=%an", archive)).isEqualTo("Lanes worker");
    assertThat(wt).doesNotExist();
    assertThat(mirror("worktree", "list")).doesNotContain("core-e1");
    assertThat(mirrorBranches()).doesNotContain("lanes-work/r1/core/e1");
    WorkDir.Kept kept = onlyKept();
    assertThat(kept.id()).isEqualTo("r1/core/e1");
    assertThat(kept.plan()).isEqualTo("sample");
    assertThat(kept.outcome()).isEqualTo("crashed");
    assertThat(kept.reason()).startsWith("archived after a crash").contains("uncommitted changes");
    assertThat(kept.branch()).contains(archive);
    assertThat(kept.worktree()).isEmpty();
    assertThat(kept.logs().resolve("findings.json")).as("the agent's findings outlive the worktree")
        .content().contains("half done");
  }

  @Test
  void commitsTheAgentMadeItselfAreArchived() {
    crashedAttempt("core", attempt -> {
      write(attempt.worktree(), "core/file.txt", "committed\n");
      TestRepo.exec(attempt.worktree(), Map.of(), List.of("-c", "user.name=Agent", "-c", "user.email=a@b.invalid",
          "commit", "-q", "-am", "agent's own commit")).orThrow();
    });
    String committed = mirror("rev-parse", "lanes-work/r1/core/e1");

    startWorker();

    assertThat(mirror("rev-parse", "lanes-archive/r1/core/e1")).as("no new commit: the tree was clean")
        .isEqualTo(committed);
    assertThat(onlyKept().reason()).startsWith("archived after a crash: 1 commit(s) of its own");
  }

  @Test
  void cleanStaleWorktreeIsRemovedWithoutAnArchive() {
    Path wt = crashedAttempt("core", attempt -> {});

    startWorker();

    assertThat(wt).doesNotExist();
    assertThat(mirrorBranches()).noneMatch(b -> b.startsWith("lanes-"));
    assertThat(WorkDir.listKept(root)).isEmpty();
    assertThat(root.resolve("worktrees/r1")).as("the emptied run directory goes too").doesNotExist();
  }

  @Test
  void ignoredFilesAndFindingsAloneAreNotWorkToArchive() {
    remote.write(".gitignore", "target/\n");
    base = remote.commitAll("ignore target");
    Path wt = crashedAttempt("core", attempt -> {
      write(attempt.worktree(), "target/classes/A.class", "build output");
      write(attempt.worktree(), ".lanes/findings.json", "{}");
    });

    startWorker();

    assertThat(wt).doesNotExist();
    assertThat(WorkDir.listKept(root)).isEmpty();
  }

  @Test
  void directoryGitLostTrackOfIsMovedAsideNotDeleted() throws IOException {
    Path wt = crashedAttempt("core", attempt -> write(attempt.worktree(), "core/file.txt", "changed\n"));
    // git's own record of the worktree is gone, as after a manual cleanup of the mirror
    WorkDir.deleteTree(root.resolve("mirror.git/worktrees/core-e1"));

    startWorker();

    Path moved = root.toRealPath().resolve("kept/orphans/r1/core-e1");
    assertThat(wt).doesNotExist();
    assertThat(moved.resolve("core/file.txt")).hasContent("changed");
    WorkDir.Kept kept = onlyKept();
    assertThat(kept.worktree()).contains(moved);
    assertThat(kept.branch()).isEmpty();
    assertThat(kept.reason()).contains("moved to " + moved);
    assertThat(mirrorBranches()).as("its branch had nothing of its own").doesNotContain("lanes-work/r1/core/e1");

    worker.workDir().orElseThrow().discard("r1/core/e1");

    assertThat(moved).doesNotExist();
    assertThat(WorkDir.listKept(root)).isEmpty();
  }

  @Test
  void worktreeWhoseGitLinkPointsElsewhereIsNeverCommittedIn() throws IOException {
    Path wt = crashedAttempt("core", attempt -> {
      write(attempt.worktree(), "core/file.txt", "changed\n");
      // an agent pointed its worktree at the user's repository: a commit there would land on the user's branch
      Files.writeString(attempt.worktree().resolve(".git"), "gitdir: " + remote.dir().resolve(".git") + "\n");
    });

    startWorker();

    assertThat(wt).doesNotExist();
    WorkDir.Kept kept = onlyKept();
    assertThat(kept.worktree().orElseThrow().resolve("core/file.txt")).hasContent("changed");
    assertThat(kept.reason()).contains("its .git link was missing or pointed elsewhere");
  }

  @Test
  void branchLeftWithoutItsWorktreeIsArchivedWhenItHoldsWork() {
    crashedAttempt("core", attempt -> {
      write(attempt.worktree(), "core/file.txt", "committed\n");
      TestRepo.exec(attempt.worktree(), Map.of(), List.of("-c", "user.name=Agent", "-c", "user.email=a@b.invalid",
          "commit", "-q", "-am", "work")).orThrow();
    });
    crashedAttempt("docs", attempt -> {});
    // the crash came between removing the worktrees and deleting their branches
    TestRepo.exec(root.resolve("mirror.git"), Map.of(), List.of("worktree", "remove", "--force",
        root.resolve("worktrees/r1/core-e1").toString())).orThrow();
    TestRepo.exec(root.resolve("mirror.git"), Map.of(), List.of("worktree", "remove", "--force",
        root.resolve("worktrees/r1/docs-e1").toString())).orThrow();

    startWorker();

    assertThat(mirrorBranches()).contains("lanes-archive/r1/core/e1")
        .doesNotContain("lanes-work/r1/core/e1", "lanes-work/r1/docs/e1", "lanes-archive/r1/docs/e1");
    assertThat(mirror("show", "lanes-archive/r1/core/e1:core/file.txt")).isEqualTo("committed");
    assertThat(onlyKept().reason()).contains("had lost its worktree");
  }

  @Test
  void checkoutThatNeverFinishedIsRemoved() {
    Path wt = crashedAttempt("core", attempt -> TestRepo.exec(root.resolve("mirror.git"), Map.of(),
        List.of("worktree", "lock", "--reason", "initializing", attempt.worktree().toString())).orThrow());

    startWorker();

    assertThat(wt).doesNotExist();
    assertThat(WorkDir.listKept(root)).isEmpty();
    assertThat(mirrorBranches()).doesNotContain("lanes-work/r1/core/e1");
  }

  @Test
  void workerKilledWithSigkillMidTaskIsRecoveredByTheNextOne() throws Exception {
    Path pidFile = dir.resolve("agent.pid");
    String script = "echo killed mid-task > core/file.txt && echo draft > core/draft.txt && echo $$ > " + pidFile
        + " && exec sleep 300";
    long agent;
    try (WorkerProcess child = WorkerProcess.start(dir, "run", root.toString(), remote.url(), base, script)) {
      child.awaitLine("started");
      Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(pidFile)
          && !Files.readString(pidFile).isBlank());
      agent = Long.parseLong(Files.readString(pidFile).strip());

      child.kill();
    }
    // The agent runs in a session of its own and outlives the JVM that started it; it is ended here so that it
    // writes nothing more.
    ProcessHandle.of(agent).ifPresent(ProcessHandle::destroyForcibly);
    Path wt = root.resolve("worktrees/r1/core-e1");
    assertThat(wt.resolve("core/draft.txt")).as("the worktree the killed worker left").exists();

    startWorker();

    assertThat(wt).doesNotExist();
    assertThat(mirror("show", "lanes-archive/r1/core/e1:core/file.txt")).isEqualTo("killed mid-task");
    assertThat(mirror("show", "lanes-archive/r1/core/e1:core/draft.txt")).isEqualTo("draft");
    assertThat(onlyKept().reason()).startsWith("archived after a crash");
    assertThat(mirrorBranches()).doesNotContain("lanes-work/r1/core/e1");
  }

  private interface Changes {
    void make(WorkDir.Attempt attempt) throws IOException;
  }

  /** Sets an attempt up exactly as a task run does, lets the "agent" change it, and lets it go without an end. */
  private Path crashedAttempt(String task, Changes changes) {
    try (WorkDir work = WorkDir.open(root, remote.url(), Clock.systemUTC())) {
      TaskOffered offer = TestRepo.offer(RUN, task, "Do " + task, "p", List.of("true"), Duration.ofSeconds(30),
          Optional.empty(), List.of(), base);
      WorkDir.Attempt attempt = work.prepare(offer);
      changes.make(attempt);
      return attempt.worktree();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private void startWorker() {
    worker = Worker.start(bus, config, Clock.systemUTC());
  }

  private WorkDir.Kept onlyKept() {
    List<WorkDir.Kept> kept = WorkDir.listKept(root);
    assertThat(kept).hasSize(1);
    return kept.get(0);
  }

  private String mirror(String... args) {
    return TestRepo.exec(root.resolve("mirror.git"), Map.of(), List.of(args)).orThrow();
  }

  private List<String> mirrorBranches() {
    return mirror("for-each-ref", "--format=%(refname:strip=2)", "refs/heads/").lines().toList();
  }

  private static void write(Path worktree, String path, String content) throws IOException {
    Path file = worktree.resolve(path);
    Files.createDirectories(file.getParent());
    Files.writeString(file, content);
  }
}
