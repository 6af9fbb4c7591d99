package dev.lanes.coordinator;

import dev.lanes.testkit.GitRepo;
import dev.lanes.testkit.MovableClock;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.lanes.bus.Bus;
import dev.lanes.bus.MemoryBus;
import dev.lanes.protocol.ActionRefused;
import dev.lanes.protocol.ActionTaken;
import dev.lanes.protocol.BudgetRequested;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.LeadServing;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.PlanRejected;
import dev.lanes.protocol.PlanSubmitted;
import dev.lanes.protocol.PlanParser;
import dev.lanes.protocol.RunBudget;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.TaskCancelled;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskRef;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskResult.Outcome;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.UsageRecorded;
import dev.lanes.protocol.Topics;
import dev.lanes.protocol.WorkerStatus;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A lead on an in-memory bus and a real repository. The test plays the workers: it reads offers and grants from the
 * work topic, and publishes claims, heartbeats and results, pushing real commits into the repository for the lead
 * to land.
 *
 * <p>Absence ("no second grant", "the result was ignored") is proven without sleeping: the lead handles reports one
 * at a time in arrival order, so once it has answered a later report (a heartbeat with a new phase, or a claim) it has
 * handled every earlier one; and a sentinel published after that on a topic arrives after everything before it.
 */
class LeadTest {
  private static final Duration PATIENCE = Duration.ofSeconds(10);
  private static final String TARGET = "lanes/sample";

  @TempDir Path dir;
  private GitRepo repo;
  private String base;
  private MemoryBus bus;
  private Recorder work;
  private Recorder events;
  private Lead lead;
  private final AtomicInteger barriers = new AtomicInteger();

  @BeforeEach
  void setUp() {
    repo = GitRepo.sample(dir.resolve("repo"));
    base = repo.rev("main");
    bus = new MemoryBus();
    work = new Recorder(bus, Topics.WORK);
    events = new Recorder(bus, Topics.EVENTS);
    lead = Lead.start(bus, repo.dir(), Clock.systemUTC(), Lead.Settings.daemon().withMaxAttempts(1));
    announceWorkers();
  }

  /** The workers this test plays announce themselves, as real ones do: the lead ignores claims from strangers. */
  private void announceWorkers() {
    lead.awaitActive(PATIENCE);
    for (String worker : List.of("w1", "w2", "w-future")) {
      bus.publish(new WorkerStatus(worker, "host", List.of(), 4, 0));
    }
    await().atMost(PATIENCE).until(() -> lead.knows("w1") && lead.knows("w2") && lead.knows("w-future"));
  }

  @AfterEach
  void tearDown() {
    lead.close();
    bus.close();
    assertThat(repo.headRef()).isEqualTo("refs/heads/main");
    assertThat(repo.rev("main")).as("the user's branch never moves").isEqualTo(base);
    assertThat(repo.status()).as("the user's working tree is never touched").isEmpty();
  }

  @Test
  void onlyTasksWithoutDependenciesAreOfferedFirst() {
    Lead.RunHandle run = lead.submit(plan("""
        - {id: core, prompt: p, owns: [core/]}
        - {id: docs, prompt: p, owns: [docs/], after: [core]}
        - {id: api, prompt: p, owns: [api/]}
        """));
    work.sync();

    List<TaskOffered> offers = work.all(TaskOffered.class);
    assertThat(offers).extracting(TaskOffered::task).containsOnly("core", "api");
    assertThat(offers).allSatisfy(o -> {
      assertThat(o.run()).isEqualTo(run.id());
      assertThat(o.epoch()).isEqualTo(1);
      assertThat(o.baseCommit()).isEqualTo(base);
      assertThat(o.branch()).isEqualTo(TaskRef.branch(run.id(), o.task(), 1));
    });
    assertThat(run.baseCommit()).isEqualTo(base);
    assertThat(repo.rev(TARGET)).as("the target is created at the base").isEqualTo(base);
    assertThat(row(run, "docs").state()).isEqualTo(TaskState.WAITING);
  }

  @Test
  void firstClaimWinsAndLaterClaimsAreNotGranted() {
    Lead.RunHandle run = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"));
    TaskOffered offer = work.awaitFirst(TaskOffered.class, o -> o.task().equals("core"));

    bus.publish(new ClaimRequested(run.id(), "core", offer.epoch() + 1, "w-future"));
    bus.publish(new ClaimRequested(run.id(), "core", offer.epoch(), "w1"));
    bus.publish(new ClaimRequested(run.id(), "core", offer.epoch(), "w2"));
    barrier(offer, "w1");
    work.sync();

    assertThat(work.all(ClaimGranted.class))
        .containsExactly(new ClaimGranted(run.id(), "core", offer.epoch(), "w1"));
    assertThat(row(run, "core").state()).isEqualTo(TaskState.RUNNING);
    assertThat(row(run, "core").worker()).isEqualTo("w1");
  }

  @Test
  void resultFromAnotherWorkerOrAnotherEpochIsIgnored() {
    Lead.RunHandle run = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"));
    TaskOffered offer = grant(run, "core", "w1");
    String commit = repo.commitOnto(offer.baseCommit(), offer.branch(), Map.of("core/file.txt", "changed\n"));

    bus.publish(passed(offer, "w2", commit));
    bus.publish(new TaskResult(run.id(), "core", offer.epoch() + 1, "w1", Outcome.PASSED, offer.branch(),
        Optional.of(commit), List.of("core/file.txt"), 0, -1, "", "", 1, Optional.empty(), Optional.empty()));
    bus.publish(new TaskResult(run.id(), "nope", offer.epoch(), "w1", Outcome.PASSED, offer.branch(),
        Optional.of(commit), List.of("core/file.txt"), 0, -1, "", "", 1, Optional.empty(), Optional.empty()));
    barrier(offer, "w1");

    assertThat(row(run, "core").state()).isEqualTo(TaskState.RUNNING);
    assertThat(repo.rev(TARGET)).isEqualTo(base);
    assertThat(run.done()).isNotDone();

    bus.publish(passed(offer, "w1", commit));
    awaitUpdate("core", TaskState.LANDED);
    assertThat(repo.rev(TARGET)).isEqualTo(commit);
  }

  @Test
  void passedResultLandsOnTheTarget() throws Exception {
    Lead.RunHandle run = lead.submit(plan("- {id: core, title: Change core, prompt: p, owns: [core/]}"));
    TaskOffered offer = grant(run, "core", "w1");
    String commit = repo.commitOnto(offer.baseCommit(), offer.branch(), Map.of("core/file.txt", "changed\n"));

    bus.publish(passed(offer, "w1", commit));
    RunReport report = run.done().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

    assertThat(repo.rev(TARGET)).as("a fast-forward: the target had not moved").isEqualTo(commit);
    assertThat(repo.show(TARGET, "core/file.txt")).isEqualTo("changed\n");
    assertThat(report.allLanded()).isTrue();
    assertThat(report.target()).isEqualTo(TARGET);
    assertThat(report.targetCommit()).isEqualTo(commit);
    RunReport.Row row = report.tasks().get(0);
    assertThat(row.task()).isEqualTo("core");
    assertThat(row.state()).isEqualTo(TaskState.LANDED);
    assertThat(row.worker()).isEqualTo("w1");
    assertThat(row.attempts()).isEqualTo(1);
    assertThat(commit).startsWith(row.commit());
    assertThat(row.commit()).isNotEmpty();
  }

