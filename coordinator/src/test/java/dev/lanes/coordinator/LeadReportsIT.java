package dev.lanes.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.bus.Bus;
import dev.lanes.bus.EmbeddedBroker;
import dev.lanes.bus.KafkaBus;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.PlanParser;
import dev.lanes.protocol.PlanRevised;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.Topics;
import dev.lanes.protocol.WorkerStatus;
import dev.lanes.testkit.GitRepo;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reports that enter a running lead on a real broker. Results and findings are taken only from the worker an attempt
 * is granted to, for that attempt, findings only in a form the lead can act on; any other is set aside with the reason
 * and changes nothing. A
 * plan revision larger than a record may be (forty follow-ups of 55 KB each, together more than 2 MiB of plan) is
 * refused before it changes anything, said with a finding, and the lead goes on granting and landing other work.
 */
class LeadReportsIT {
  private static final Duration PATIENCE = Duration.ofSeconds(30);
  private static final int FOLLOW_UPS = 40;
  private static final int PROMPT = 55_000;

  @TempDir Path dir;
  private EmbeddedBroker broker;
  private KafkaBus bus;
  private GitRepo repo;
  private Lead lead;
  private final List<Message> seen = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() {
    broker = EmbeddedBroker.start(dir.resolve("kafka"));
    bus = KafkaBus.connect(broker.bootstrapServers(), "lead-reports-test");
    repo = GitRepo.sample(dir.resolve("repo"));
    // Two attempts: a task whose claim is extended runs again, and that is an attempt too.
    lead = Lead.start(bus, repo.dir(), Clock.systemUTC(), Lead.Settings.daemon().withMaxAttempts(2));
    lead.awaitActive(PATIENCE);
    for (String topic : Topics.all()) {
      if (!topic.equals(Topics.DEAD)) {
        bus.subscribe(topic, Bus.Start.BEGINNING, seen::add);
      }
    }
    for (String worker : List.of("w1", "w2")) {
      bus.publish(new WorkerStatus(worker, "host", List.of(), 4, 0));
    }
    org.awaitility.Awaitility.await().atMost(PATIENCE).until(() -> lead.knows("w1") && lead.knows("w2"));
  }

  @AfterEach
  void tearDown() {
    lead.close();
    bus.close();
    broker.close();
  }

  @Test
  void revisionTooLargeToRecord_isRefusedAndTheRunGoesOn() throws Exception {
    Lead.RunHandle run = submit("{id: api, prompt: p, owns: [api/]}");
    TaskOffered core = grant(run, "core", "w1");
    TaskOffered api = grant(run, "api", "w2");
    for (int i = 0; i < FOLLOW_UPS; i++) {
      String text = Json.mapper().createObjectNode().put("title", "follow-up " + i).put("prompt", "x".repeat(PROMPT))
          .toString();
      bus.publish(new Finding(run.id(), "core", core.epoch(), "w1", Finding.FOLLOW_UP, text, List.of("extra" + i + "/")));
    }
    String coreCommit = repo.commitOnto(core.baseCommit(), core.branch(), Map.of("core/file.txt", "core\n"));
    bus.publish(passed(core, "w1", coreCommit, "core/file.txt"));

    Finding refused = await(Finding.class, f -> f.kind().equals(Finding.REVISION_REFUSED));
    assertThat(refused.task()).isEqualTo("core");
    assertThat(refused.text()).startsWith("the revised plan (follow-up task(s) core-f1, core-f2")
        .contains("more than the " + Json.MAX_MESSAGE_BYTES + " a decision may have");
    assertThat(Long.parseLong(refused.text().replaceAll(".* a record of (\\d+) bytes.*", "$1")))
        .isGreaterThan(2L << 20);
    await(TaskUpdate.class, u -> u.task().equals("core") && u.state() == TaskState.LANDED);

    String apiCommit = repo.commitOnto(api.baseCommit(), api.branch(), Map.of("api/file.txt", "api\n"));
    bus.publish(passed(api, "w2", apiCommit, "api/file.txt"));
    RunFinished finished = await(RunFinished.class, f -> f.run().equals(run.id()));

    assertThat(finished.landed()).containsExactlyInAnyOrder("core", "api");
    assertThat(seen).noneMatch(m -> m instanceof PlanRevised);
    assertThat(seen).noneMatch(m -> m instanceof TaskOffered o && o.task().startsWith("core-f"));
    assertThat(repo.show("lanes/sample", "api/file.txt")).isEqualTo("api\n");
  }

