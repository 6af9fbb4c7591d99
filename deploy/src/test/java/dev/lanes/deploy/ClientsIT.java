package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lanes.bus.EmbeddedBroker;
import dev.lanes.bus.Envelope;
import dev.lanes.bus.KafkaBus;
import dev.lanes.coordinator.Lead;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.PlanParser;
import dev.lanes.worker.Worker;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the client commands say about the cluster: {@code lanes status} with a lead serving and after it is gone, and
 * {@code status} and {@code submit} against an address where no broker answers, each within its {@code --timeout}.
 */
class ClientsIT {
  @RegisterExtension static final ClassBroker BROKER = new ClassBroker();

  /** Far below the 30 s a client waited whatever --timeout said; well above a JVM's cold start of Kafka's clients. */
  private static final Duration WITHIN = Duration.ofSeconds(15);

  @TempDir Path dir;

  @Test
  void statusSaysWhichLeadServesAndNoLongerShowsItsTasksAsRunningOnceItIsGone() throws Exception {
    String bootstrap = BROKER.broker().bootstrapServers();
    Path repo = LanesRunIT.repo(dir);
    Path plan = Files.writeString(dir.resolve("slow.yaml"), """
        name: slow
        agent:
          command: [sh, -c, 'sleep 60']
        tasks:
          - {id: web, prompt: Wait., owns: [web/]}
        """);
    KafkaBus leadBus = KafkaBus.connect(bootstrap, "clients-lead", Envelope.unsigned());
    leadBus.createTopics();
    try (KafkaBus workerBus = KafkaBus.connect(bootstrap, "clients-worker", Envelope.unsigned());
        Worker worker = Worker.start(workerBus, new Worker.Config("wa", "host-a", List.of(), 1, repo.toString(),
            dir.resolve("wa"), Duration.ofSeconds(1), Map.of()), Clock.systemUTC())) {
      Lead lead = Lead.start(leadBus, repo, Clock.systemUTC(), Lead.Settings.daemon());
      lead.awaitActive(WITHIN);
      String run = lead.submit(PlanParser.parse(plan)).id();
      await().atMost(WITHIN).until(() -> task(status("--json"), run).get("state").asText().equals("running"));

      LanesRunIT.Run serving = lanes("status", "--bootstrap-servers", bootstrap);
      assertThat(serving.exit()).as(serving.output()).isZero();
      assertThat(serving.out()).containsPattern("(?m)^Lead: lead-\\d+-[0-9a-f]+ on \\S+, serving since "
          + "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$");
      assertThat(serving.out()).containsPattern("(?m)^  web +running +#1 +wa +");

      lead.close();
      leadBus.close();

      LanesRunIT.Run gone = lanes("status", "--bootstrap-servers", bootstrap);
      assertThat(gone.exit()).as(gone.output()).isZero();
      assertThat(gone.out()).containsPattern("(?m)^Lead: none serving \\(the last, lead-\\d+-[0-9a-f]+ on \\S+, took"
          + " the role at \\S+\\)\\. Nothing is granted, timed out or landed until a lead starts");
      assertThat(gone.out()).doesNotContainPattern("(?m)^  web +running ")
          .containsPattern("(?m)^  web +running\\? +#1 +wa +no lead serving: last recorded as running");
      JsonNode doc = status("--json");
      assertThat(doc.get("lead").get("serving").asText()).isEqualTo("no");
      assertThat(task(doc, run).get("waitingForLead").asBoolean()).isTrue();
    }
  }