  @Test
  void eventsTellTheRunFromStartToFinish() throws Exception {
    Lead.RunHandle run = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"));
    TaskOffered offer = grant(run, "core", "w1");
    String commit = repo.commitOnto(offer.baseCommit(), offer.branch(), Map.of("core/file.txt", "changed\n"));
    bus.publish(new Heartbeat(run.id(), "core", offer.epoch(), "w1", "agent", "sh -c true"));
    bus.publish(passed(offer, "w1", commit));
    run.done().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
    events.sync();

    List<Message> all = events.all(Message.class);
    assertThat(all.get(0)).as("the lead records first that it serves, for lanes status")
        .isInstanceOfSatisfying(LeadServing.class, l -> assertThat(l.lead()).startsWith("lead-" + ProcessHandle.current().pid()));
    List<Message> mine = all.subList(1, all.size());
    assertThat(mine.get(0)).usingRecursiveComparison().ignoringFields("definition", "startedAt", "holder")
        .isEqualTo(new RunStarted(run.id(), "sample", TARGET, base, List.of("core"), Optional.empty()));
    assertThat(((RunStarted) mine.get(0)).holder()).hasValueSatisfying(h -> assertThat(h).contains("submitted by"));
    assertThat(((RunStarted) mine.get(0)).startedAt()).isPresent();
    assertThat(((RunStarted) mine.get(0)).definition()).map(Plan::name).contains("sample");
    assertThat(mine.get(mine.size() - 1)).isEqualTo(new RunFinished(run.id(), TARGET, List.of("core"), List.of()));
    assertThat(events.all(TaskUpdate.class)).extracting(TaskUpdate::state).containsExactly(TaskState.OFFERED,
        TaskState.RUNNING, TaskState.RUNNING, TaskState.QUEUED, TaskState.LANDING, TaskState.LANDED);
    assertThat(events.all(TaskUpdate.class)).allSatisfy(u -> {
      assertThat(u.run()).isEqualTo(run.id());
      assertThat(u.task()).isEqualTo("core");
      assertThat(u.epoch()).isEqualTo(1);
    });
    assertThat(events.all(TaskUpdate.class).get(2).detail()).isEqualTo("agent: sh -c true");
  }

  @Test
  void dependentTaskStartsFromTheTargetTipOnceItsDependencyLanded() throws Exception {
    Lead.RunHandle run = lead.submit(plan("""
        - {id: core, prompt: p, owns: [core/]}
        - {id: api, prompt: p, owns: [api/]}
        - {id: docs, prompt: p, owns: [docs/], after: [core]}
        """));
    TaskOffered api = grant(run, "api", "w1");
    TaskOffered core = grant(run, "core", "w2");
    String apiCommit = repo.commitOnto(api.baseCommit(), api.branch(), Map.of("api/Api.java", "class Api {}\n"));
    String coreCommit = repo.commitOnto(core.baseCommit(), core.branch(), Map.of("core/file.txt", "core done\n"));

    bus.publish(passed(api, "w1", apiCommit));
    awaitUpdate("api", TaskState.LANDED);
    work.sync();
    assertThat(work.all(TaskOffered.class)).extracting(TaskOffered::task).doesNotContain("docs");

    bus.publish(passed(core, "w2", coreCommit));
    TaskOffered docs = work.awaitFirst(TaskOffered.class, o -> o.task().equals("docs"));

    String tip = repo.rev(TARGET);
    assertThat(repo.parents(tip)).as("core was merged onto api's landing").containsExactly(apiCommit, coreCommit);
    assertThat(docs.baseCommit()).isEqualTo(tip);
    assertThat(repo.show(docs.baseCommit(), "core/file.txt")).isEqualTo("core done\n");
    assertThat(repo.show(docs.baseCommit(), "api/Api.java")).isEqualTo("class Api {}\n");

    bus.publish(new ClaimRequested(run.id(), "docs", docs.epoch(), "w1"));
    work.awaitFirst(ClaimGranted.class, g -> g.task().equals("docs"));
    String docsCommit = repo.commitOnto(docs.baseCommit(), docs.branch(), Map.of("docs/README.md", "# Documented\n"));
    bus.publish(passed(docs, "w1", docsCommit));

    RunReport report = run.done().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
    assertThat(report.allLanded()).isTrue();
    assertThat(repo.rev(TARGET)).isEqualTo(docsCommit);
    assertThat(repo.show(TARGET, "docs/README.md")).isEqualTo("# Documented\n");
    assertThat(repo.show(TARGET, "core/file.txt")).isEqualTo("core done\n");
  }

  @Test
  void failedTaskChangesNothingAndItsDependentsAreSkipped() throws Exception {
    Lead.RunHandle run = lead.submit(plan("""
        - {id: core, prompt: p, owns: [core/]}
        - {id: docs, prompt: p, owns: [docs/], after: [core]}
        - {id: more, prompt: p, owns: [more/], after: [docs]}
        """));
    TaskOffered offer = grant(run, "core", "w1");
    String commit = repo.commitOnto(offer.baseCommit(), offer.branch(), Map.of("core/file.txt", "broken\n"));

    bus.publish(new TaskResult(run.id(), "core", offer.epoch(), "w1", Outcome.AGENT_FAILED, offer.branch(),
        Optional.of(commit), List.of("core/file.txt"), 1, -1, "Tests run: 3\nFAILED: CoreTest", "", 5,
        Optional.of("agent exited with 1"), Optional.empty()));
    RunReport report = run.done().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

    assertThat(report.allLanded()).isFalse();
    assertThat(repo.rev(TARGET)).isEqualTo(base);
    assertThat(report.targetCommit()).isEqualTo(base);
    assertThat(report.tasks()).extracting(RunReport.Row::task, RunReport.Row::state).containsExactly(
        org.assertj.core.groups.Tuple.tuple("core", TaskState.FAILED),
        org.assertj.core.groups.Tuple.tuple("docs", TaskState.SKIPPED),
        org.assertj.core.groups.Tuple.tuple("more", TaskState.SKIPPED));
    assertThat(report.tasks().get(0).detail()).contains("agent exited with 1").contains("FAILED: CoreTest");
    assertThat(report.tasks().get(0).commit()).isEmpty();
    assertThat(report.tasks().get(1).detail()).contains("core");
    events.sync();
    assertThat(events.all(RunFinished.class))
        .containsExactly(new RunFinished(run.id(), TARGET, List.of(), List.of("core", "docs", "more")));
    work.sync();
    assertThat(work.all(TaskOffered.class)).extracting(TaskOffered::task).containsOnly("core");
  }

  @Test
  void conflictingCommitIsEvictedWithAFixAttemptFromTheNewTargetThenParkedAfterTheSecondEviction() throws Exception {
    restartLead(Lead.Settings.daemon().withMaxAttempts(3)); // a fix is an attempt
    Lead.RunHandle run = lead.submit(PlanParser.parse("""
        name: sample
        agent: {command: [sh, -c, "true"]}
        verify: test ! -e docs/broken
        tasks:
          - {id: first, prompt: p, owns: [core/]}
          - {id: second, prompt: Do the second part., owns: [docs/]}
        """, "plan.yaml"));
    TaskOffered first = grant(run, "first", "w1");
    TaskOffered second = grant(run, "second", "w2");
    String a = repo.commitOnto(first.baseCommit(), first.branch(), Map.of("core/file.txt", "one\nA\nthree\n"));
    String b = repo.commitOnto(second.baseCommit(), second.branch(), Map.of("docs/README.md", "# B\n"));

    bus.publish(passed(first, "w1", a));
    awaitUpdate("first", TaskState.LANDED);
    // Tasks own disjoint paths, so what second's change conflicts with was put on the target by someone else.
    String theirs = repo.commitOnto(a, TARGET, Map.of("docs/README.md", "# Theirs\n"));
    bus.publish(passed(second, "w2", b));
    TaskOffered fix = grant(run, "second", "w2", 2);

    assertThat(awaitUpdate("second", TaskState.OFFERED, 2).detail())
        .contains("evicted from the merge queue: merge conflict in docs/README.md").contains("fix attempt 1 of 1");
    assertThat(fix.baseCommit()).as("the fix starts from the target as it is now").isEqualTo(theirs);
    assertThat(fix.prompt()).startsWith("Do the second part.").contains("conflicted in: docs/README.md")
        .contains("+# B");
    assertThat(repo.rev(TARGET)).isEqualTo(theirs);

    String again = repo.commitOnto(fix.baseCommit(), fix.branch(), Map.of("docs/broken", "x\n"));
    bus.publish(passed(fix, "w2", again));
    RunReport report = run.done().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

    assertThat(row(report, "second").state()).isEqualTo(TaskState.PARKED);
    assertThat(row(report, "second").detail()).startsWith("needs a human: sent back 2 times")
        .contains("verify failed on the merged tree: exit 1");
    assertThat(repo.rev(TARGET)).isEqualTo(theirs);
  }