  @Test
  void reportsFromTheWrongPartyOrAttemptOrInAFormTheLeadCannotUse_areSetAsideAndChangeNothing() throws Exception {
    Lead.RunHandle run = submit("{id: docs, prompt: p, owns: [docs/], after: [core]}");
    TaskOffered core = grant(run, "core", "w1");
    int e = core.epoch();
    String r = run.id();
    String coreCommit = repo.commitOnto(core.baseCommit(), core.branch(), Map.of("core/file.txt", "core\n"));
    List<Message> forged = List.of(
        passed(core, "w2", coreCommit, "core/file.txt"),
        new TaskResult(r, "core", e + 1, "w1", TaskResult.Outcome.PASSED, core.branch(), Optional.of(coreCommit),
            List.of(), 0, 0, "", "", 1, Optional.empty(), Optional.empty()),
        new TaskResult(r, "nope", e, "w1", TaskResult.Outcome.PASSED, core.branch(), Optional.of(coreCommit),
            List.of(), 0, 0, "", "", 1, Optional.empty(), Optional.empty()),
        new Finding(r, "core", e, "w2", Finding.NEEDS_PATHS, "take docs", List.of("docs/")),
        new Finding(r, "core", e + 1, "w1", Finding.NEEDS_PATHS, "take docs", List.of("docs/")),
        new Finding(r, "core", e, "w1", Finding.NEEDS_PATHS, "escape", List.of("../outside")),
        new Finding(r, "core", e, "w1", Finding.NEEDS_PATHS, "nothing", List.of()),
        new Finding(r, "core", e, "w1", Finding.APPROVE, "approved", List.of()),
        new Finding(r, "core", e, "w1", "grant-me-everything", "", List.of()),
        new Finding(r, "core", e, "w1", Finding.FOLLOW_UP, "not json", List.of("more/")),
        new Finding(r, "core", e, "w1", Finding.FOLLOW_UP, "{\"title\": \"t\"}", List.of("more/")),
        new Finding(r, "docs", 1, "w1", Finding.QUESTION, "may I?", List.of()),
        new Finding(r, "nope", e, "w1", Finding.NOTE, "hello", List.of()));
    forged.forEach(bus::publish);

    org.awaitility.Awaitility.await().atMost(PATIENCE)
        .until(() -> WirePlanIT.deadReasons(broker.bootstrapServers()).size() >= forged.size());
    assertThat(WirePlanIT.deadReasons(broker.bootstrapServers())).containsExactly(
        "rejected the result of attempt 1 from w2: not the current attempt (task core is at attempt 1, running)",
        "rejected the result of attempt 2 from w1: not the current attempt (task core is at attempt 1, running)",
        "rejected the result of attempt 1 from w1: not the current attempt (no task nope in run " + r + ")",
        "finding refused: worker: \"w2\" is not the worker attempt 1 of task core is granted to",
        "finding refused: epoch: 2 is not the current attempt of task core (1)",
        "finding refused: paths[0]: claim \"../outside\": segment \"..\" leaves the repository",
        "finding refused: paths: empty; a needs-paths finding names the claims it needs",
        "finding refused: kind: \"approve\" is not one a writing attempt reports; known kinds here are follow-up,"
            + " invalid-findings, needs-paths, note, ownership-violation, question",
        "finding refused: kind: \"grant-me-everything\" is not one a writing attempt reports; known kinds here are"
            + " follow-up, invalid-findings, needs-paths, note, ownership-violation, question",
        "finding refused: text: not valid JSON; a follow-up is a JSON object with a title and a prompt",
        "finding refused: text.prompt: missing or empty; a follow-up is a JSON object with a title and a prompt",
        "finding refused: task: \"docs\" has no attempt running (it is waiting); findings come with a running attempt",
        "finding refused: task: \"nope\" is not a task of run " + r);

    // None of them counted: the task's own result lands as it is, with no claim extended and nothing parked.
    bus.publish(passed(core, "w1", coreCommit, "core/file.txt"));
    await(TaskUpdate.class, u -> u.task().equals("core") && u.state() == TaskState.LANDED);
    assertThat(seen).noneMatch(m -> m instanceof PlanRevised);

    // A good finding is still taken: the next attempt's needs-paths extends its claim.
    TaskOffered docs = grant(run, "docs", "w2");
    bus.publish(new Finding(r, "docs", docs.epoch(), "w2", Finding.NEEDS_PATHS, "the guide", List.of("guide/")));
    bus.publish(new TaskResult(r, "docs", docs.epoch(), "w2", TaskResult.Outcome.AGENT_FAILED, docs.branch(),
        Optional.empty(), List.of(), 1, -1, "", "", 1, Optional.empty(), Optional.empty()));
    PlanRevised revised = await(PlanRevised.class, p -> p.run().equals(r));
    assertThat(revised.reason()).startsWith("docs: claim extended by guide/");
  }

  /** Runs a plan of task core (owning core/) and one more task, written as a YAML flow mapping. */
  private Lead.RunHandle submit(String second) {
    return lead.submit(PlanParser.parse("name: sample\nagent: {command: [sh, -c, \"true\"]}\ntasks:\n"
        + "  - {id: core, prompt: p, owns: [core/]}\n  - " + second + "\n", "plan.yaml"));
  }

  private TaskOffered grant(Lead.RunHandle run, String task, String worker) {
    TaskOffered offer = await(TaskOffered.class, o -> o.run().equals(run.id()) && o.task().equals(task));
    bus.publish(new ClaimRequested(run.id(), task, offer.epoch(), worker));
    await(ClaimGranted.class, g -> g.task().equals(task) && g.worker().equals(worker));
    return offer;
  }

  private static TaskResult passed(TaskOffered offer, String worker, String commit, String file) {
    return new TaskResult(offer.run(), offer.task(), offer.epoch(), worker, TaskResult.Outcome.PASSED, offer.branch(),
        Optional.of(commit), List.of(file), 0, 0, "", "", 1, Optional.empty(), Optional.empty());
  }

  private <T extends Message> T await(Class<T> type, java.util.function.Predicate<T> which) {
    org.awaitility.Awaitility.await().atMost(PATIENCE)
        .until(() -> seen.stream().anyMatch(m -> type.isInstance(m) && which.test(type.cast(m))));
    return seen.stream().filter(type::isInstance).map(type::cast).filter(which).findFirst().orElseThrow();
  }
}