  /**
   * What needs a person: an agent's question parks its task, and status lists it under its run, with the question,
   * while the run goes on; a parked task of a finished run is counted, and {@code --all} lists it. The plans' tasks
   * require a capability only this test's worker has, so no other test's worker takes them up.
   */
  @Test
  void statusListsWhatNeedsAPersonWithTheAgentsQuestion() throws Exception {
    String bootstrap = BROKER.broker().bootstrapServers();
    Path repo = LanesRunIT.repo(dir);
    String asks = """
        agent:
          command:
            - sh
            - -c
            - |
              mkdir -p .lanes && echo '{"questions": ["Keep the old name as an alias?"]}' > .lanes/findings.json
        """;
    Path open = Files.writeString(dir.resolve("open.yaml"), "name: needs-open\n" + asks + """
        tasks:
          - {id: asks, prompt: Rename., owns: [core/], requires: [needs]}
          - {id: slow, prompt: Wait., owns: [web/], requires: [needs], agent: {command: [sh, -c, 'sleep 60']}}
        """);
    Path finished = Files.writeString(dir.resolve("finished.yaml"), "name: needs-finished\n" + asks + """
        tasks:
          - {id: asked, prompt: Rename., owns: [core/], requires: [needs]}
        """);
    KafkaBus leadBus = KafkaBus.connect(bootstrap, "clients-needs-lead", Envelope.unsigned());
    leadBus.createTopics();
    try (KafkaBus workerBus = KafkaBus.connect(bootstrap, "clients-needs-worker", Envelope.unsigned());
        Worker worker = Worker.start(workerBus, new Worker.Config("wn", "host-n", List.of("needs"), 2,
            repo.toString(), dir.resolve("wn"), Duration.ofSeconds(1), Map.of()), Clock.systemUTC());
        Lead lead = Lead.start(leadBus, repo, Clock.systemUTC(), Lead.Settings.daemon())) {
      lead.awaitActive(WITHIN);
      Lead.RunHandle ended = lead.submit(PlanParser.parse(finished));
      assertThat(ended.done()).succeedsWithin(WITHIN);
      Lead.RunHandle running = lead.submit(PlanParser.parse(open));
      await().atMost(WITHIN).until(() -> task(status("--json"), running.id()).get("state").asText().equals("parked"));

      LanesRunIT.Run status = lanes("status", "--bootstrap-servers", bootstrap, "--wait-workers", "100ms");
      assertThat(status.exit()).as(status.output()).isZero();
      assertThat(status.out()).contains("Needs a person:\n  question  " + running.id() + "/asks: The agent of asks asks"
          + " a question\n      Keep the old name as an alias?\n      can: answer, retry, cancel-task\n")
          .doesNotContain("Nothing needs a person")
          .containsPattern("\\n  [1-9]\\d* parked task\\(s\\) in finished runs: lanes status --all\\n");
      LanesRunIT.Run all = lanes("status", "--bootstrap-servers", bootstrap, "--wait-workers", "100ms", "--all");
      assertThat(all.out()).contains("  question  " + ended.id() + "/asked: The agent of asked asks a question\n"
          + "      Keep the old name as an alias?\n");

      lead.cancel(running.id(), "the test is over");
      assertThat(running.done()).succeedsWithin(WITHIN);
    } finally {
      leadBus.close();
    }
  }

  @Test
  void statusOnAClusterWithoutTopicsCreatesNone() throws Exception {
    try (EmbeddedBroker fresh = EmbeddedBroker.start(Files.createDirectories(dir.resolve("fresh")));
        KafkaBus look = KafkaBus.connect(fresh.bootstrapServers(), "clients-look")) {
      LanesRunIT.Run status = lanes("status", "--bootstrap-servers", fresh.bootstrapServers(), "--timeout", "10s");

      assertThat(status.exit()).as(status.output()).isZero();
      assertThat(status.out()).startsWith("Lead: none serving.").contains("No runs in progress.")
          .contains("\nNothing needs a person.\n");
      assertThat(look.topics()).noneMatch(t -> t.startsWith("lanes."));
    }
  }

  @Test
  void statusAgainstAPortWhereNoBrokerAnswersSaysSoInOneLineWithinItsTimeout() throws IOException {
    String nowhere = "127.0.0.1:" + freePort();

    long start = System.nanoTime();
    LanesRunIT.Run status = lanes("status", "--bootstrap-servers", nowhere, "--timeout", "2s");
    Duration took = Duration.ofNanos(System.nanoTime() - start);

    assertThat(status.exit()).isEqualTo(Main.FAILED);
    assertThat(errors(status)).containsExactly("lanes: no Kafka broker answered at " + nowhere + " within 2s (a secured"
        + " broker, such as lanes broker without --insecure, wants credentials: --kafka-config FILE)");
    assertThat(took).isLessThan(WITHIN);
  }

