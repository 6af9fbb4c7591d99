package dev.lanes.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lanes.bus.KafkaBus;
import dev.lanes.protocol.ActionTaken;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.PlanParser;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.WorkerStatus;
import dev.lanes.testkit.GitRepo;
import dev.lanes.testkit.MovableClock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The inbox, its notifications and a person's actions on a run, on a real broker and a real repository; the test plays
 * the workers, and notifications go to a real child process ({@code --notify-command}) that appends each one, as a
 * line of JSON, to a file. "Exactly once" is shown without waiting for nothing: a later, different item is notified
 * after the one under test, and the file then holds the two, in order, and nothing else.
 */
class InboxIT {
  private static final Duration STUCK_AFTER = Duration.ofMinutes(10);

  @TempDir Path dir;
  private PlayedWorkers played;
  private KafkaBus bus;
  private GitRepo repo;
  private Lead lead;
  private Path notes;
  private final MovableClock clock = new MovableClock(Instant.parse("2026-12-03T06:00:00Z"));

  @BeforeEach
  void setUp() {
    played = new PlayedWorkers(dir, "inbox-test");
    bus = played.bus();
    repo = played.repo();
    notes = dir.resolve("notes.jsonl");
  }

  @AfterEach
  void tearDown() {
    if (lead != null) {
      lead.close();
    }
    played.close();
  }

  @Test
  void aParkedQuestionIsNotifiedOnceAndItsAnswerGoesIntoTheNextPrompt() {
    Lead.RunHandle run = start("{id: core, prompt: Do it., owns: [core/]}");
    TaskOffered first = played.grant(run, "core", "w1", 1);
    ask(first, "Which id type, long or UUID?");
    awaitNotes(1);
    // The same decision again (a late result of the parked attempt is recorded with the task as it is): no new item.
    bus.publish(PlayedWorkers.failed(first, "w1"));
    played.awaitUpdate(u -> u.task().equals("core") && u.detail().startsWith("rejected the result of attempt 1"));
    assertThat(lead.inbox().items()).singleElement().satisfies(item -> {
      assertThat(item.kind()).isEqualTo("question");
      assertThat(item.detail()).isEqualTo("Which id type, long or UUID?");
      assertThat(item.actions()).contains("answer");
    });
    assertThat(lead.board().state().json()).as("/api/state shows the inbox").contains("\"inbox\":[{\"id\":\"question:"
        + run.id() + "/core/1\",\"kind\":\"question\"");

    lead.act(answer(run, "UUID, everywhere."));
    TaskOffered second = played.grant(run, "core", "w1", 2);
    assertThat(second.prompt()).contains("Which id type, long or UUID?").contains("A person answered:\n    UUID,"
        + " everywhere.");
    assertThat(lead.inbox().items()).as("answered, the question leaves the inbox").isEmpty();
    ask(second, "And the column name?");

    List<JsonNode> sent = awaitNotes(2);
    assertThat(sent).extracting(n -> n.path("kind").asText()).containsExactly("question", "question");
    assertThat(sent.get(0).path("detail").asText()).isEqualTo("Which id type, long or UUID?");
    assertThat(sent.get(0).path("run").asText()).isEqualTo(run.id());
    assertThat(sent.get(0).path("task").asText()).isEqualTo("core");
    assertThat(sent.get(1).path("detail").asText()).isEqualTo("And the column name?");
    assertThat(played.all(ActionTaken.class)).singleElement().satisfies(a -> {
      assertThat(a.action()).isEqualTo("answer");
      assertThat(a.by()).isEqualTo("test");
    });
    assertThat(run.done()).as("a run with a question open waits for the person").isNotDone();
  }

