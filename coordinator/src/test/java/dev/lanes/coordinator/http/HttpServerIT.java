package dev.lanes.coordinator.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lanes.bus.Bus;
import dev.lanes.bus.EmbeddedBroker;
import dev.lanes.bus.KafkaBus;
import dev.lanes.coordinator.Board;
import dev.lanes.coordinator.Lead;
import dev.lanes.coordinator.RunReport;
import dev.lanes.protocol.ActionTaken;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.PlanParser;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.TaskCancelled;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.Topics;
import dev.lanes.protocol.WorkerStatus;
import dev.lanes.testkit.GitRepo;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lead's HTTP server on a random loopback port, over a real lead on the embedded broker, attacked the ways a
 * client on the network might: no token or a wrong one on every route of the table, oversized and malformed
 * requests, paths that try to leave the dashboard; after each refusal the server still serves.
 */
class HttpServerIT {
  private static final Duration PATIENCE = Duration.ofSeconds(30);

  @TempDir Path dir;
  private EmbeddedBroker broker;
  private KafkaBus bus;
  private GitRepo repo;
  private Lead lead;
  private Token token;
  private HttpServer server;
  private final HttpClient client = HttpClient.newHttpClient();
  private final List<Message> seen = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() {
    broker = EmbeddedBroker.start(dir.resolve("kafka"));
    bus = KafkaBus.connect(broker.bootstrapServers(), "http-test");
    repo = GitRepo.sample(dir.resolve("repo"));
    lead = Lead.start(bus, repo.dir(), Clock.systemUTC());
    lead.awaitActive(PATIENCE);
    bus.subscribe(Topics.WORK, Bus.Start.BEGINNING, seen::add);
    bus.subscribe(Topics.EVENTS, Bus.Start.BEGINNING, seen::add);
    token = Token.create(dir.resolve("state"));
    server = start(HttpServer.Options.on("127.0.0.1", 0));
  }

  private HttpServer start(HttpServer.Options options) {
    return HttpServer.start(options.withDashboard("dev/lanes/coordinator/http/testdashboard/"), lead, token);
  }

  @AfterEach
  void tearDown() {
    server.close();
    lead.close();
    bus.close();
    broker.close();
  }

