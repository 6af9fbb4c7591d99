package dev.lanes.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.lanes.bus.Bus;
import dev.lanes.bus.EmbeddedBroker;
import dev.lanes.bus.KafkaBus;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.PlanParser;
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
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker that lies, against a real lead on a real broker: it skips its own ownership check, pushes a commit that
 * adds {@code outside.txt} and a CI workflow for a task that owns {@code core/}, and reports it PASSED with a list of
 * changed files that names only {@code core/file.txt}. The lead reads the commit itself, lands nothing of it, says
 * why, does not retry it, and goes on serving the rest of the run.
 */
class LyingWorkerIT {
  private static final Duration PATIENCE = Duration.ofSeconds(30);
  private static final String TARGET = "lanes/sample";

  @TempDir Path dir;
  private EmbeddedBroker broker;
  private KafkaBus leadBus;
  private KafkaBus liarBus;
  private Lead lead;
  private GitRepo repo;
  private final List<Message> seen = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() {
    broker = EmbeddedBroker.start(dir.resolve("broker"));
    repo = GitRepo.sample(dir.resolve("repo"));
    leadBus = KafkaBus.connect(broker.bootstrapServers(), "lead");
    // Attempts to spare: the lying result is refused outright, not tried again while attempts are left.
    lead = Lead.start(leadBus, repo.dir(), Clock.systemUTC(), Lead.Settings.daemon().withMaxAttempts(3));
    lead.awaitActive(PATIENCE);
    liarBus = KafkaBus.connect(broker.bootstrapServers(), "liar");
    for (String topic : List.of(Topics.WORK, Topics.EVENTS, Topics.REPORTS)) {
      liarBus.subscribe(topic, Bus.Start.BEGINNING, seen::add);
    }
    liarBus.publish(new WorkerStatus("liar", "host", List.of(), 4, 0)).join();
    await().atMost(PATIENCE).until(() -> lead.knows("liar"));
  }

  @AfterEach
  void tearDown() {
    lead.close();
    liarBus.close();
    leadBus.close();
    broker.close();
  }

  @Test
  void passedResultOutsideTheClaimsLandsNothingAndTheRunSaysWhy() throws Exception {
    String base = repo.rev("main");
    Lead.RunHandle run = lead.submit(PlanParser.parse("""
        name: sample
        agent: {command: [sh, -c, "true"]}
        tasks:
          - {id: core, prompt: p, owns: [core/]}
          - {id: api, prompt: p, owns: [api/]}
        """, "plan.yaml"));
    TaskOffered core = claim(run, "core");
    String forged = repo.commitOnto(core.baseCommit(), core.branch(), Map.of("core/file.txt", "changed\n",
        "outside.txt", "not yours\n", ".github/workflows/evil.yml", "on: push\njobs: {}\n"));

    liarBus.publish(passed(core, forged, List.of("core/file.txt"))).join();

    TaskUpdate refused = first(TaskUpdate.class, u -> u.task().equals("core") && u.state() == TaskState.FAILED);
    assertThat(refused.detail()).contains("ownership violation found by the lead").contains("not retried")
        .contains("outside.txt (added; outside the task's claims)")
        .contains(".github/workflows/evil.yml (added; protected path .github");
    Finding finding = first(Finding.class, f -> f.kind().equals(Finding.RESULT_REFUSED));
    assertThat(finding.task()).isEqualTo("core");
    assertThat(finding.paths()).containsExactlyInAnyOrder("outside.txt", ".github/workflows/evil.yml");
    assertThat(repo.rev(TARGET)).as("the target does not move").isEqualTo(base);

    // The lead goes on serving: an honest result for the other task lands.
    TaskOffered api = claim(run, "api");
    String honest = repo.commitOnto(api.baseCommit(), api.branch(), Map.of("api/Api.java", "class Api {}\n"));
    liarBus.publish(passed(api, honest, List.of("api/Api.java"))).join();
    RunReport report = run.done().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

    assertThat(report.tasks()).filteredOn(r -> r.task().equals("core")).singleElement().satisfies(r -> {
      assertThat(r.state()).isEqualTo(TaskState.FAILED);
      assertThat(r.attempts()).as("not offered again").isEqualTo(1);
      assertThat(r.detail()).contains("outside.txt");
    });
    assertThat(repo.rev(TARGET)).isEqualTo(honest);
    assertThat(repo.git("ls-tree", "-r", "--name-only", TARGET)).doesNotContain("outside.txt", "evil.yml");
  }

  private TaskOffered claim(Lead.RunHandle run, String task) {
    TaskOffered offer = first(TaskOffered.class, o -> o.run().equals(run.id()) && o.task().equals(task));
    liarBus.publish(new ClaimRequested(run.id(), task, offer.epoch(), "liar"));
    first(ClaimGranted.class, g -> g.task().equals(task) && g.epoch() == offer.epoch());
    return offer;
  }

  private static TaskResult passed(TaskOffered offer, String commit, List<String> claimed) {
    return new TaskResult(offer.run(), offer.task(), offer.epoch(), "liar", TaskResult.Outcome.PASSED, offer.branch(),
        Optional.of(commit), claimed, 0, 0, "", "", 1, Optional.empty(), Optional.empty());
  }

  private <T extends Message> T first(Class<T> type, Predicate<T> which) {
    await().atMost(PATIENCE).until(() -> seen.stream().filter(type::isInstance).map(type::cast).anyMatch(which));
    return seen.stream().filter(type::isInstance).map(type::cast).filter(which).findFirst().orElseThrow();
  }
}