  @Test
  void aStuckAgentIsNotifiedOnceWithItsLastOutput() {
    Lead.RunHandle run = start("{id: core, prompt: p, owns: [core/]}\n  - {id: docs, prompt: p, owns: [docs/]}");
    played.grant(run, "core", "w1", 1);
    TaskOffered docs = played.grant(run, "docs", "w2", 1);
    bus.publish(new Heartbeat(run.id(), "core", 1, "w1", "agent", "Bash: sleep 3600"));
    bus.publish(new Heartbeat(run.id(), "docs", 1, "w2", "agent", "Edit: docs/guide.md"));
    played.awaitUpdate(u -> u.task().equals("core") && u.detail().equals("agent: Bash: sleep 3600"));
    played.awaitUpdate(u -> u.task().equals("docs") && u.detail().equals("agent: Edit: docs/guide.md"));
    clock.advance(STUCK_AFTER.minusMinutes(1));
    // docs makes progress; core says nothing new (the same detail again is no progress) and a heartbeat renews its
    // lease, so that only "stuck" can be said of it.
    bus.publish(new Heartbeat(run.id(), "docs", 1, "w2", "verify", ""));
    bus.publish(new Heartbeat(run.id(), "core", 1, "w1", "agent", "Bash: sleep 3600"));
    played.awaitUpdate(u -> u.task().equals("docs") && u.detail().equals("verify"));
    clock.advance(Duration.ofMinutes(1));

    List<JsonNode> sent = awaitNotes(1);
    assertThat(sent.get(0).path("kind").asText()).isEqualTo("stuck");
    assertThat(sent.get(0).path("task").asText()).isEqualTo("core");
    assertThat(sent.get(0).path("detail").asText()).isEqualTo("last heard: agent: Bash: sleep 3600");
    // Ticks go on with the clock past the limit: the stuck attempt is not told again. Then docs asks a question.
    bus.publish(new Heartbeat(run.id(), "core", 1, "w1", "agent", "Bash: sleep 3600"));
    Awaitility.await().atMost(PlayedWorkers.PATIENCE).until(() -> lead.inbox().items().size() == 1);
    ask(docs, "May I delete the old guide?");

    sent = awaitNotes(2);
    assertThat(sent).extracting(n -> n.path("kind").asText()).containsExactly("stuck", "question");
    // Progress settles the stuck item.
    bus.publish(new Heartbeat(run.id(), "core", 1, "w1", "agent", "Bash: ./mvnw test"));
    Awaitility.await().atMost(PlayedWorkers.PATIENCE).until(() -> lead.inbox().items().stream().noneMatch(i -> i.kind()
        .equals("stuck")));
  }

  @Test
  void aLostWorkerIsNotifiedOnce_staysUntilDismissed_andADismissedItemIsNotToldAgain() {
    Lead.RunHandle run = start("{id: core, prompt: p, owns: [core/]}");
    played.grant(run, "core", "w1", 1);
    clock.advance(settings().lease().plusMinutes(1));

    List<JsonNode> sent = awaitNotes(1);
    assertThat(sent.get(0).path("kind").asText()).isEqualTo("worker-lost");
    assertThat(sent.get(0).path("title").asText()).isEqualTo("Worker w1 was lost");
    assertThat(sent.get(0).path("detail").asText()).contains("while it ran attempt 1 of " + run.id() + "/core");
    assertThat(sent.get(0).path("actions").toString()).isEqualTo("[\"dismiss\"]");
    // w1 never comes back: the task goes on elsewhere, and the item stays until a person clears it.
    TaskOffered second = played.grant(run, "core", "w2", 2);
    assertThat(lead.inbox().items()).extracting(Inbox.Item::id).containsExactly("worker-lost:w1");

    assertThat(lead.dismiss("worker-lost:w1", "test").kind()).isEqualTo("worker-lost");
    assertThat(lead.inbox().items()).isEmpty();
    assertThatThrownBy(() -> lead.dismiss("worker-lost:w1", "test")).isInstanceOfSatisfying(Action.Refused.class,
        e -> assertThat(e.why()).isEqualTo(Action.Refused.Why.NOT_FOUND));
    ask(second, "Is w1 coming back?");

    sent = awaitNotes(2);
    assertThat(sent).extracting(n -> n.path("kind").asText()).containsExactly("worker-lost", "question");
  }

  @Test
  void actionsForWhatIsNotThereOrNotInTheRightStateAreRefusedAndChangeNothing() {
    Lead.RunHandle run = start("{id: core, prompt: p, owns: [core/]}");
    TaskOffered first = played.grant(run, "core", "w1", 1);

    assertRefused(Action.onRun(Action.Kind.PAUSE, "no-such-run", "test"), Action.Refused.Why.NOT_FOUND,
        "run: \"no-such-run\" is not a run this lead holds");
    assertRefused(Action.onTask(Action.Kind.RETRY, run.id(), "nope", "test"), Action.Refused.Why.NOT_FOUND,
        "task: \"nope\" is not a task of run " + run.id());
    assertRefused(answer(run, "an answer nobody asked for"), Action.Refused.Why.CONFLICT,
        "task: \"core\" is running; only a task parked on its agent's question is answered");
    assertRefused(Action.onTask(Action.Kind.APPROVE, run.id(), "core", "test"), Action.Refused.Why.CONFLICT,
        "task: \"core\" is running; only a parked task is approved");
    assertRefused(Action.onRun(Action.Kind.RESUME, run.id(), "test"), Action.Refused.Why.CONFLICT,
        "is not paused; only a paused run resumes");
    assertThat(played.all(ActionTaken.class)).as("nothing refused is recorded").isEmpty();

    ask(first, "Long or UUID?");
    played.awaitUpdate(u -> u.state() == TaskState.PARKED);
    assertRefused(Action.onTask(Action.Kind.APPROVE, run.id(), "core", "test"), Action.Refused.Why.CONFLICT,
        "task: \"core\" is parked on its agent's question; answer it, retry or cancel it");
    lead.act(answer(run, "UUID"));
    assertRefused(answer(run, "UUID"), Action.Refused.Why.CONFLICT,
        "task: \"core\" is offered; only a task parked on its agent's question is answered");
    played.grant(run, "core", "w1", 2);

    assertThat(played.all(ActionTaken.class)).as("the answer sent twice is taken once").hasSize(1);
    assertThat(played.all(TaskOffered.class).stream().map(TaskOffered::epoch).distinct()).as("and starts one attempt")
        .hasSize(2);
    assertThat(lead.report(run.id()).orElseThrow().tasks().get(0).state()).isEqualTo(TaskState.RUNNING);
  }