  @Test
  void failingVerifyIsTriedAgainWithItsOutputInThePromptAndCountsAsAnAttempt() throws Exception {
    restartLead(Lead.Settings.daemon().withMaxAttempts(2));
    Lead.RunHandle run = lead.submit(plan("- {id: core, prompt: Fix core., owns: [core/]}"));
    TaskOffered offer = grant(run, "core", "w1");

    bus.publish(verifyFailed(offer, 1, "Tests run: 3\nFAILED: CoreTest.rename"));
    TaskOffered retry = grant(run, "core", "w1", 2);
    bus.publish(verifyFailed(retry, 1, "FAILED again"));
    RunReport report = run.done().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

    assertThat(retry.prompt()).startsWith("Fix core.").contains("FAILED: CoreTest.rename");
    assertThat(row(report, "core").state()).isEqualTo(TaskState.PARKED);
    assertThat(row(report, "core").detail()).startsWith("verify exited with 1 | FAILED again; no attempt left: 2 of 2"
        + " used (--max-attempts 2: 1 first, 2 after a failure); earlier failures: attempt 1: verify exited with 1");
    assertThat(offeredEpochs("core")).as("two attempts in all, the verify's retry one of them").containsExactly(1, 2);
  }

  @Test
  void maxAttemptsIsEveryAttemptWhateverEndedIt() throws Exception {
    restartLead(Lead.Settings.daemon().withLease(Duration.ofSeconds(1)).withMaxAttempts(3));
    Lead.RunHandle run = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"));
    TaskOffered first = grant(run, "core", "w1");
    bus.publish(verifyFailed(first, 1, "red"));
    grant(run, "core", "w1", 2); // and then no heartbeat: its lease runs out
    TaskOffered third = grant(run, "core", "w2", 3);
    bus.publish(new TaskResult(run.id(), "core", third.epoch(), "w2", Outcome.AGENT_FAILED, third.branch(),
        Optional.empty(), List.of(), 1, -1, "", "", 5, Optional.of("agent exited with 1"), Optional.empty()));
    RunReport report = run.done().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

    assertThat(row(report, "core").state()).isEqualTo(TaskState.PARKED);
    assertThat(row(report, "core").detail()).startsWith("agent exited with 1; no attempt left: 3 of 3 used"
        + " (--max-attempts 3: 1 first, 2 after a failure, 3 after a failure)")
        .contains("attempt 1: verify exited with 1").contains("attempt 2: the lease of w1 ran out");
    assertThat(offeredEpochs("core")).containsExactly(1, 2, 3);
  }

  @Test
  void outcomesNoRetryCanChangeEndTheTaskAtOnceSayingWhy() throws Exception {
    restartLead(Lead.Settings.daemon().withMaxAttempts(3));
    Lead.RunHandle run = lead.submit(plan("""
        - {id: verify, prompt: p, owns: [verify/]}
        - {id: agent, prompt: p, owns: [agent/]}
        - {id: start, prompt: p, owns: [start/]}
        - {id: owns, prompt: p, owns: [owns/]}
        """));
    TaskOffered verify = grant(run, "verify", "w1");
    TaskOffered agent = grant(run, "agent", "w1");
    TaskOffered start = grant(run, "start", "w2");
    TaskOffered owns = grant(run, "owns", "w2");
    bus.publish(verifyFailed(verify, 127, "sh: 1: ./tests.sh: not found"));
    bus.publish(new TaskResult(run.id(), "agent", agent.epoch(), "w1", Outcome.AGENT_FAILED, agent.branch(),
        Optional.empty(), List.of(), 127, -1, "sh: 1: claude: not found", "", 5, Optional.of("agent exited with 127"),
        Optional.empty()));
    bus.publish(new TaskResult(run.id(), "start", start.epoch(), "w2", Outcome.ERROR, start.branch(),
        Optional.empty(), List.of(), -1, -1, "", "", 5,
        Optional.of("cannot start claude in /w: not found on PATH (/usr/bin)"), Optional.empty()));
    bus.publish(new TaskResult(run.id(), "owns", owns.epoch(), "w2", Outcome.OWNERSHIP_VIOLATION, owns.branch(),
        Optional.empty(), List.of(), 0, -1, "", "", 5, Optional.of("changed 1 path(s) it does not own: x.txt"),
        Optional.empty()));
    RunReport report = run.done().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

    for (String task : List.of("verify", "agent", "start", "owns")) {
      assertThat(row(report, task).state()).as(task).isEqualTo(TaskState.PARKED);
      assertThat(row(report, task).detail()).as(task).contains("(not retried: ");
      assertThat(offeredEpochs(task)).as(task).containsExactly(1);
    }
    assertThat(row(report, "verify").detail()).contains("./tests.sh: not found")
        .contains("the verify command was not found (exit 127)");
    assertThat(row(report, "agent").detail()).contains("the agent's command was not found (exit 127) on w1");
    assertThat(row(report, "start").detail()).contains("the agent program cannot start on w2");
    assertThat(row(report, "owns").detail()).contains("an ownership violation is not retried");
  }

  @Test
  void passedResultWithoutChangesLandsNothing() throws Exception {
    Lead.RunHandle run = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"));
    TaskOffered offer = grant(run, "core", "w1");

    bus.publish(new TaskResult(run.id(), "core", offer.epoch(), "w1", Outcome.PASSED, offer.branch(),
        Optional.of(offer.baseCommit()), List.of(), 0, -1, "", "", 1, Optional.empty(), Optional.empty()));
    RunReport report = run.done().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

    assertThat(report.allLanded()).isTrue();
    assertThat(row(report, "core").commit()).isEmpty();
    assertThat(repo.rev(TARGET)).isEqualTo(base);
  }

  @Test
  void passedResultWhoseCommitIsMissingFails() throws Exception {
    Lead.RunHandle run = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"));
    TaskOffered offer = grant(run, "core", "w1");
    String neverPushed = "0123456789abcdef0123456789abcdef01234567";

    bus.publish(passed(offer, "w1", neverPushed));
    RunReport report = run.done().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

    assertThat(row(report, "core").state()).isEqualTo(TaskState.FAILED);
    assertThat(row(report, "core").detail()).contains(neverPushed);
    assertThat(repo.rev(TARGET)).isEqualTo(base);
  }