  @Test
  void anAddressInUse_isRefusedAsBadInput_andTheFirstServerStillServes() throws Exception {
    int port = server.address().getPort();
    assertThatThrownBy(() -> start(HttpServer.Options.on("127.0.0.1", port)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--http: cannot serve on 127.0.0.1:" + port);
    HttpResponse<String> state = client.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/api/state"))
        .header("Authorization", "Bearer " + token.value()).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(state.statusCode()).isEqualTo(200);
  }

  @Test
  void everyGuardedRoute_withoutTheTokenOrWithAWrongOne_is401AndDoesNothing() throws Exception {
    Lead.RunHandle run = submitWithWorker();
    List<Routes.Route> table = new Routes(lead, HttpServer.Options.on("127.0.0.1", 0), Runnable::run,
        new java.util.concurrent.atomic.AtomicInteger()).table();
    assertThat(table).filteredOn(Routes.Route::guarded).hasSizeGreaterThanOrEqualTo(12);
    List<Optional<String>> wrong = List.of(Optional.empty(), Optional.of("Bearer " + token.value() + "x"),
        Optional.of("Bearer " + token.value().substring(1)), Optional.of("Bearer "), Optional.of(token.value()),
        Optional.of("Basic " + token.value()));
    for (Routes.Route route : table) {
      String path = route.template().contains("{run}") ? route.template().replace("{run}", run.id())
          .replace("{task}", "core") : route.example();
      for (Optional<String> authorization : wrong) {
        HttpResponse<String> response = request(route.method(), path, authorization, "{\"usd\": 5, \"text\": \"x\"}");
        if (route.guarded()) {
          assertThat(response.statusCode()).as(route.method() + " " + path + " with " + authorization).isEqualTo(401);
          assertThat(json(response).path("error").asText()).startsWith("Authorization: ");
          assertThat(response.headers().firstValue("WWW-Authenticate")).contains("Bearer");
        } else {
          assertThat(response.statusCode()).as(route.method() + " " + path).isIn(200, 404);
        }
      }
    }
    // Paths no route has are refused the same way under /api/: nobody learns which exist without the token.
    assertThat(request("GET", "/api/secrets", Optional.empty(), "").statusCode()).isEqualTo(401);
    assertThat(request("GET", "/metrics/x", Optional.empty(), "").statusCode()).isEqualTo(401);
    assertThat(get("/api/secrets").statusCode()).isEqualTo(404);
    // Nothing was cancelled by any of it.
    assertThat(seen).noneMatch(m -> m instanceof ActionTaken);
    assertThat(lead.report(run.id()).orElseThrow().tasks()).allMatch(t -> !t.state().isFinal());
  }

  @Test
  void state_showsARunningTaskItsWorkerAndPhase() throws Exception {
    Lead.RunHandle run = submitWithWorker();
    TaskOffered core = grant(run, "core", "w1");
    bus.publish(new Heartbeat(run.id(), "core", core.epoch(), "w1", "agent", "editing core/A.java"));
    Awaitility.await().atMost(PATIENCE).until(() -> task(json(get("/api/state")), run.id(), "core")
        .path("phase").asText().equals("agent"));

    JsonNode state = json(get("/api/state"));
    JsonNode runNode = state.path("runs").get(0);
    assertThat(runNode.path("run").asText()).isEqualTo(run.id());
    assertThat(runNode.path("state").asText()).isEqualTo("running");
    assertThat(runNode.path("plan").asText()).isEqualTo("sample");
    JsonNode task = task(state, run.id(), "core");
    assertThat(task.path("state").asText()).isEqualTo("RUNNING");
    assertThat(task.path("worker").asText()).isEqualTo("w1");
    assertThat(task.path("claims").get(0).asText()).isEqualTo("core/");
    assertThat(task.path("epoch").asInt()).isEqualTo(core.epoch());
    assertThat(task(state, run.id(), "docs").path("after").get(0).asText()).isEqualTo("core");
    assertThat(runNode.path("orderings").get(0).path("before").asText()).isEqualTo("core");
    JsonNode worker = state.path("workers").get(0);
    assertThat(worker.path("worker").asText()).isEqualTo("w1");
    assertThat(worker.path("tasks").get(0).asText()).isEqualTo(run.id() + "/core");
    assertThat(worker.path("free").asInt()).isEqualTo(1);
    assertThat(state.path("lead").path("name").asText()).startsWith("lead-");
    assertThat(state.path("inbox").isArray()).isTrue();
    assertThat(state.path("queue").get(0).path("window").asInt()).isEqualTo(Lead.Settings.DEFAULT_WINDOW);

    JsonNode log = json(get("/api/runs/" + run.id() + "/tasks/core/log"));
    assertThat(log.path("phase").asText()).isEqualTo("agent");
    assertThat(log.path("detail").asText()).isEqualTo("editing core/A.java");
    assertThat(get("/api/runs/" + run.id() + "/tasks/nope/log").statusCode()).isEqualTo(404);
    assertThat(json(get("/api/runs/" + run.id() + "/tasks/NOPE/log")).path("error").asText())
        .startsWith("task: \"NOPE\" is not a task id");
  }

  @Test
  void anAgentsQuestion_isInTheStatesInbox_andComesAsAnInboxEvent() throws Exception {
    bus.publish(new WorkerStatus("w1", "host", List.of(), 2, 0));
    Awaitility.await().atMost(PATIENCE).until(() -> lead.knownWorkers() == 1);
    // A second task still running keeps the run, and so its question, open.
    Lead.RunHandle run = lead.submit(PlanParser.parse("name: sample\nagent: {command: [sh, -c, \"true\"]}\ntasks:\n"
        + "  - {id: core, prompt: p, owns: [core/]}\n  - {id: api, prompt: p, owns: [api/]}\n", "plan.yaml"));
    try (Sse sse = Sse.open(server, token, Optional.empty())) {
      grant(run, "api", "w1");
      TaskOffered core = grant(run, "core", "w1");
      bus.publish(new dev.lanes.protocol.Finding(run.id(), "core", core.epoch(), "w1",
          dev.lanes.protocol.Finding.QUESTION, "Keep the old name as an alias?", List.of()));
      bus.publish(new dev.lanes.protocol.TaskResult(run.id(), "core", core.epoch(), "w1",
          dev.lanes.protocol.TaskResult.Outcome.AGENT_FAILED, core.branch(), Optional.empty(), List.of(), 1, -1, "",
          "", 10, Optional.of("agent exited with 1"), Optional.empty()));
      Sse.Event came = sse.await(e -> e.kind().equals("inbox"));
      assertThat(came.data()).contains("\"added\":true", "Keep the old name as an alias?");
    }
    JsonNode item = json(get("/api/state")).path("inbox").get(0);
    assertThat(item.path("kind").asText()).isEqualTo("question");
    assertThat(item.path("run").asText()).isEqualTo(run.id());
    assertThat(item.path("task").asText()).isEqualTo("core");
    assertThat(item.path("actions").toString()).contains("answer");

    // Only what no decision settles is dismissed; a question leaves when it is answered, retried or cancelled.
    String id = item.path("id").asText();
    assertError(request("POST", "/api/inbox/dismiss", auth(), "{\"id\":\"" + id + "\"}"), 409, "id: \"" + id
        + "\" is a question item, which leaves when it is settled (answer, retry, cancel-task), not dismissed");
    assertError(request("POST", "/api/inbox/dismiss", auth(), "{\"id\":\"worker-lost:nobody\"}"), 404,
        "id: \"worker-lost:nobody\" is not an open item of the inbox");
    assertError(request("POST", "/api/inbox/dismiss", auth(), ""), 400, "id: missing");
    assertError(request("POST", "/api/inbox/dismiss", auth(), "{\"id\":7}"), 400, "id: 7 is not an item's id");
    assertError(request("POST", "/api/inbox/dismiss", auth(), "{\"id\":\"x\",\"all\":true}"), 400,
        "all: not a field this action takes (it takes id)");
    assertThat(json(get("/api/state")).path("inbox")).hasSize(1);
  }

  @Test
  void events_resumeFromLastEventId_andAClientTooFarBehindIsToldToReset() throws Exception {
    Lead.RunHandle run = submitWithWorker();
    long before;
    try (Sse sse = Sse.open(server, token, Optional.empty())) {
      grant(run, "core", "w1");
      Sse.Event running = sse.await(e -> e.kind().equals("task") && e.data().contains("\"RUNNING\""));
      before = running.id();
    }
    // While nobody listens, the task's worker changes phase; a client that comes back from `before` is told.
    bus.publish(new Heartbeat(run.id(), "core", 1, "w1", "verify", ""));
    Awaitility.await().atMost(PATIENCE).until(() -> lead.board().lastEventId() > before);
    try (Sse sse = Sse.open(server, token, Optional.of(before))) {
      Sse.Event next = sse.await(e -> true);
      assertThat(next.id()).isEqualTo(before + 1);
      sse.await(e -> e.kind().equals("task") && e.data().contains("\"verify\""));
    }
    // More changes than the board keeps: a client from before all of them must read the state again.
    for (int i = 0; i < Board.EVENTS_KEPT + 10; i++) {
      bus.publish(new WorkerStatus("w1", "host", List.of(), 2, 0));
    }
    Awaitility.await().atMost(PATIENCE).until(() -> lead.board().lastEventId() > before + Board.EVENTS_KEPT + 1);
    try (Sse sse = Sse.open(server, token, Optional.of(before))) {
      Sse.Event reset = sse.await(e -> true);
      assertThat(reset.kind()).isEqualTo("reset");
      assertThat(reset.data()).contains("read /api/state again");
    }
    HttpResponse<String> bad = request("GET", "/api/events", auth(), "", "Last-Event-ID", "12; DROP");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(json(bad).path("error").asText()).startsWith("Last-Event-ID: \"12; DROP\" is not an event number");
  }

  @Test
  void tooManyEventStreams_areRefusedWith503_andAClosedOneFreesItsPlace() throws Exception {
    server.close();
    server = start(HttpServer.Options.on("127.0.0.1", 0).withLimits(1, Duration.ofSeconds(60)));
    try (Sse first = Sse.open(server, token, Optional.empty())) {
      HttpResponse<String> second = get("/api/events");
      assertThat(second.statusCode()).isEqualTo(503);
      assertThat(json(second).path("error").asText()).contains("1 event streams are open");
    }
    Awaitility.await().atMost(PATIENCE).until(() -> {
      try (Sse again = Sse.open(server, token, Optional.empty())) {
        return true;
      } catch (IllegalStateException e) {
        return false;
      }
    });
  }

  @Test
  void aConnectionThatSaysNothing_isClosedAfterTheIdleTimeout_andAHalfSentRequestToo() throws Exception {
    server.close();
    server = start(HttpServer.Options.on("127.0.0.1", 0).withLimits(16, Duration.ofMillis(300)));
    for (String said : List.of("", "GET /api/state HTTP/1.1\r\nHost: x\r\n")) {
      try (Socket socket = new Socket("127.0.0.1", server.address().getPort())) {
        socket.setSoTimeout(10_000);
        socket.getOutputStream().write(said.getBytes(StandardCharsets.US_ASCII));
        long start = System.nanoTime();
        assertThat(socket.getInputStream().read()).as("closed without an answer").isEqualTo(-1);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
      }
    }
    assertThat(get("/api/state").statusCode()).isEqualTo(200);
  }

  @Test
  void oversizedAndMalformedRequests_areRefusedInJson_andTheServerStillServes() throws Exception {
    String auth = "Authorization: Bearer " + token.value() + "\r\n";
    assertRaw("GET /" + "a".repeat(HttpServer.MAX_LINE + 10) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, "request line:");
    assertRaw("GET /api/state HTTP/1.1\r\nHost: x\r\n" + auth + "X-Big: " + "b".repeat(HttpServer.MAX_HEADERS + 10)
        + "\r\n\r\n", 431, "headers:");
    int big = HttpServer.MAX_BODY + 1;
    assertRaw("POST /api/runs/r1/budget HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Type: application/json\r\n"
        + "Content-Length: " + big + "\r\n\r\n" + "{".repeat(big), 413, "body:");
    assertRaw("\u0000\u0001\u0002 garbage\r\n\r\n", 400, "request:");

    Lead.RunHandle run = submitWithWorker();
    String budget = "/api/runs/" + run.id() + "/budget";
    assertError(request("POST", budget, auth(), "{\"usd\": "), 400, "body: not JSON");
    assertError(request("POST", budget, auth(), "[1, 2]"), 400, "body: [1, 2] is not a JSON object with usd");
    assertError(request("POST", budget, auth(), "{\"usd\": \"ten\"}"), 400, "usd: \"ten\" is not a number");
    assertError(request("POST", budget, auth(), "{\"usd\": -1}"), 400, "usd: -1.0 must be a positive number");
    assertError(request("POST", budget, auth(), "{\"usd\": 5, \"admin\": true}"), 400,
        "admin: not a field this action takes (it takes usd)");
    String answer = "/api/runs/" + run.id() + "/tasks/core/answer";
    assertError(request("POST", answer, auth(), "{\"text\": 42}"), 400, "text: 42 is not a string");
    assertError(request("POST", answer, auth(), "{\"text\": \"  \"}"), 400, "text: \"  \" is blank");
    assertError(request("POST", "/api/runs/Bad%2FRun/cancel", auth(), ""), 400, "run: \"Bad%2FRun\" is not a run id");
    assertError(request("DELETE", "/api/state", auth(), ""), 405, "method: DELETE is not served here");
    assertError(request("PUT", "/api/runs/" + run.id() + "/cancel", auth(), ""), 405, "method: PUT");
    assertError(request("GET", "/api/runs/" + run.id() + "/cancel", auth(), ""), 405, "it takes POST");
    assertError(request("POST", "/api/state", auth(), ""), 405, "it takes GET");
    assertError(request("GET", "/api/nothing", auth(), ""), 404, "path: /api/nothing is not a route");

    assertThat(seen).noneMatch(m -> m instanceof ActionTaken);
    assertThat(get("/api/state").statusCode()).isEqualTo(200);
  }

  @Test
  void dashboardFiles_areServedWithoutTheToken_withTheirTypeAndSecurityHeaders_andNothingOutsideThem()
      throws Exception {
    HttpResponse<String> index = request("GET", "/", Optional.empty(), "");
    assertThat(index.statusCode()).isEqualTo(200);
    assertThat(index.body()).contains("test dashboard");
    assertThat(index.headers().firstValue("Content-Type")).contains("text/html; charset=utf-8");
    assertThat(index.headers().firstValue("Content-Security-Policy").orElseThrow()).startsWith("default-src 'self'");
    assertThat(index.headers().firstValue("X-Content-Type-Options")).contains("nosniff");
    assertThat(request("GET", "/app.js", Optional.empty(), "").headers().firstValue("Content-Type"))
        .contains("text/javascript; charset=utf-8");
    assertThat(request("GET", "/app.css", Optional.empty(), "").headers().firstValue("Content-Type"))
        .contains("text/css; charset=utf-8");
    HttpResponse<String> api = get("/api/state");
    assertThat(api.headers().firstValue("Cache-Control")).contains("no-store");
    assertThat(api.headers().firstValue("Content-Type")).contains("application/json; charset=utf-8");

    for (String path : List.of("/../pom.xml", "/..%2F..%2Fpom.xml", "/%2e%2e/testdashboard/index.html",
        "/.hidden", "/index.html%00.js", "/testdashboard", "/dev/lanes/coordinator/http/Token.class",
        "/HttpServer.class", "/nothing.js")) {
      assertThat(rawStatus("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")).as(path).isIn(400, 404);
    }
  }

  @Test
  void cancelRun_isRecordedNamingHttp_andEndsTheRun_whileARetryOfARunningTaskAnswers409() throws Exception {
    Lead.RunHandle run = submitWithWorker();
    grant(run, "core", "w1");
    HttpResponse<String> retry = request("POST", "/api/runs/" + run.id() + "/tasks/core/retry", auth(), "");
    assertError(retry, 409, "task: \"core\" is running; only a failed or parked task is retried");
    assertError(request("POST", "/api/runs/no-such-run/cancel", auth(), ""), 404,
        "run: \"no-such-run\" is not a run this lead holds");
    assertError(request("POST", "/api/runs/" + run.id() + "/tasks/nope/cancel", auth(), ""), 404,
        "task: \"nope\" is not a task of run " + run.id());

    HttpResponse<String> cancelled = request("POST", "/api/runs/" + run.id() + "/cancel", auth(), "");
    assertThat(cancelled.statusCode()).as(cancelled.body()).isEqualTo(200);
    assertThat(json(cancelled).path("by").asText()).isEqualTo("http");
    ActionTaken taken = await(ActionTaken.class, a -> a.run().equals(run.id()));
    assertThat(taken.action()).isEqualTo("cancel-run");
    assertThat(taken.by()).isEqualTo("http");
    await(RunFinished.class, f -> f.run().equals(run.id()));
    assertError(request("POST", "/api/runs/" + run.id() + "/cancel", auth(), ""), 409, "run: \"" + run.id()
        + "\" has finished");
    assertThat(json(get("/api/state")).path("runs").get(0).path("state").asText()).isEqualTo("finished");
  }

  @Test
  void cancelTask_withdrawsTheAttemptFromItsWorker_skipsItsDependents_andIsRefusedOnceItEnded() throws Exception {
    Lead.RunHandle run = submitWithWorker();
    TaskOffered core = grant(run, "core", "w1");
    HttpResponse<String> cancelled = request("POST", "/api/runs/" + run.id() + "/tasks/core/cancel", auth(), "{}");
    assertThat(cancelled.statusCode()).as(cancelled.body()).isEqualTo(200);
    ActionTaken taken = await(ActionTaken.class, a -> a.run().equals(run.id()));
    assertThat(taken.action()).isEqualTo("cancel-task");
    assertThat(taken.task()).contains("core");
    assertThat(taken.by()).isEqualTo("http");
    TaskCancelled withdrawn = await(TaskCancelled.class, c -> c.task().equals("core"));
    assertThat(withdrawn.epoch()).isEqualTo(core.epoch());
    RunFinished finished = await(RunFinished.class, f -> f.run().equals(run.id()));
    assertThat(finished.landed()).isEmpty();
    RunReport report = run.done().get(30, TimeUnit.SECONDS);
    assertThat(report.tasks()).extracting(RunReport.Row::task, RunReport.Row::state).containsExactly(
        org.assertj.core.groups.Tuple.tuple("core", TaskState.FAILED),
        org.assertj.core.groups.Tuple.tuple("docs", TaskState.SKIPPED));
    assertThat(report.tasks().get(0).detail()).isEqualTo("cancelled: cancelled by http");
    // The action comes before its effect in the log.
    assertThat(seen.indexOf(taken)).isLessThan(seen.indexOf(seen.stream().filter(m -> m instanceof TaskUpdate u
        && u.task().equals("core") && u.state() == TaskState.FAILED).findFirst().orElseThrow()));
  }

  @Test
  void cost_addsUpTheLedgersEntries_byTaskRunPlanAndDay_andTheResultsOutputIsTheTasksLog() throws Exception {
    Lead.RunHandle run = submitWithWorker();
    TaskOffered core = grant(run, "core", "w1");
    String commit = repo.commitOnto(core.baseCommit(), core.branch(), java.util.Map.of("core/a.txt", "a\n"));
    bus.publish(new dev.lanes.protocol.TaskResult(run.id(), "core", core.epoch(), "w1",
        dev.lanes.protocol.TaskResult.Outcome.PASSED, core.branch(), Optional.of(commit), List.of("core/a.txt"), 0, 0,
        "agent: edited core/a.txt\n", "verify: 3 tests passed\n", 10, Optional.empty(),
        Optional.of(new dev.lanes.protocol.AgentUsage(0.1, 3, "s1", "success", false))));
    await(dev.lanes.protocol.UsageRecorded.class, u -> u.task().equals("core"));
    TaskOffered docs = grant(run, "docs", "w1");
    bus.publish(new dev.lanes.protocol.TaskResult(run.id(), "docs", docs.epoch(), "w1",
        dev.lanes.protocol.TaskResult.Outcome.AGENT_FAILED, docs.branch(), Optional.empty(), List.of(), 1, -1,
        "agent gave up\n", "", 10, Optional.of("agent exited with 1"),
        Optional.of(new dev.lanes.protocol.AgentUsage(0.2, 5, "s2", "error_max_turns", true))));
    await(dev.lanes.protocol.UsageRecorded.class, u -> u.task().equals("docs"));
    Awaitility.await().atMost(PATIENCE).until(() -> json(get("/api/state")).path("cost").path("totalUsd").asDouble()
        > 0.29);

    JsonNode state = json(get("/api/state"));
    // 0.1 + 0.2 in doubles is 0.30000000000000004; the ledger's decimals add up to what the agents said.
    assertThat(state.path("cost").path("totalUsd").asText()).isEqualTo("0.3");
    assertThat(state.path("cost").path("today").asText()).isEqualTo("0.3");
    assertThat(state.path("cost").path("byPlan").path("sample").asText()).isEqualTo("0.3");
    assertThat(state.path("runs").get(0).path("costUsd").asDouble()).isEqualTo(0.3, org.assertj.core.data.Offset
        .offset(1e-9));
    assertThat(task(state, run.id(), "core").path("costUsd").asDouble()).isEqualTo(0.1);
    assertThat(task(state, run.id(), "docs").path("costUsd").asDouble()).isEqualTo(0.2);
    assertThat(get("/metrics").body()).contains("lanes_cost_usd{plan=\"sample\"} 0.3");

    JsonNode log = json(get("/api/runs/" + run.id() + "/tasks/docs/log"));
    assertThat(log.path("outcome").asText()).isEqualTo("AGENT_FAILED");
    assertThat(log.path("agentTail").asText()).isEqualTo("agent gave up\n");
    assertThat(log.path("detail").asText()).isEqualTo("agent exited with 1");
    assertThat(json(get("/api/runs/" + run.id() + "/tasks/core/log")).path("verifyTail").asText())
        .isEqualTo("verify: 3 tests passed\n");
  }

  @Test
  void metrics_arePrometheusTextBehindTheToken_unlessOpened() throws Exception {
    Lead.RunHandle run = submitWithWorker();
    grant(run, "core", "w1");
    HttpResponse<String> metrics = get("/metrics");
    assertThat(metrics.statusCode()).isEqualTo(200);
    assertThat(metrics.headers().firstValue("Content-Type").orElseThrow()).startsWith("text/plain; version=0.0.4");
    assertThat(metrics.body()).contains("lanes_tasks{state=\"running\"} 1.0", "lanes_tasks{state=\"waiting\"} 1.0",
        "lanes_attempts_total 1.0", "lanes_dispatch_latency_seconds_bucket", "lanes_dispatch_latency_seconds_count 1",
        "lanes_workers 1.0", "lanes_worker_slots_free 1.0", "lanes_queue_window 4.0", "lanes_queue_depth 0.0",
        "lanes_evictions_total 0.0", "lanes_lease_expiries_total 0.0", "lanes_messages_dead_lettered_total 0.0",
        "lanes_messages_rejected_total");
    assertThat(request("GET", "/metrics", Optional.empty(), "").statusCode()).isEqualTo(401);

    server.close();
    server = start(HttpServer.Options.on("127.0.0.1", 0).withMetricsPublic(true));
    assertThat(request("GET", "/metrics", Optional.empty(), "").statusCode()).isEqualTo(200);
    assertThat(request("GET", "/api/state", Optional.empty(), "").statusCode()).isEqualTo(401);
  }

  @Test
  void theTokenFile_isReadableByItsOwnerOnly_andTheDashboardUrlCarriesTheToken() throws Exception {
    Path file = dir.resolve("state").resolve(Token.FILE);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
    assertThat(Files.readString(file).strip()).isEqualTo(token.value()).matches("[A-Za-z0-9_-]{43}");
    assertThat(Token.read(file).admits(Optional.of("Bearer " + token.value()))).isTrue();
    assertThat(server.dashboardUrl()).isEqualTo("http://127.0.0.1:" + server.address().getPort() + "/#token="
        + token.value());
    assertThat(Token.create(dir.resolve("state")).value()).isNotEqualTo(token.value());
  }

  // ---- helpers ----

  private Lead.RunHandle submitWithWorker() {
    bus.publish(new WorkerStatus("w1", "host", List.of(), 2, 0));
    Awaitility.await().atMost(PATIENCE).until(() -> lead.knownWorkers() == 1);
    return lead.submit(PlanParser.parse("name: sample\nagent: {command: [sh, -c, \"true\"]}\ntasks:\n"
        + "  - {id: core, prompt: p, owns: [core/]}\n  - {id: docs, prompt: p, owns: [docs/], after: [core]}\n",
        "plan.yaml"));
  }

  private TaskOffered grant(Lead.RunHandle run, String task, String worker) {
    TaskOffered offer = await(TaskOffered.class, o -> o.run().equals(run.id()) && o.task().equals(task));
    bus.publish(new ClaimRequested(run.id(), task, offer.epoch(), worker));
    await(ClaimGranted.class, g -> g.task().equals(task) && g.worker().equals(worker));
    return offer;
  }

  private <T extends Message> T await(Class<T> type, Predicate<T> which) {
    Awaitility.await().atMost(PATIENCE)
        .until(() -> seen.stream().anyMatch(m -> type.isInstance(m) && which.test(type.cast(m))));
    return seen.stream().filter(type::isInstance).map(type::cast).filter(which).findFirst().orElseThrow();
  }

  private static JsonNode task(JsonNode state, String run, String task) {
    for (JsonNode r : state.path("runs")) {
      if (r.path("run").asText().equals(run)) {
        for (JsonNode t : r.path("tasks")) {
          if (t.path("task").asText().equals(task)) {
            return t;
          }
        }
      }
    }
    return Json.mapper().createObjectNode();
  }

  private Optional<String> auth() {
    return Optional.of("Bearer " + token.value());
  }

  private HttpResponse<String> get(String path) throws Exception {
    return request("GET", path, auth(), "");
  }

  private HttpResponse<String> request(String method, String path, Optional<String> authorization, String body,
      String... headers) throws Exception {
    HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
        .timeout(Duration.ofSeconds(10))
        .method(method, body.isEmpty() ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    authorization.ifPresent(a -> builder.header("Authorization", a));
    if (headers.length > 0) {
      builder.headers(headers);
    }
    return client.send(builder.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> response) throws IOException {
    return Json.mapper().readTree(response.body());
  }

  private static void assertError(HttpResponse<String> response, int status, String message) throws IOException {
    assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
    assertThat(response.headers().firstValue("Content-Type")).contains("application/json; charset=utf-8");
    JsonNode body = json(response);
    assertThat(body.path("status").asInt()).isEqualTo(status);
    assertThat(body.path("error").asText()).contains(message);
  }

  /** Sends bytes as they are, for requests no client library would send; returns the status line and body. */
  private String raw(String request) throws IOException {
    try (Socket socket = new Socket("127.0.0.1", server.address().getPort())) {
      socket.setSoTimeout(10_000);
      OutputStream out = socket.getOutputStream();
      try {
        out.write(request.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
      } catch (IOException e) {
        // the server may answer and close before it read everything: the answer is still there to read
      }
      return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private int rawStatus(String request) throws IOException {
    String answer = raw(request.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"));
    return Integer.parseInt(answer.substring(9, 12));
  }

  private void assertRaw(String request, int status, String message) throws Exception {
    String answer = raw(request);
    assertThat(answer).startsWith("HTTP/1.1 " + status);
    assertThat(answer).contains("\"status\":" + status).contains("\"error\":\"" + message);
    assertThat(get("/api/state").statusCode()).isEqualTo(200);
  }

  /** A change stream read on a thread of its own, line by line, into events. */
  static final class Sse implements AutoCloseable {
    record Event(long id, String kind, String data) {}

    private final Socket socket;
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();

    private Sse(Socket socket) {
      this.socket = socket;
    }

    static Sse open(HttpServer server, Token token, Optional<Long> lastEventId) throws IOException {
      Socket socket = new Socket("127.0.0.1", server.address().getPort());
      socket.getOutputStream().write(("GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token.value()
          + "\r\n" + lastEventId.map(id -> "Last-Event-ID: " + id + "\r\n").orElse("") + "\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      InputStream in = socket.getInputStream();
      BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
      String status = reader.readLine();
      if (status == null || !status.startsWith("HTTP/1.1 200")) {
        socket.close();
        throw new IllegalStateException("the stream was refused: " + status);
      }
      Sse sse = new Sse(socket);
      Thread t = new Thread(() -> sse.read(reader), "sse-test-reader");
      t.setDaemon(true);
      t.start();
      return sse;
    }

    private void read(BufferedReader reader) {
      try {
        long id = -1;
        String kind = "";
        List<String> data = new ArrayList<>();
        for (String line; (line = reader.readLine()) != null; ) {
          // chunk sizes of the chunked encoding come as lines of hex digits: they are not part of the stream
          if (line.startsWith("id: ")) {
            id = Long.parseLong(line.substring(4));
          } else if (line.startsWith("event: ")) {
            kind = line.substring(7);
          } else if (line.startsWith("data: ")) {
            data.add(line.substring(6));
            events.add(new Event(id, kind, String.join("\n", data)));
            id = -1;
            kind = "";
            data.clear();
          }
        }
      } catch (IOException e) {
        // closed
      }
    }

    Event await(Predicate<Event> which) throws InterruptedException {
      long deadline = System.nanoTime() + PATIENCE.toNanos();
      while (System.nanoTime() < deadline) {
        Event e = events.poll(100, TimeUnit.MILLISECONDS);
        if (e != null && which.test(e)) {
          return e;
        }
      }
      throw new AssertionError("no such event within " + PATIENCE);
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}
