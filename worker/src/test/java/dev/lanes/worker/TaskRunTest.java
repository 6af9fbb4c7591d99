package dev.lanes.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.bus.MemoryBus;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskResult.Outcome;
import dev.lanes.protocol.Topics;
import dev.lanes.worker.git.Mirror;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One granted attempt, run directly: a real user repository as the remote, a real mirror and worktree in the worker's
 * own directory, scripted shell agents. The result is read from the bus as the lead would read it.
 */
class TaskRunTest {
  private static final String RUN = "r1";

  @TempDir Path dir;
  private TestRepo remote;
  private String base;
  private Path workDir;
  private MemoryBus bus;
  private TestRepo.Recorder reports;
  private Worker.Config config;
  private WorkDir work;
  private Mirror mirror;

  @BeforeEach
  void setUp() {
    remote = TestRepo.sample(dir.resolve("remote"));
    base = remote.rev("main");
    workDir = dir.resolve("work");
    bus = new MemoryBus();
    reports = new TestRepo.Recorder(bus, Topics.REPORTS);
    config = new Worker.Config("w1", "host", List.of("java"), 1, remote.url(), workDir, Duration.ofMinutes(5),
        Map.of());
    work = WorkDir.open(workDir, remote.url(), Clock.systemUTC());
    mirror = work.mirror();
  }

  @AfterEach
  void userRepositoryIsUntouched() {
    work.close();
    bus.close();
    assertThat(remote.headRef()).isEqualTo("refs/heads/main");
    assertThat(remote.rev("main")).isEqualTo(base);
    assertThat(remote.status()).isEmpty();
    assertThat(remote.read("core/file.txt")).isEqualTo("one\ntwo\nthree\n");
  }

  @Test
  void passedAttemptPushesOneCommitOnTheBaseAndRemovesItsWorktree() {
    TaskOffered offer = offer("core", "echo changed > core/file.txt", Optional.of("grep -q changed core/file.txt"));

    TaskResult result = run(offer);

    assertThat(result.outcome()).as(result.toString()).isEqualTo(Outcome.PASSED);
    assertThat(result.error()).isEmpty();
    assertThat(result.worker()).isEqualTo("w1");
    assertThat(result.epoch()).isEqualTo(1);
    assertThat(result.branch()).isEqualTo(offer.branch());
    assertThat(result.agentExit()).isZero();
    assertThat(result.verifyExit()).isZero();
    assertThat(result.changedFiles()).containsExactly("core/file.txt");
    String commit = result.commit().orElseThrow();
    assertThat(commit).isNotEqualTo(base);
    assertThat(remote.rev(offer.branch())).as("pushed to the remote").isEqualTo(commit);
    assertThat(remote.parents(commit)).containsExactly(base);
    assertThat(remote.show(commit, "core/file.txt")).isEqualTo("changed\n");
    assertThat(remote.show(commit, "docs/README.md")).isEqualTo("# Sample\n");
    assertThat(remote.git("log", "-1", "--format=%an%n%B", commit))
        .startsWith("Lanes worker\nDo core")
        .contains("Lanes-Task: core", "Lanes-Run: r1", "Lanes-Worker: w1");
    assertThat(worktree(offer)).doesNotExist();
    assertThat(mirrorHasBranch(offer.branch())).as("the local branch goes with the worktree").isFalse();
    assertThat(workDir.resolve("logs/r1/core-e1/agent.log")).exists();
  }

  @Test
  void agentThatCommitsByItselfStillHasItsWorkPushedAndReported() {
    TaskOffered offer = offer("core", "echo changed > core/file.txt && git add -A"
        + " && git -c user.name=agent -c user.email=agent@localhost commit -q -m 'by the agent'", Optional.empty());

    TaskResult result = run(offer);

    assertThat(result.outcome()).as(result.toString()).isEqualTo(Outcome.PASSED);
    assertThat(result.changedFiles()).containsExactly("core/file.txt");
    String commit = result.commit().orElseThrow();
    assertThat(commit).isNotEqualTo(base);
    assertThat(remote.rev(offer.branch())).isEqualTo(commit);
    assertThat(remote.show(commit, "core/file.txt")).isEqualTo("changed\n");
  }