  @Test
  void aPausedRunHandsNothingOutAndStaysPausedAfterTheLeadRestarts() {
    Lead.RunHandle run = start("{id: core, prompt: p, owns: [core/]}\n  - {id: docs, prompt: p, owns: [docs/],"
        + " after: [core]}");
    TaskOffered core = played.grant(run, "core", "w1", 1);
    lead.act(Action.onRun(Action.Kind.PAUSE, run.id(), "test"));
    assertRefused(Action.onRun(Action.Kind.PAUSE, run.id(), "test"), Action.Refused.Why.CONFLICT,
        "is already paused (paused by test)");
    bus.publish(passed(core, "w1"));
    played.awaitUpdate(u -> u.task().equals("docs") && u.state() == TaskState.OFFERED);

    lead.close();
    lead = Lead.start(bus, repo.dir(), clock, settings(), attention());
    announceWorkers();
    bus.publish(new ClaimRequested(run.id(), "docs", 1, "w2"));
    // Reports are handled in order: once a worker announced after the claim is known, the claim was handled.
    bus.publish(new WorkerStatus("w3", "host", List.of(), 4, 0));
    Awaitility.await().atMost(PlayedWorkers.PATIENCE).until(() -> lead.knows("w3"));
    assertThat(played.all(TaskOffered.class).stream().filter(o -> o.task().equals("docs")))
        .as("the offer made while paused does not go out, before or after the restart").isEmpty();
    assertThat(played.all(ClaimGranted.class).stream().filter(g -> g.task().equals("docs"))).isEmpty();
    lead.act(Action.onRun(Action.Kind.RESUME, run.id(), "test"));
    TaskOffered docs = played.await(TaskOffered.class, o -> o.task().equals("docs"));
    bus.publish(new ClaimRequested(run.id(), "docs", docs.epoch(), "w2"));
    played.await(ClaimGranted.class, g -> g.task().equals("docs"));

    assertThat(played.all(ClaimGranted.class).stream().filter(g -> g.task().equals("docs")))
        .as("the claim sent while paused, after the restart, was passed over").hasSize(1);
    assertThat(played.all(ActionTaken.class)).extracting(ActionTaken::action).containsExactly("pause", "resume");
  }

  @Test
  void aCancelledParkedTaskLetsTheWaitingRunFinish() {
    Lead.RunHandle run = start("{id: core, prompt: p, owns: [core/]}");
    ask(played.grant(run, "core", "w1", 1), "Long or UUID?");
    played.awaitUpdate(u -> u.state() == TaskState.PARKED);
    assertThat(run.done()).isNotDone();

    lead.act(Action.onTask(Action.Kind.CANCEL_TASK, run.id(), "core", "test"));

    assertThat(run.done()).succeedsWithin(PlayedWorkers.PATIENCE).satisfies(r -> assertThat(r.tasks().get(0).detail())
        .isEqualTo("cancelled: cancelled by test"));
    played.await(RunFinished.class, f -> f.run().equals(run.id()));
    assertThat(lead.inbox().items()).isEmpty();
  }

  @Test
  void aTaskParkedAfterEvictionsNamesTheLandingItMetAndTheVerifyOutput() {
    lead = Lead.start(bus, repo.dir(), clock, settings().withMerging(1, 1), attention());
    announceWorkers();
    Lead.RunHandle run = lead.submit(PlanParser.parse("name: sample\nagent: {command: [sh, -c, \"true\"]}\n"
        + "verify: \"test ! -e core/x.txt || test ! -e docs/x.txt || { echo both halves are here; exit 1; }\"\n"
        + "tasks:\n  - {id: core, prompt: p, owns: [core/]}\n  - {id: docs, prompt: p, owns: [docs/]}\n",
        "plan.yaml"));
    TaskOffered core = played.grant(run, "core", "w1", 1);
    TaskOffered docs = played.grant(run, "docs", "w2", 1);
    bus.publish(passed(core, "w1"));
    played.awaitUpdate(u -> u.task().equals("core") && u.state() == TaskState.LANDED);
    bus.publish(passed(docs, "w2", "docs/x.txt"));

    List<JsonNode> sent = awaitNotes(1);
    assertThat(sent.get(0).path("kind").asText()).isEqualTo("parked");
    assertThat(sent.get(0).path("task").asText()).isEqualTo("docs");
    assertThat(sent.get(0).path("detail").asText()).startsWith("needs a human: sent back 1 times; last: evicted from"
        + " the merge queue: verify failed on the merged tree").contains("it conflicts with the landing of core")
        .contains("both halves are here");
    assertThat(sent.get(0).path("actions").toString()).contains("approve");
  }