  /**
   * Proven by order: the lead handles a worker's announcement before the claim published after it, so a repeated
   * offer it causes is on the work topic before the grant that answers the claim.
   */
  @Test
  void newWorkerMakesTheLeadRepeatOpenOffers() {
    Lead.RunHandle run = lead.submit(plan("""
        - {id: core, prompt: p, owns: [core/]}
        - {id: docs, prompt: p, owns: [docs/]}
        """));
    work.sync();
    assertThat(work.all(TaskOffered.class)).hasSize(2);

    bus.publish(new WorkerStatus("w-new", "host", List.of(), 2, 0));
    bus.publish(new ClaimRequested(run.id(), "core", 1, "w1"));
    work.awaitFirst(ClaimGranted.class, g -> g.task().equals("core"));
    bus.publish(new WorkerStatus("w-new", "host", List.of(), 2, 0));
    bus.publish(new ClaimRequested(run.id(), "docs", 1, "w1"));
    work.awaitFirst(ClaimGranted.class, g -> g.task().equals("docs"));
    work.sync();

    List<String> sequence = work.all(Message.class).stream()
        .filter(m -> m instanceof TaskOffered || m instanceof ClaimGranted)
        .map(m -> m.getClass().getSimpleName() + " " + ((m instanceof TaskOffered o) ? o.task()
            : ((ClaimGranted) m).task()))
        .toList();
    assertThat(sequence).as("offers again for the new worker, not for a known one").containsExactly(
        "TaskOffered core", "TaskOffered docs",
        "TaskOffered core", "TaskOffered docs",
        "ClaimGranted core",
        "ClaimGranted docs");
  }

  @Test
  void submit_checkedOutTargetIsRefusedBeforeAnythingIsPublished() {
    Plan bad = PlanParser.parse("""
        name: sample
        target: main
        agent: {command: [sh, -c, "true"]}
        tasks:
          - {id: core, prompt: p, owns: [core/]}
        """, "bad.yaml");

    assertThatThrownBy(() -> lead.submit(bad))
        .isInstanceOf(LeadException.class)
        .hasMessageStartingWith("target:")
        .hasMessageContaining("main");

    Lead.RunHandle good = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"));
    work.sync();
    events.sync();
    assertThat(events.all(RunStarted.class)).extracting(RunStarted::run).containsExactly(good.id());
    assertThat(work.all(TaskOffered.class)).extracting(TaskOffered::run).containsOnly(good.id());
  }

  @Test
  void submit_unknownBaseIsRefused() {
    Plan bad = PlanParser.parse("""
        name: sample
        base: no-such-branch
        agent: {command: [sh, -c, "true"]}
        tasks:
          - {id: core, prompt: p, owns: [core/]}
        """, "bad.yaml");

    assertThatThrownBy(() -> lead.submit(bad))
        .isInstanceOf(LeadException.class)
        .hasMessageStartingWith("base:")
        .hasMessageContaining("no-such-branch");
    assertThat(repo.hasBranch(TARGET)).isFalse();
  }

  // ---- leases, attempts, takeover, submission ----

  @Test
  void leaseThatRunsOutEndsTheAttemptAndALateResultIsRejected() throws Exception {
    restartLead(Lead.Settings.daemon().withLease(Duration.ofSeconds(1)).withMaxAttempts(2));
    Lead.RunHandle run = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"));
    TaskOffered first = grant(run, "core", "w1");

    TaskOffered second = work.awaitFirst(TaskOffered.class, o -> o.task().equals("core") && o.epoch() == 2);
    assertThat(awaitUpdate("core", TaskState.OFFERED, 2).detail()).contains("the lease of w1 ran out");
    String late = repo.commitOnto(first.baseCommit(), first.branch(), Map.of("core/file.txt", "late\n"));
    bus.publish(passed(first, "w1", late));
    bus.publish(new ClaimRequested(run.id(), "core", 2, "w2"));
    work.awaitFirst(ClaimGranted.class, g -> g.task().equals("core") && g.epoch() == 2);
    String commit = repo.commitOnto(second.baseCommit(), second.branch(), Map.of("core/file.txt", "second\n"));
    bus.publish(passed(second, "w2", commit));
    RunReport report = run.done().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

    assertThat(report.allLanded()).isTrue();
    assertThat(repo.show(TARGET, "core/file.txt")).isEqualTo("second\n");
    assertThat(events.all(TaskUpdate.class).stream().filter(u -> u.state() == TaskState.LANDED)).hasSize(1);
  }

  @Test
  void taskFailingEveryAttemptIsParkedWithItsReasonsWhileOthersLand() throws Exception {
    restartLead(Lead.Settings.daemon().withMaxAttempts(2));
    Lead.RunHandle run = lead.submit(plan("""
        - {id: poison, prompt: p, owns: [core/]}
        - {id: api, prompt: p, owns: [api/]}
        """));
    for (int epoch = 1; epoch <= 2; epoch++) {
      TaskOffered offer = grant(run, "poison", "w1", epoch);
      bus.publish(new TaskResult(run.id(), "poison", epoch, "w1", Outcome.AGENT_FAILED, offer.branch(),
          Optional.empty(), List.of(), 139, -1, "Segmentation fault", "", 5, Optional.of("agent exited with 139"),
          Optional.empty()));
    }
    TaskOffered api = grant(run, "api", "w2");
    String commit = repo.commitOnto(api.baseCommit(), api.branch(), Map.of("api/file.txt", "api\n"));
    bus.publish(passed(api, "w2", commit));
    RunReport report = run.done().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

    assertThat(row(report, "poison").state()).isEqualTo(TaskState.PARKED);
    assertThat(row(report, "poison").detail()).startsWith("agent exited with 139 | Segmentation fault; no attempt left:"
        + " 2 of 2 used").contains("earlier failures: attempt 1: agent exited with 139");
    assertThat(row(report, "api").state()).isEqualTo(TaskState.LANDED);
    assertThat(work.all(TaskOffered.class).stream().filter(o -> o.task().equals("poison")).map(TaskOffered::epoch)
        .distinct()).as("attempts").containsExactly(1, 2);
  }

  @Test
  void secondLeadWaitsThenTakesOverAndFinishesTheRunFromTheLog() throws Exception {
    Lead.RunHandle run = lead.submit(plan(CORE_AND_API));
    TaskOffered core = grant(run, "core", "w1");
    work.awaitFirst(TaskOffered.class, o -> o.task().equals("api"));
    Lead second = Lead.start(bus, repo.dir(), Clock.systemUTC(), Lead.Settings.daemon().withMaxAttempts(1));
    assertThat(second.isActive()).as("one lead acts at a time").isFalse();

    lead.close();
    lead = second;
    second.awaitActive(PATIENCE);
    announceWorkers();

    // The new lead offers the same attempt again: a restart uses up none of the task's attempts.
    await().atMost(PATIENCE).until(() -> work.all(TaskOffered.class).stream().filter(o -> o.task().equals("api"))
        .count() >= 2);
    assertThat(work.all(TaskOffered.class).stream().filter(o -> o.task().equals("api")).map(TaskOffered::epoch))
        .containsOnly(1);
    TaskOffered api = work.awaitFirst(TaskOffered.class, o -> o.task().equals("api"));
    String coreCommit = repo.commitOnto(core.baseCommit(), core.branch(), Map.of("core/file.txt", "core\n"));
    bus.publish(passed(core, "w1", coreCommit));
    bus.publish(new ClaimRequested(run.id(), "api", 1, "w2"));
    work.awaitFirst(ClaimGranted.class, g -> g.task().equals("api"));
    String apiCommit = repo.commitOnto(api.baseCommit(), api.branch(), Map.of("api/file.txt", "api\n"));
    bus.publish(passed(api, "w2", apiCommit));

    RunFinished finished = events.awaitFirst(RunFinished.class, f -> f.run().equals(run.id()));
    assertThat(finished.landed()).containsExactlyInAnyOrder("core", "api");
    assertThat(repo.show(TARGET, "core/file.txt")).isEqualTo("core\n");
    assertThat(repo.show(TARGET, "api/file.txt")).isEqualTo("api\n");
  }