  @Test
  void phasesAreReportedInOrder() {
    TaskOffered offer = offer("core", "echo changed > core/file.txt", Optional.of("true"));

    run(offer);

    assertThat(reports.all(Heartbeat.class)).extracting(Heartbeat::phase)
        .containsExactly("setup", "agent", "commit", "verify", "push");
    assertThat(reports.all(Heartbeat.class)).allSatisfy(h -> {
      assertThat(h.task()).isEqualTo("core");
      assertThat(h.epoch()).isEqualTo(1);
      assertThat(h.worker()).isEqualTo("w1");
    });
  }

  @Test
  void agentAndVerifyGetTheTaskInTheirEnvironment() {
    TaskOffered offer = TestRepo.offer(RUN, "core", "Do core", "the prompt", List.of("sh", "-c",
            "mkdir -p out && env | grep '^LANES_' > out/lanes-env.txt && printf %s \"$LANES_OWNS\" > out/owns.txt"
                + " && pwd -P > out/cwd.txt"),
        Duration.ofSeconds(30), Optional.of("test \"$LANES_TASK\" = core && test \"$LANES_EPOCH\" = 1"), List.of(),
        base);

    TaskResult result = run(offer);

    assertThat(result.outcome()).as(result.toString()).isEqualTo(Outcome.PASSED);
    String commit = result.commit().orElseThrow();
    assertThat(remote.show(commit, "out/lanes-env.txt").lines()).contains(
        "LANES_RUN=r1",
        "LANES_PLAN=sample",
        "LANES_TASK=core",
        "LANES_EPOCH=1",
        "LANES_TITLE=Do core",
        "LANES_PROMPT=the prompt",
        "LANES_WORKTREE=" + worktree(offer),
        "LANES_BASE_COMMIT=" + base,
        "LANES_BRANCH=" + offer.branch(),
        "LANES_WORKER=w1");
    assertThat(remote.show(commit, "out/owns.txt")).isEqualTo("core/\nout/");
    assertThat(Path.of(remote.show(commit, "out/cwd.txt").strip())).isEqualTo(realPath(workDir).resolve("worktrees/r1/core-e1"));
  }

  @Test
  void promptWithShellMetacharactersIsOneLiteralArgument() {
    String prompt = "it's $(touch pwned) `touch pwned2`; rm -rf / | echo \"$1\" \\ & {task}\nsecond line $HOME";
    TaskOffered offer = TestRepo.offer(RUN, "core", "Do core", prompt,
        List.of("sh", "-c", "mkdir -p out && printf %s \"$1\" > out/prompt.txt && printf %s \"$#\" > out/count.txt",
            "sh", "{prompt}"),
        Duration.ofSeconds(30), Optional.empty(), List.of(), base);

    TaskResult result = run(offer);

    assertThat(result.outcome()).as(result.toString()).isEqualTo(Outcome.PASSED);
    String commit = result.commit().orElseThrow();
    assertThat(remote.show(commit, "out/prompt.txt")).startsWith(prompt + "\n\n").isEqualTo(TaskPrompt.build(offer));
    assertThat(remote.show(commit, "out/count.txt")).isEqualTo("1");
    assertThat(result.changedFiles()).as("no command in the prompt ran").containsExactly("out/count.txt",
        "out/prompt.txt");
  }

  @Test
  void placeholdersAreReplacedInsideAnElement() {
    TaskOffered offer = TestRepo.offer(RUN, "core", "Do core", "p",
        List.of("sh", "-c", "mkdir -p out && printf %s \"$1\" > out/args.txt", "sh", "task={task} at={worktree}"),
        Duration.ofSeconds(30), Optional.empty(), List.of(), base);

    TaskResult result = run(offer);

    assertThat(remote.show(result.commit().orElseThrow(), "out/args.txt"))
        .isEqualTo("task=core at=" + worktree(offer));
  }

  @Test
  void substitute_replacementIsTakenLiterally() {
    assertThat(CommandAdapter.substitute("a{prompt}b{task}c{nope}", Map.of("prompt", "$1 \\ $", "task", "{prompt}")))
        .isEqualTo("a$1 \\ $b{prompt}c{nope}");
  }