  @Test
  void submitAgainstAPortWhereNoBrokerAnswersSaysSoInOneLineWithinItsTimeout() throws IOException {
    String nowhere = "127.0.0.1:" + freePort();
    Path plan = Files.writeString(dir.resolve("p.yaml"), "name: p\nagent: {command: ['true']}\ntasks:\n"
        + "  - {id: a, prompt: p, owns: [a]}\n");

    long start = System.nanoTime();
    LanesRunIT.Run submit = lanes("submit", plan.toString(), "--bootstrap-servers", nowhere, "--timeout", "5s");
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    LanesRunIT.Run bare = lanes("submit", plan.toString(), "--bootstrap-servers", nowhere, "--timeout", "1");

    assertThat(submit.exit()).isEqualTo(Main.FAILED);
    assertThat(errors(submit)).singleElement().asString()
        .startsWith("lanes: no Kafka broker answered at " + nowhere + " within 5s");
    assertThat(took).isLessThan(WITHIN);
    assertThat(errors(bare)).as("a bare number is seconds, as before").singleElement().asString()
        .contains(" within 1s");
  }

  /**
   * {@code submit --timeout 5} with no lead waited 30 s and exited 1: it says within its timeout that the plan is
   * queued, exit 0. The plan requires a capability no worker of these tests has, so a lead of another test that reads
   * it later offers it and runs nothing.
   */
  @Test
  void submitWithNoLeadServingSaysWithinItsTimeoutThatThePlanIsQueued() throws IOException {
    String bootstrap = BROKER.broker().bootstrapServers();
    try (KafkaBus bus = KafkaBus.connect(bootstrap, "clients-queued", Envelope.unsigned())) {
      bus.createTopics();
      assertThat(bus.leadGroup().holder()).as("no lead serves").isEmpty();
    }
    Path repo = LanesRunIT.repo(dir);
    Path plan = Files.writeString(dir.resolve("queued.yaml"), "name: queued-nowhere\nagent: {command: ['true']}\n"
        + "tasks:\n  - {id: a, prompt: p, owns: [a], requires: [no-worker-has-this]}\n");

    long start = System.nanoTime();
    LanesRunIT.Run submit = lanes("submit", plan.toString(), "--repo", repo.toString(), "--bootstrap-servers",
        bootstrap, "--timeout", "2s");
    Duration took = Duration.ofNanos(System.nanoTime() - start);

    assertThat(submit.exit()).as(submit.output()).isZero();
    assertThat(submit.out()).containsPattern("(?m)^queued: queued-nowhere-\\S+ \\(no lead answered within 2s;");
    assertThat(errors(submit)).isEmpty();
    assertThat(took).isLessThan(WITHIN);
  }

  /** What a command printed on standard error besides the warning that it runs unsigned (no client file). */
  private static List<String> errors(LanesRunIT.Run run) {
    return run.err().lines().filter(l -> !l.startsWith("lanes: WARNING: no message keys")).toList();
  }

  private static JsonNode status(String... options) throws IOException {
    List<String> args = new java.util.ArrayList<>(List.of("status", "--bootstrap-servers",
        BROKER.broker().bootstrapServers(), "--wait-workers", "100ms"));
    args.addAll(List.of(options));
    LanesRunIT.Run run = lanes(args.toArray(String[]::new));
    assertThat(run.exit()).as(run.output()).isZero();
    return Json.mapper().readTree(run.out());
  }

  private static JsonNode task(JsonNode status, String run) {
    for (JsonNode r : status.get("runs")) {
      if (r.get("run").asText().equals(run)) {
        return r.get("tasks").get(0);
      }
    }
    return Json.mapper().createObjectNode().put("state", "absent");
  }

  private static LanesRunIT.Run lanes(String... args) {
    return LanesRunIT.lanes(args);
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