  @Test
  void leadTakingOverSendsItsGrantsAgainAndOffersAtOnceAGrantNoWorkerHolds() throws Exception {
    Lead.RunHandle run = lead.submit(plan(CORE_AND_API));
    TaskOffered core = grant(run, "core", "w1");
    TaskOffered api = grant(run, "api", "w2");
    restartLead(Lead.Settings.daemon().withMaxAttempts(1));

    // Both grants are recorded; either may never have left the lead that decided it.
    await().atMost(PATIENCE).until(() -> work.all(ClaimGranted.class).stream()
        .filter(g -> g.epoch() == 1 && (g.task().equals("core") || g.task().equals("api"))).count() == 4);
    // The roll call: w1 neither runs nor claims core (its claim was taken back), w2 runs api and a stale core.
    bus.publish(new WorkerStatus("w1", "host", List.of(), 4, 0, Optional.of(List.of())));
    TaskUpdate again = awaitUpdate("core", TaskState.OFFERED, 2);
    bus.publish(new WorkerStatus("w2", "host", List.of(), 4, 2, Optional.of(List.of(
        new WorkerStatus.Hold(run.id(), "api", 1, true), new WorkerStatus.Hold(run.id(), "core", 1, true)))));
    TaskCancelled stale = work.awaitFirst(TaskCancelled.class, c -> c.task().equals("core"));
    barrier(api, "w2");

    assertThat(again.detail()).isEqualTo("offered again: the grant to w1 never reached it (no attempt used)");
    assertThat(again.tally()).hasValueSatisfying(t -> assertThat(t.failures()).isZero());
    assertThat(work.awaitFirst(TaskOffered.class, o -> o.task().equals("core") && o.epoch() == 2).baseCommit())
        .as("the same work from the same commit").isEqualTo(core.baseCommit());
    assertThat(stale.epoch()).isEqualTo(1);
    assertThat(offeredEpochs("api")).as("an attempt a worker holds keeps running").containsExactly(1);

    // One attempt allowed, and the lost grant used none of it: the task still lands.
    TaskOffered second = grant(run, "core", "w1", 2);
    bus.publish(passed(second, "w1", repo.commitOnto(second.baseCommit(), second.branch(),
        Map.of("core/file.txt", "core\n"))));
    bus.publish(passed(api, "w2", repo.commitOnto(api.baseCommit(), api.branch(), Map.of("api/file.txt", "api\n"))));
    RunFinished finished = events.awaitFirst(RunFinished.class, f -> f.run().equals(run.id()));
    assertThat(finished.landed()).containsExactlyInAnyOrder("core", "api");
  }

  @Test
  void aWorkerThatLostAnAttemptItStartedEndsItAtOnceAndUsesIt() throws Exception {
    restartLead(Lead.Settings.daemon().withMaxAttempts(2));
    Lead.RunHandle run = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"));
    TaskOffered core = grant(run, "core", "w1");
    barrier(core, "w1"); // a heartbeat: w1 started the attempt

    bus.publish(new WorkerStatus("w1", "host", List.of(), 4, 0, Optional.of(List.of()))); // w1 was restarted

    assertThat(awaitUpdate("core", TaskState.OFFERED, 2).detail())
        .contains("after: w1 no longer holds the attempt (the worker was restarted)");
  }

  @Test
  void claimFromAWorkerThatNeverAnnouncedItselfIsSetAsideNotGranted() {
    Lead.RunHandle run = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"));
    TaskOffered offer = work.awaitFirst(TaskOffered.class, o -> o.task().equals("core"));

    bus.publish(new ClaimRequested(run.id(), "core", offer.epoch(), "stranger"));
    bus.publish(new ClaimRequested(run.id(), "core", offer.epoch(), "w1"));
    ClaimGranted granted = work.awaitFirst(ClaimGranted.class, g -> g.task().equals("core"));

    assertThat(granted.worker()).isEqualTo("w1");
    assertThat(bus.deadLetters()).singleElement().asString()
        .contains("claim from unknown worker \"stranger\": it never announced itself");
  }

  @Test
  void planSubmittedOnTheBusStartsARunOrIsRejectedWithTheReason() {
    Plan good = plan("- {id: core, prompt: p, owns: [core/]}");
    bus.publish(new PlanSubmitted("req-1", good, "tester"));
    events.awaitFirst(RunStarted.class, s -> s.run().equals("req-1"));
    work.awaitFirst(TaskOffered.class, o -> o.run().equals("req-1") && o.task().equals("core"));

    bus.publish(new PlanSubmitted("req-2", new Plan("bad", Optional.empty(), "main", good.tasks()), "tester"));
    PlanRejected rejected = events.awaitFirst(PlanRejected.class, r -> r.request().equals("req-2"));

    assertThat(rejected.problems()).singleElement().asString().contains("target: \"main\" is the branch checked out");
  }

  @Test
  void aFailedTasksDetailSaysWhereItsWorkerKeptIt() {
    Lead.RunHandle run = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"));
    TaskOffered offer = grant(run, "core", "w1");
    bus.publish(new TaskResult(run.id(), "core", offer.epoch(), "w1", Outcome.AGENT_FAILED, offer.branch(),
        Optional.empty(), List.of(), 3, -1, "boom\n", "", 1, Optional.of("agent exited with 3"), Optional.empty(),
        Optional.of("on host-1: logs /w/logs/x, worktree /w/worktrees/x\nforged line")));

    assertThat(awaitUpdate("core", TaskState.FAILED).detail()).isEqualTo("agent exited with 3 | boom; no attempt left:"
        + " 1 of 1 used (--max-attempts 1: 1 first) (kept on host-1: logs /w/logs/x, worktree /w/worktrees/x?forged"
        + " line)");
  }

  @Test
  void aSecondRunOnAHeldTargetIsRefusedNamingTheHolder() {
    Lead.RunHandle first = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"));
    Plan other = plan("- {id: docs, prompt: p, owns: [docs/]}");

    assertThatThrownBy(() -> lead.submit(other))
        .isInstanceOf(LeadException.class)
        .hasMessageStartingWith("target: \"" + TARGET + "\" is held by run " + first.id() + " since ")
        .as("since when, to the second")
        .hasMessageMatching("(?s).* since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ .*")
        .hasMessageContaining("submitted by lanes run")
        .hasMessageContaining("one run per target");
    work.sync();
    assertThat(work.all(TaskOffered.class)).extracting(TaskOffered::run).containsOnly(first.id());
  }

  @Test
  void theSamePlanSubmittedTwiceIsRecognisedAndRunOnce() {
    Plan plan = plan("- {id: core, prompt: p, owns: [core/]}");
    bus.publish(new PlanSubmitted("req-1", plan, "alice@a"));
    bus.publish(new PlanSubmitted("req-2", plan, "alice@a"));

    PlanRejected second = events.awaitFirst(PlanRejected.class, r -> r.request().equals("req-2"));

    assertThat(second.problems()).singleElement().asString()
        .startsWith("the same plan is already running as run req-1 since ")
        .contains("submitted by alice@a").endsWith("it is not started twice");
    events.sync();
    assertThat(events.all(RunStarted.class)).extracting(RunStarted::run).containsExactly("req-1");
  }

  @Test
  void aLeadThatTakesOverKnowsWhichRunHoldsTheTarget() {
    Lead.RunHandle first = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"));
    restartLead(Lead.Settings.daemon());

    // Named from the log, which says who asked for the run: a lead on another machine has no lock file to go by.
    assertThatThrownBy(() -> lead.submit(plan("- {id: docs, prompt: p, owns: [docs/]}")))
        .hasMessageStartingWith("target: \"" + TARGET + "\" is held by run " + first.id())
        .hasMessageContaining("submitted by lanes run");
  }