  @Test
  void anAnsweredTaskBringsBackTheTasksSkippedBecauseItHadNotLanded() {
    Lead.RunHandle run = start("{id: core, prompt: p, owns: [core/]}\n  - {id: docs, prompt: p, owns: [docs/],"
        + " after: [core]}\n  - {id: web, prompt: p, owns: [web/], after: [docs]}");
    ask(played.grant(run, "core", "w1", 1), "Long or UUID?");
    played.awaitUpdate(u -> u.task().equals("web") && u.state() == TaskState.SKIPPED);

    lead.act(answer(run, "UUID"));
    played.awaitUpdate(u -> u.task().equals("web") && u.state() == TaskState.WAITING);
    bus.publish(passed(played.grant(run, "core", "w1", 2), "w1"));
    bus.publish(passed(played.grant(run, "docs", "w2", 1), "w2", "docs/x.txt"));
    played.grant(run, "web", "w2", 1);

    assertThat(lead.report(run.id()).orElseThrow().tasks()).extracting(RunReport.Row::task, RunReport.Row::state)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("core", TaskState.LANDED),
            org.assertj.core.groups.Tuple.tuple("docs", TaskState.LANDED),
            org.assertj.core.groups.Tuple.tuple("web", TaskState.RUNNING));
  }

  private void assertRefused(Action action, Action.Refused.Why why, String message) {
    assertThatThrownBy(() -> lead.act(action)).isInstanceOfSatisfying(Action.Refused.class, e -> {
      assertThat(e.why()).isEqualTo(why);
      assertThat(e.getMessage()).contains(message);
    });
  }

  private Action answer(Lead.RunHandle run, String text) {
    return new Action(Action.Kind.ANSWER, run.id(), Optional.of("core"), Optional.of(text), Optional.empty(), "test");
  }

  private Lead.Settings settings() {
    // Leases outlive the clock's moves: only "stuck" is said of a quiet attempt here.
    return Lead.Settings.daemon().withMaxAttempts(3).withLease(Duration.ofHours(1));
  }

  private Lead.Attention attention() {
    Notifier.Settings notify = Notifier.Settings.parse(Optional.of("sh -c 'cat >> \"$0\"; echo >> \"$0\"' " + notes),
        Optional.empty());
    return Lead.Attention.of(notify, STUCK_AFTER);
  }

  private Lead.RunHandle start(String tasks) {
    lead = Lead.start(bus, repo.dir(), clock, settings(), attention());
    announceWorkers();
    String yaml = "name: sample\nagent: {command: [sh, -c, \"true\"]}\ntasks:\n  - " + tasks + "\n";
    return lead.submit(PlanParser.parse(yaml, "plan.yaml"));
  }

  private void announceWorkers() {
    played.announce(lead);
  }

  private void ask(TaskOffered offer, String question) {
    String worker = played.all(ClaimGranted.class).stream().filter(g -> g.task().equals(offer.task())
        && g.epoch() == offer.epoch()).findFirst().orElseThrow().worker();
    bus.publish(new Finding(offer.run(), offer.task(), offer.epoch(), worker, Finding.QUESTION, question, List.of()));
    bus.publish(PlayedWorkers.failed(offer, worker));
  }

  private List<JsonNode> awaitNotes(int count) {
    Awaitility.await().atMost(PlayedWorkers.PATIENCE).until(() -> notes().size() >= count);
    return notes();
  }

  private List<JsonNode> notes() {
    if (!Files.exists(notes)) {
      return List.of();
    }
    try {
      return Files.readAllLines(notes).stream().filter(l -> !l.isBlank()).map(l -> {
        try {
          return Json.mapper().readTree(l);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }).toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private TaskResult passed(TaskOffered offer, String worker) {
    return passed(offer, worker, "core/x.txt");
  }

  private TaskResult passed(TaskOffered offer, String worker, String file) {
    return played.passed(offer, worker, java.util.Map.of(file, "x\n"));
  }
}