  @Test
  void agentFailureKeepsTheWorktreeAndPushesNothing() {
    TaskOffered offer = offer("core", "echo partial > core/file.txt; echo giving up; exit 3", Optional.of("true"));

    TaskResult result = run(offer);

    assertThat(result.outcome()).isEqualTo(Outcome.AGENT_FAILED);
    assertThat(result.agentExit()).isEqualTo(3);
    assertThat(result.agentTail()).contains("giving up");
    assertThat(result.error()).hasValueSatisfying(e -> assertThat(e).contains("exited with 3"));
    assertThat(result.commit()).isEmpty();
    assertThat(result.changedFiles()).isEmpty();
    assertThat(result.verifyExit()).as("verify does not run").isEqualTo(-1);
    assertThat(remote.hasBranch(offer.branch())).isFalse();
    assertThat(worktree(offer).resolve("core/file.txt")).as("kept for a person to look at").hasContent("partial");
    assertThat(workDir.resolve("logs/r1/core-e1/agent.log")).content().contains("giving up");
    assertThat(result.kept()).as("where a person finds it, for the lead to pass on").hasValueSatisfying(k ->
        assertThat(k).startsWith("on ").contains(": logs ").contains("logs/r1/core-e1, worktree ")
            .endsWith(worktree(offer).getFileName().toString()));
  }

  @Test
  void verifyFailurePushesNothing() {
    TaskOffered offer = offer("core", "echo changed > core/file.txt",
        Optional.of("echo 'Tests run: 2, Failures: 1'; exit 4"));

    TaskResult result = run(offer);

    assertThat(result.outcome()).isEqualTo(Outcome.VERIFY_FAILED);
    assertThat(result.agentExit()).isZero();
    assertThat(result.verifyExit()).isEqualTo(4);
    assertThat(result.verifyTail()).contains("Tests run: 2, Failures: 1");
    assertThat(result.error()).hasValueSatisfying(e -> assertThat(e).contains("verify exited with 4"));
    assertThat(remote.hasBranch(offer.branch())).isFalse();
    assertThat(worktree(offer)).exists();
  }

  @Test
  void verifyFailureNamesNoCommit() {
    TaskResult result = run(offer("core", "echo changed > core/file.txt", Optional.of("exit 1")));

    assertThat(result.outcome()).isEqualTo(Outcome.VERIFY_FAILED);
    assertThat(result.commit()).isEmpty();
  }

  @Test
  void agentThatChangesNothingPassesWithTheBaseCommit() {
    TaskOffered offer = offer("core", "echo looked around", Optional.empty());

    TaskResult result = run(offer);

    assertThat(result.outcome()).isEqualTo(Outcome.PASSED);
    assertThat(result.commit()).contains(base);
    assertThat(result.changedFiles()).isEmpty();
    assertThat(result.agentTail()).isEqualTo("looked around");
    assertThat(remote.hasBranch(offer.branch())).as("nothing to push").isFalse();
    assertThat(reports.all(Heartbeat.class)).extracting(Heartbeat::phase).doesNotContain("push");
    assertThat(worktree(offer)).doesNotExist();
  }

  @Test
  void agentTimeoutIsAnAgentFailure() {
    TaskOffered offer = TestRepo.offer(RUN, "core", "Do core", "p", List.of("sh", "-c", "echo working; sleep 30"),
        Duration.ofSeconds(1), Optional.empty(), List.of(), base);

    TaskResult result = run(offer);

    assertThat(result.outcome()).isEqualTo(Outcome.AGENT_FAILED);
    assertThat(result.error()).hasValueSatisfying(e -> assertThat(e).contains("timed out"));
    assertThat(result.agentExit()).isEqualTo(-1);
    assertThat(result.agentTail()).as("the shell may report the killed sleep after it").startsWith("working");
    assertThat(remote.hasBranch(offer.branch())).isFalse();
  }