  @Test
  void aRunThatLandedDeletesItsTaskBranchesAndLetsItsTargetGo() throws Exception {
    Lead.RunHandle run = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"));
    TaskOffered offer = grant(run, "core", "w1");
    String commit = repo.commitOnto(offer.baseCommit(), offer.branch(), Map.of("core/file.txt", "changed\n"));
    assertThat(repo.git("branch", "--list", "lanes-work/*")).contains(offer.branch());
    bus.publish(passed(offer, "w1", commit));
    run.done().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

    // The lead lets go in the loop's task that ended the run; a submit is handled on the loop after it.
    Lead.RunHandle next = lead.submit(plan("- {id: docs, prompt: p, owns: [docs/]}"), "next-run",
        Optional.of(dev.lanes.protocol.ExistingTarget.CONTINUE), "tester");
    assertThat(next.baseCommit()).isEqualTo(base);
    assertThat(repo.git("branch", "--list", "lanes-work/*")).isBlank();
  }

  @Test
  void finishedRunsLeaveTheLeadsMemoryAndTheirEndStaysInTheLog() throws Exception {
    MovableClock clock = new MovableClock(java.time.Instant.parse("2026-12-02T00:00:00Z"));
    lead.close();
    // Ten tasks' worth of finished reports: a one-task run weighs two, so five runs are kept.
    lead = Lead.start(bus, repo.dir(), clock, Lead.Settings.daemon().withMaxAttempts(1), 10);
    announceWorkers();
    List<String> ids = new java.util.ArrayList<>();
    for (int i = 0; i < 20; i++) {
      Lead.RunHandle run = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"), "many-" + i);
      lead.cancel(run.id(), "enough");
      run.done().get(10, TimeUnit.SECONDS);
      ids.add(run.id());
    }

    assertThat(lead.runsInMemory()).isLessThanOrEqualTo(5);
    // Which ones the cache keeps is its choice (by frequency as well as age); that it keeps some, and few, is ours.
    List<String> kept = ids.stream().filter(id -> lead.report(id).isPresent()).toList();
    assertThat(kept).isNotEmpty().hasSizeLessThanOrEqualTo(5);
    assertThat(lead.report(kept.get(0))).get().satisfies(r -> assertThat(r.tasks()).singleElement()
        .satisfies(row -> assertThat(row.state().isFinal()).isTrue()));
    events.sync();
    assertThat(events.all(RunFinished.class)).extracting(RunFinished::run).as("its end is in the log")
        .containsAll(ids);
    assertThatThrownBy(() -> lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"), "many-0"))
        .as("a finished run is still known, so it is not started again").hasMessageContaining("already ran");

    clock.advance(Lead.FINISHED_KEPT_FOR.plusSeconds(1));
    assertThat(lead.runsInMemory()).isZero();
    assertThat(lead.report(kept.get(0))).isEmpty();
  }

  @Test
  void findingsOverTheirLimitsAreRefusedAndTheTaskGoesOn() {
    Lead.RunHandle run = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"));
    TaskOffered offer = grant(run, "core", "w1");

    // Either question, were it taken, would park the task as needing a human.
    bus.publish(new Finding(run.id(), "core", 1, "w1", Finding.QUESTION, "?".repeat(Finding.MAX_TEXT + 1), List.of()));
    for (int i = 0; i < Run.MAX_FINDINGS; i++) {
      bus.publish(new Finding(run.id(), "core", 1, "w1", Finding.NOTE, "note " + i, List.of()));
    }
    bus.publish(new Finding(run.id(), "core", 1, "w1", Finding.QUESTION, "one too many?", List.of()));
    String commit = repo.commitOnto(offer.baseCommit(), offer.branch(), Map.of("core/file.txt", "changed\n"));
    bus.publish(passed(offer, "w1", commit));

    awaitUpdate("core", TaskState.LANDED, 1);
  }

  @Test
  void aResultReportingACostNoAttemptCouldHaveIsRefusedWholeAndChangesNothing() {
    Lead.RunHandle run = lead.submit(plan("- {id: core, prompt: p, owns: [core/]}"));
    TaskOffered core = grant(run, "core", "w1");
    String commit = repo.commitOnto(core.baseCommit(), core.branch(), Map.of("core/file.txt", "core\n"));
    TaskResult honest = passed(core, "w1", commit);
    for (double cost : new double[] {-0.5, Double.NaN, 1e9}) {
      bus.publish(withCost(honest, cost));
    }
    barrier(core, "w1");

    assertThat(bus.deadLetters()).hasSize(3).allSatisfy(d -> assertThat(d).contains(
        "refused the result of attempt 1 of task core from w1: usage.costUsd: ", "is not an amount of dollars"));
    assertThat(bus.deadLetters().get(0)).contains("usage.costUsd: -0.5 is not");
    assertThat(row(run, "core").state()).isEqualTo(TaskState.RUNNING);

    bus.publish(withCost(honest, 0.35));
    assertThat(events.awaitFirst(RunFinished.class, f -> f.run().equals(run.id())).landed()).containsExactly("core");
  }

  // ---- the cost ledger and budgets ----

  /** Tasks a and b run at once; c waits for a: it is offered only after the attempts that cross the budget. */
  private static final String BUDGETED = """
      name: sample
      budget-usd: 1.00
      agent: {command: [sh, -c, "true"]}
      tasks:
        - {id: a, prompt: p, owns: [a/]}
        - {id: b, prompt: p, owns: [b/]}
        - {id: c, prompt: p, owns: [c/], after: [a]}
      """;

  /** A person raises the run's budget to {@code usd}, as the dashboard's button does. */
  private ActionTaken raise(Lead.RunHandle run, double usd, String by) {
    return lead.act(new Action(Action.Kind.RAISE_BUDGET, run.id(), Optional.empty(), Optional.empty(),
        Optional.of(usd), by));
  }

  /** Grants {@code task} to {@code worker}, commits its work and reports it passed at {@code usd}. */
  private void passAt(Lead.RunHandle run, String task, String worker, double usd) {
    TaskOffered offer = grant(run, task, worker);
    String commit = repo.commitOnto(offer.baseCommit(), offer.branch(), Map.of(task + "/file.txt", task + "\n"));
    bus.publish(withCost(passed(offer, worker, commit), usd));
  }

  @Test
  void aRunWhoseBudgetIsSpentOffersNothingMoreLandsWhatPassedAndResumesWhenItIsRaised() {
    Lead.RunHandle run = lead.submit(PlanParser.parse(BUDGETED, "plan.yaml"));
    passAt(run, "b", "w2", 0.70);
    passAt(run, "a", "w1", 0.35); // crosses the budget before a lands and c could be offered
    RunBudget paused = events.awaitFirst(RunBudget.class, b -> b.paused().isPresent());
    awaitUpdate("a", TaskState.LANDED);
    awaitUpdate("b", TaskState.LANDED);
    awaitUpdate("c", TaskState.OFFERED);
    work.sync();

    assertThat(paused.paused()).contains(RunBudget.BUDGET);
    assertThat(paused.spentUsd()).isEqualByComparingTo("1.05");
    assertThat(paused.detail()).startsWith("spent $1.05 of the run's budget of $1.00; no new attempt starts");
    assertThat(events.all(UsageRecorded.class)).extracting(u -> u.task() + " " + u.costUsd().toPlainString() + " "
        + u.worker() + " " + u.model() + " " + u.inputTokens() + "/" + u.outputTokens())
        .containsExactly("b 0.700000 w2 claude-sonnet-4-5 1000/100", "a 0.350000 w1 claude-sonnet-4-5 1000/100");
    assertThat(work.all(TaskOffered.class)).as("c is decided, not offered, while the run is paused")
        .noneMatch(o -> o.task().equals("c"));
    assertThat(run.snapshot().get().stalled()).isTrue();

    assertThatThrownBy(() -> raise(run, 1.05, "alice")).isInstanceOf(Action.Refused.class)
        .hasMessage("usd: 1.05 must be more than the $1.05 run " + run.id() + " has already spent");
    events.sync();
    assertThat(events.all(ActionTaken.class)).as("a refused raise changes nothing").isEmpty();
    assertThat(events.all(RunBudget.class)).hasSize(1);

    raise(run, 2.5, "alice");
    RunBudget resumed = events.awaitFirst(RunBudget.class, b -> b.paused().isEmpty());
    assertThat(resumed.budgetUsd()).contains(new java.math.BigDecimal("2.500000"));
    assertThat(resumed.by()).isEqualTo("alice");
    assertThat(events.all(ActionTaken.class)).singleElement().satisfies(t -> assertThat(t.action())
        .isEqualTo("raise-budget"));
    passAt(run, "c", "w1", 0.35);
    assertThat(events.awaitFirst(RunFinished.class, f -> f.run().equals(run.id())).landed())
        .containsExactlyInAnyOrder("a", "b", "c");
  }

  @Test
  void aPausedRunStaysPausedAcrossARestartOfTheLead() {
    Lead.RunHandle run = lead.submit(PlanParser.parse(BUDGETED, "plan.yaml"));
    passAt(run, "b", "w2", 0.6);
    passAt(run, "a", "w1", 0.6);
    events.awaitFirst(RunBudget.class, b -> b.paused().isPresent());
    awaitUpdate("c", TaskState.OFFERED);

    restartLead(Lead.Settings.daemon().withMaxAttempts(1));
    work.sync();

    assertThat(work.all(TaskOffered.class)).noneMatch(o -> o.task().equals("c"));
    assertThat(lead.report(run.id()).orElseThrow().paused()).hasValueSatisfying(p -> assertThat(p)
        .startsWith("spent $1.20 of the run's budget of $1.00"));
    assertThatThrownBy(() -> raise(run, 1.1, "bob")).as("the ledger is replayed too")
        .hasMessageContaining("must be more than the $1.20");
    raise(run, 5.0, "bob");
    work.awaitFirst(TaskOffered.class, o -> o.task().equals("c"));
  }

  @Test
  void budgetStopNowCancelsRunningAttemptsWhichStillCountWhenTheyReport() {
    Lead.RunHandle run = lead.submit(PlanParser.parse(BUDGETED.replace("budget-usd: 1.00",
        "budget-usd: 1.00\nbudget-stop: now"), "plan.yaml"));
    TaskOffered b = grant(run, "b", "w2");
    passAt(run, "a", "w1", 1.5);

    TaskCancelled stopped = work.awaitFirst(TaskCancelled.class, c -> c.task().equals("b"));
    assertThat(stopped.epoch()).isEqualTo(b.epoch());
    TaskUpdate again = awaitUpdate("b", TaskState.OFFERED, b.epoch() + 1);
    assertThat(again.detail()).contains("the budget stopped attempt 1 on w2", "no attempt used");

    bus.publish(withCost(new TaskResult(run.id(), "b", b.epoch(), "w2", Outcome.AGENT_FAILED, b.branch(),
        Optional.empty(), List.of(), 143, -1, "", "", 1, Optional.of("cancelled by the lead"), Optional.empty()), 0.2));
    UsageRecorded late = events.awaitFirst(UsageRecorded.class, u -> u.task().equals("b"));
    assertThat(late.costUsd()).isEqualByComparingTo("0.2");
    assertThat(late.epoch()).isEqualTo(b.epoch());
  }

  @Test
  void theDailyBudgetPausesEveryRunOnceAllOfThemSpentItAndANewUtcDayLiftsThePause() {
    MovableClock clock = new MovableClock(java.time.Instant.parse("2026-12-03T23:00:00Z"));
    lead.close();
    lead = Lead.start(bus, repo.dir(), clock, Lead.Settings.daemon().withMaxAttempts(1)
        .withDailyBudget(Optional.of(new java.math.BigDecimal("1"))));
    announceWorkers();
    Lead.RunHandle spender = lead.submit(PlanParser.parse("""
        name: spender
        agent: {command: [sh, -c, "true"]}
        tasks:
          - {id: a, prompt: p, owns: [a/]}
          - {id: b, prompt: p, owns: [b/]}
        """, "plan.yaml"));
    Lead.RunHandle other = lead.submit(PlanParser.parse("""
        name: other
        agent: {command: [sh, -c, "true"]}
        tasks:
          - {id: z, prompt: p, owns: [z/]}
        """, "plan.yaml"));
    TaskOffered z = work.awaitFirst(TaskOffered.class, o -> o.run().equals(other.id()));
    passAt(spender, "a", "w1", 0.6);
    passAt(spender, "b", "w2", 0.6);

    RunBudget paused = events.awaitFirst(RunBudget.class, b -> b.run().equals(other.id()));
    assertThat(paused.paused()).contains(RunBudget.DAILY_BUDGET);
    assertThat(paused.spentUsd()).as("the other run spent nothing; all runs spent the day's budget").isZero();
    assertThat(paused.detail()).startsWith("all runs spent $1.20 today (UTC) of the lead's daily budget of $1.00");
    assertThat(work.awaitFirst(TaskCancelled.class, c -> c.run().equals(other.id())).epoch()).isEqualTo(z.epoch());
    bus.publish(new ClaimRequested(other.id(), "z", z.epoch(), "w1"));
    raise(other, 5, "carol");
    RunBudget raised = events.awaitFirst(RunBudget.class, b -> b.by().equals("carol"));
    assertThat(raised.paused()).as("its own budget is not what paused it").contains(RunBudget.DAILY_BUDGET);
    assertThat(raised.detail()).startsWith("budget set to $5.00 by carol, but the run stays paused: all runs spent");
    assertThat(events.awaitFirst(RunFinished.class, f -> f.run().equals(spender.id())).landed())
        .containsExactlyInAnyOrder("a", "b");
    work.sync();
    assertThat(work.all(ClaimGranted.class)).as("a paused run grants nothing").noneMatch(g -> g.task().equals("z"));

    clock.advance(Duration.ofHours(1)); // 2026-12-04, UTC
    RunBudget resumed = events.awaitFirst(RunBudget.class, b -> b.run().equals(other.id()) && b.paused().isEmpty()
        && b.by().equals("lead"));
    assertThat(resumed.detail()).isEqualTo("a new UTC day began; the run resumes");
    await().atMost(PATIENCE).until(() -> work.all(TaskOffered.class).stream()
        .filter(o -> o.run().equals(other.id())).count() >= 2);
  }

  @Test
  void aBudgetRequestOverTheBusIsAnsweredOnTheLogAndARefusalChangesNothing() {
    Lead.RunHandle run = lead.submit(PlanParser.parse(BUDGETED, "plan.yaml"));
    passAt(run, "a", "w1", 0.6);
    passAt(run, "b", "w2", 0.6);
    events.awaitFirst(RunBudget.class, b -> b.paused().isPresent());

    bus.publish(new BudgetRequested("budget-1", "no-such-run", new java.math.BigDecimal("5"), "mallory@x"));
    bus.publish(new BudgetRequested("budget-2", run.id(), new java.math.BigDecimal("-5"), "mallory@x"));
    bus.publish(new BudgetRequested("budget-3", run.id(), new java.math.BigDecimal("1E+400"), "mallory@x"));
    bus.publish(new BudgetRequested("budget-4", run.id(), new java.math.BigDecimal("1.2"), "mallory@x"));
    bus.publish(new BudgetRequested("Budget/../5", run.id(), new java.math.BigDecimal("5"), "mallory@x"));
    bus.publish(new BudgetRequested("budget-7", run.id(), new java.math.BigDecimal("3"), "m\u001b[2J".repeat(100)));
    bus.publish(new BudgetRequested("budget-8", "../" + "r".repeat(500), new java.math.BigDecimal("3"), "m@x"));
    bus.publish(new BudgetRequested("budget-6", run.id(), new java.math.BigDecimal("3"), "carol@host"));

    RunBudget raised = events.awaitFirst(RunBudget.class, b -> b.request().equals(Optional.of("budget-6")));
    assertThat(raised.paused()).isEmpty();
    assertThat(raised.by()).isEqualTo("carol@host (lanes budget)");
    assertThat(events.all(ActionRefused.class)).extracting(ActionRefused::request, ActionRefused::reason)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("budget-1", "run: \"no-such-run\" is not a run this lead holds"),
            org.assertj.core.groups.Tuple.tuple("budget-2", "usd: -5.0 must be a positive number of dollars"),
            org.assertj.core.groups.Tuple.tuple("budget-3", "usd: Infinity must be a positive number of dollars"),
            org.assertj.core.groups.Tuple.tuple("budget-4", "usd: 1.2 must be more than the $1.20 run " + run.id()
                + " has already spent"),
            org.assertj.core.groups.Tuple.tuple("budget-7", "requester: \"" + "m?[2J".repeat(20) + "…\" is not a name"
                + " of at most 200 printable characters"),
            org.assertj.core.groups.Tuple.tuple("budget-8", "run: \"../" + "r".repeat(97) + "…\" is not a run id"));
    assertThat(bus.deadLetters()).anySatisfy(d -> assertThat(d).contains("budget request: \"Budget/../5\" is not"
        + " a request id"));
    assertThat(events.all(RunBudget.class)).as("one pause, one resume: the refusals changed nothing").hasSize(2);
    work.awaitFirst(TaskOffered.class, o -> o.task().equals("c"));
  }

  private static TaskResult withCost(TaskResult r, double usd) {
    return new TaskResult(r.run(), r.task(), r.epoch(), r.worker(), r.outcome(), r.branch(), r.commit(),
        r.changedFiles(), r.agentExit(), r.verifyExit(), r.agentTail(), r.verifyTail(), r.durationMs(), r.error(),
        Optional.of(new dev.lanes.protocol.AgentUsage(usd, 3, "s-1", "success", false, Optional.of(1000L),
            Optional.of(100L), Optional.of("claude-sonnet-4-5"))));
  }


  private void restartLead(Lead.Settings settings) {
    lead.close();
    lead = Lead.start(bus, repo.dir(), Clock.systemUTC(), settings);
    announceWorkers();
  }

  private TaskOffered grant(Lead.RunHandle run, String task, String worker, int epoch) {
    TaskOffered offer = work.awaitFirst(TaskOffered.class,
        o -> o.run().equals(run.id()) && o.task().equals(task) && o.epoch() == epoch);
    bus.publish(new ClaimRequested(run.id(), task, epoch, worker));
    work.awaitFirst(ClaimGranted.class, g -> g.task().equals(task) && g.epoch() == epoch);
    return offer;
  }

  private TaskResult verifyFailed(TaskOffered offer, int exit, String output) {
    return new TaskResult(offer.run(), offer.task(), offer.epoch(), workerOf(offer), Outcome.VERIFY_FAILED, offer.branch(), Optional.empty(), List.of(offer.task() + "/f"), 0,
        exit, "", output, 5, Optional.of("verify exited with " + exit), Optional.empty());
  }