  @Test
  void unknownBaseCommitIsAnError() {
    String missing = "0123456789abcdef0123456789abcdef01234567";
    TaskOffered offer = TestRepo.offer(RUN, "core", "Do core", "p", List.of("true"), Duration.ofSeconds(30),
        Optional.empty(), List.of(), missing);

    TaskResult result = run(offer);

    assertThat(result.outcome()).isEqualTo(Outcome.ERROR);
    assertThat(result.error()).hasValueSatisfying(e -> assertThat(e).contains(missing));
    assertThat(result.commit()).isEmpty();
  }

  @Test
  void baseCommitOffTheDefaultBranchIsFound() {
    remote.git("checkout", "-q", "-b", "feature");
    String feature = remote.write("core/file.txt", "feature\n").commitAll("feature");
    remote.git("checkout", "-q", "main");
    TaskOffered offer = TestRepo.offer(RUN, "core", "Do core", "p",
        List.of("sh", "-c", "cat core/file.txt > core/copy.txt"), Duration.ofSeconds(30), Optional.empty(), List.of(),
        feature);

    TaskResult result = run(offer);

    assertThat(result.outcome()).as(result.toString()).isEqualTo(Outcome.PASSED);
    assertThat(remote.parents(result.commit().orElseThrow())).containsExactly(feature);
    assertThat(remote.show(result.commit().orElseThrow(), "core/copy.txt")).isEqualTo("feature\n");
  }

  @Test
  void findingsDirectoryIsNeverCommitted() {
    TaskOffered offer = offer("core", "mkdir -p .lanes && echo '{}' > .lanes/findings.json && echo x > core/file.txt",
        Optional.empty());

    TaskResult result = run(offer);

    assertThat(result.outcome()).as(result.toString()).isEqualTo(Outcome.PASSED);
    assertThat(result.changedFiles()).containsExactly("core/file.txt");
    assertThat(remote.git("ls-tree", "-r", "--name-only", result.commit().orElseThrow()).lines())
        .noneMatch(p -> p.startsWith(".lanes"));
  }

  @Test
  void renamesAndUnusualNamesAreListedExactly() {
    TaskOffered offer = offer("core", "mv core/file.txt 'core/a b ü\"q.txt' && echo new > 'core/-dash'",
        Optional.empty());

    TaskResult result = run(offer);

    assertThat(result.outcome()).as(result.toString()).isEqualTo(Outcome.PASSED);
    assertThat(result.changedFiles()).containsExactlyInAnyOrder("core/a b ü\"q.txt", "core/file.txt", "core/-dash");
  }

  @Test
  void laterTaskStartsFromACommitPushedAfterTheMirrorWasMade() {
    TaskResult first = run(offer("core", "echo first > core/file.txt", Optional.empty()));
    String landed = first.commit().orElseThrow();
    TaskOffered next = TestRepo.offer(RUN, "docs", "Do docs", "p",
        List.of("sh", "-c", "mkdir -p out && cat core/file.txt > out/seen.txt"), Duration.ofSeconds(30),
        Optional.empty(), List.of(), landed);

    TaskResult result = run(next);

    assertThat(result.outcome()).as(result.toString()).isEqualTo(Outcome.PASSED);
    assertThat(remote.parents(result.commit().orElseThrow())).containsExactly(landed);
    assertThat(remote.show(result.commit().orElseThrow(), "out/seen.txt")).isEqualTo("first\n");
  }

  private TaskOffered offer(String task, String script, Optional<String> verify) {
    return TestRepo.offer(RUN, task, "Do " + task, "Please do " + task, List.of("sh", "-c", script),
        Duration.ofSeconds(30), verify, List.of(), base);
  }

  private TaskResult run(TaskOffered offer) {
    new TaskRun(offer, config, work, bus, Clock.systemUTC()).run();
    return reports.awaitFirst(TaskResult.class, r -> r.task().equals(offer.task()) && r.run().equals(offer.run()));
  }

  private Path worktree(TaskOffered offer) {
    return workDir.resolve("worktrees").resolve(offer.run()).resolve(offer.task() + "-e" + offer.epoch());
  }

  private boolean mirrorHasBranch(String branch) {
    return TestRepo.exec(mirror.dir(), Map.of(), List.of("show-ref", "--verify", "--quiet", "refs/heads/" + branch))
        .exit() == 0;
  }

  private static Path realPath(Path p) {
    try {
      return p.toRealPath();
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
  }
}