  private String workerOf(TaskOffered offer) {
    return work.awaitFirst(ClaimGranted.class, g -> g.run().equals(offer.run()) && g.task().equals(offer.task())
        && g.epoch() == offer.epoch()).worker();
  }

  private List<Integer> offeredEpochs(String task) {
    return work.all(TaskOffered.class).stream().filter(o -> o.task().equals(task)).map(TaskOffered::epoch).distinct()
        .toList();
  }

  private TaskUpdate awaitUpdate(String task, TaskState state, int epoch) {
    return events.awaitFirst(TaskUpdate.class, u -> u.task().equals(task) && u.state() == state && u.epoch() == epoch);
  }

  // ---- playing the worker ----

  private static final String CORE_AND_API = """
      - {id: core, prompt: p, owns: [core/]}
      - {id: api, prompt: p, owns: [api/]}
      """;

  private static Plan plan(String tasks) {
    String yaml = "name: sample\nagent: {command: [sh, -c, \"true\"]}\ntasks:\n" + tasks.indent(2);
    return PlanParser.parse(yaml, "plan.yaml");
  }

  /** Waits for the task's offer, claims it as {@code worker} and waits for the grant. */
  private TaskOffered grant(Lead.RunHandle run, String task, String worker) {
    TaskOffered offer = work.awaitFirst(TaskOffered.class, o -> o.run().equals(run.id()) && o.task().equals(task));
    bus.publish(new ClaimRequested(run.id(), task, offer.epoch(), worker));
    ClaimGranted grant = work.awaitFirst(ClaimGranted.class, g -> g.task().equals(task) && g.epoch() == offer.epoch());
    assertThat(grant.worker()).isEqualTo(worker);
    return offer;
  }

  /** A passed result as a worker reports it; the changed files are what git says changed since the base. */
  private TaskResult passed(TaskOffered offer, String worker, String commit) {
    List<String> changed = repo.run(Map.of(), List.of("diff", "--name-only", offer.baseCommit(), commit)).exit() == 0
        ? repo.git("diff", "--name-only", offer.baseCommit(), commit).lines().toList()
        : List.of("core/file.txt");
    return new TaskResult(offer.run(), offer.task(), offer.epoch(), worker, Outcome.PASSED, offer.branch(),
        Optional.of(commit), changed, 0, 0, "", "", 1, Optional.empty(), Optional.empty());
  }

  /**
   * Returns once the lead has handled every report published before: a heartbeat in a new phase from the granted
   * worker makes the lead publish an update, and the lead handles reports in order.
   */
  private void barrier(TaskOffered offer, String worker) {
    String phase = "barrier-" + barriers.incrementAndGet();
    bus.publish(new Heartbeat(offer.run(), offer.task(), offer.epoch(), worker, phase, ""));
    events.awaitFirst(TaskUpdate.class, u -> u.detail().equals(phase));
  }

  private TaskUpdate awaitUpdate(String task, TaskState state) {
    return events.awaitFirst(TaskUpdate.class, u -> u.task().equals(task) && u.state() == state);
  }

  private static RunReport.Row row(Lead.RunHandle run, String task) {
    return row(run.snapshot().get(), task);
  }

  private static RunReport.Row row(RunReport report, String task) {
    return report.tasks().stream().filter(r -> r.task().equals(task)).findFirst().orElseThrow();
  }

  /** Everything published on one topic, in order; sentinels from {@link #sync} are left out. */
  private static final class Recorder {
    private static final String SENTINEL = "sentinel";
    private final Bus bus;
    private final String topic;
    private final List<Message> seen = new CopyOnWriteArrayList<>();
    private int syncs;

    Recorder(Bus bus, String topic) {
      this.bus = bus;
      this.topic = topic;
      bus.subscribe(topic, Bus.Start.NOW, seen::add);
    }

    <T extends Message> List<T> all(Class<T> type) {
      return seen.stream().filter(type::isInstance).map(type::cast).filter(m -> !isSentinel(m)).toList();
    }

    <T extends Message> T awaitFirst(Class<T> type, Predicate<T> which) {
      await().atMost(PATIENCE).until(() -> all(type).stream().anyMatch(which));
      return all(type).stream().filter(which).findFirst().orElseThrow();
    }

    /** Returns once everything published on the topic before the call has been recorded. */
    void sync() {
      String id = SENTINEL + "-" + ++syncs;
      Message sentinel = topic.equals(Topics.WORK) ? new ClaimGranted(id, SENTINEL, 0, SENTINEL)
          : new RunFinished(id, SENTINEL, List.of(), List.of());
      bus.publish(sentinel);
      await().atMost(PATIENCE).until(() -> seen.contains(sentinel));
    }

    private static boolean isSentinel(Message m) {
      return m.key().startsWith(SENTINEL + "-");
    }
  }
}
