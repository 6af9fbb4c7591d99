package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.lanes.bus.Bus;
import dev.lanes.bus.KafkaBus;
import dev.lanes.coordinator.Lead;
import dev.lanes.coordinator.RunReport;
import dev.lanes.coordinator.http.HttpServer;
import dev.lanes.coordinator.http.Token;
import dev.lanes.protocol.ActionTaken;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.PlanParser;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.Topics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard in a real headless Chromium, over a real lead: the embedded broker, four workers running scripted
 * agents in real git worktrees, and the lead's HTTP server on a random loopback port. The page is driven over the
 * DevTools protocol ({@link Chromium}) as a person would use it: opened from the address the lead prints, read as
 * rendered text, clicked with the mouse. It saves what it showed to {@code target/dashboard.png}.
 */
class DashboardIT {
  private static final Duration PATIENCE = Duration.ofSeconds(60);
  private static final String QUESTION = "Keep the old field name? <img src=x onerror=\"window.pwned=1\">";
  private static final String ANSWER = "Keep it for one release";

  @TempDir Path dir;
  private LocalCluster cluster;
  private HttpServer server;
  private Chromium browser;
  private KafkaBus observer;
  private final List<Message> events = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() throws IOException, InterruptedException {
    assertThat(Chromium.installed()).as("Debian's chromium is on the PATH (.ci/run installs it: apt-get install -y"
        + " chromium)").isTrue();
    Path repo = LanesRunIT.repo(dir);
    cluster = LocalCluster.start(dir.resolve("run"), repo, 4, List.of(), Optional.empty(),
        Lead.Settings.fixedWorkers());
    observer = cluster.bus("observer");
    observer.subscribe(Topics.EVENTS, Bus.Start.BEGINNING, events::add);
    server = HttpServer.start(HttpServer.Options.on("127.0.0.1", 0), cluster.lead(),
        Token.create(dir.resolve("state")));
    browser = Chromium.start(dir);
  }

  @AfterEach
  void stop() throws IOException {
    // The scripted agents end once these exist, so the workers need not wait for them to be stopped.
    Files.writeString(dir.resolve("release"), "");
    Files.writeString(dir.resolve("never"), "");
    if (browser != null) {
      browser.close();
    }
    if (server != null) {
      server.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void pageShowsTheRunLiveAndAnActionTakenInItReachesTheLead() throws IOException {
    Lead.RunHandle run = submit();

    browser.open(server.dashboardUrl());

    assertThat(browser.eval("location.href").asText()).as("the token left the address bar")
        .isEqualTo(server.baseUrl() + "/");
    browser.await("slow running", () -> "RUNNING".equals(rowState(run, "slow")));
    assertThat(browser.text(row(run, "slow"))).contains("slow").contains("running");
    assertThat(browser.text("[data-worker] [data-task=\"" + run.id() + "/slow\"]")).as("its worker's lane")
        .contains(run.id() + "/slow");

    browser.awaitText("the parked task's question", t -> t.contains(QUESTION));
    assertThat(browser.text("#inbox")).contains("asks").contains(QUESTION);
    assertThat(browser.count("img")).as("the agent's markup stayed text").isZero();
    assertThat(browser.eval("window.pwned === undefined").asBoolean()).isTrue();

    // A change reaches the open page over the event stream: no reload (the marker set now would not survive one).
    browser.eval("window.sameDocument = 'yes'");
    Files.writeString(dir.resolve("release"), "go\n");
    browser.await("slow landed", () -> "LANDED".equals(rowState(run, "slow")));
    assertThat(browser.eval("window.sameDocument").asText()).isEqualTo("yes");

    // The task after it runs the claude adapter (the fake claude), which reports what it cost.
    browser.await("priced landed", () -> "LANDED".equals(rowState(run, "priced")));
    browser.await("its cost", () -> browser.text("#cost").contains("$0.40"));
    assertThat(browser.text(row(run, "priced"))).contains("$0.40");
    assertThat(browser.text("#cost")).contains("dash\t$0.40").contains(run.id() + "/priced\t$0.40")
        .contains(LocalDate.now(ZoneOffset.UTC) + "\t$0.40");
    assertThat(browser.eval("window.sameDocument").asText()).isEqualTo("yes");
    browser.screenshot(Path.of("target", "dashboard.png"));

    // Answering the question in the page: the answer goes into the next attempt's prompt, and the task lands.
    browser.type("#inbox textarea[data-draft]", ANSWER);
    browser.click("#inbox button[data-action=\"answer\"]");
    await().atMost(PATIENCE).until(() -> taken(run, "answer"));
    browser.await("asks landed", () -> "LANDED".equals(rowState(run, "asks")));
    assertThat(state(run, "asks")).isEqualTo(TaskState.LANDED);
    browser.await("the question gone from Needs you", () -> !browser.text("#inbox").contains(QUESTION));

    // An action refused by the lead is shown with its JSON error, and changes nothing.
    browser.type("[data-run=\"" + run.id() + "\"] input[data-draft]", "-1");
    browser.click("[data-run=\"" + run.id() + "\"] button[data-action=\"raise-budget\"]");
    browser.await("the refusal", () -> !browser.eval("document.getElementById('error').hidden").asBoolean());
    assertThat(browser.text("#error")).contains("400").contains("{\"status\":400,\"error\":\"usd: ");

    // Cancelling a task from its row: the first click arms the button, the second sends it.
    String cancelTask = "tr[data-task=\"" + run.id() + "/victim\"] button[data-action=\"cancel-task\"]";
    browser.click(cancelTask);
    assertThat(browser.text(cancelTask)).isEqualTo("Click again to cancel");
    assertThat(state(run, "victim")).as("one click does nothing").isEqualTo(TaskState.RUNNING);
    browser.click(cancelTask);
    await().atMost(PATIENCE).until(() -> taken(run, "cancel-task"));
    await().atMost(PATIENCE).until(() -> state(run, "victim").isFinal());
    assertThat(state(run, "victim")).isNotEqualTo(TaskState.LANDED);
    browser.await("victim shown ended", () -> !"RUNNING".equals(browser.eval(
        "document.querySelector('tr[data-task=\"" + run.id() + "/victim\"]')?.dataset.state ?? null").asText()));

    // Cancelling the whole run from its header.
    String cancelRun = ".run[data-run=\"" + run.id() + "\"] button[data-action=\"cancel-run\"]";
    browser.click(cancelRun);
    assertThat(browser.text(cancelRun)).isEqualTo("Click again to cancel run");
    browser.click(cancelRun);
    await().atMost(PATIENCE).until(() -> taken(run, "cancel-run"));
    RunReport report = run.done().join();
    assertThat(report.tasks()).filteredOn(t -> t.task().equals("other"))
        .allMatch(t -> t.state() != TaskState.LANDED && t.state().isFinal());
    browser.await("the run shown finished", () -> browser.text(".run[data-run=\"" + run.id() + "\"] .run-head")
        .contains("finished"));
  }

  /** Whether the lead recorded an action of this kind on the run, taken through its HTTP API. */
  private boolean taken(Lead.RunHandle run, String action) {
    return events.stream().anyMatch(m -> m instanceof ActionTaken a && a.run().equals(run.id())
        && a.action().equals(action) && a.by().equals("http"));
  }

  /** The row of a task in the page's runs table. */
  private static String row(Lead.RunHandle run, String task) {
    return "tr[data-task=\"" + run.id() + "/" + task + "\"]";
  }

  /** The state the page shows for a task, or "null" when it shows no row for it. */
  private String rowState(Lead.RunHandle run, String task) {
    return browser.eval("document.querySelector('" + row(run, task) + "')?.dataset.state ?? null").asText();
  }

  private TaskState state(Lead.RunHandle run, String task) {
    return cluster.lead().report(run.id()).orElseThrow().tasks().stream().filter(t -> t.task().equals(task))
        .findFirst().orElseThrow().state();
  }

  @Test
  void withoutTheTokenThePageShowsThe401AndNoData() throws IOException {
    submit();

    browser.open(server.baseUrl() + "/");

    browser.await("the refusal", () -> !browser.eval("document.getElementById('error').hidden").asBoolean()
        && browser.text("#error").contains("401"));
    assertThat(browser.text("#error")).contains("{\"status\":401,\"error\":\"Authorization: ");
    assertThat(browser.count("[data-task]")).isZero();
    assertThat(browser.count("[data-worker]")).isZero();
    assertThat(browser.eval("document.getElementById('live').textContent").asText()).isEqualTo("refused");
  }

  /**
   * Five tasks: one that runs until the test releases it, one that asks a question, two that never end, and one after
   * the first that reports a cost of $0.40.
   */
  private Lead.RunHandle submit() throws IOException {
    Path agent = dir.resolve("agent.sh");
    Files.writeString(agent, """
        case "$LANES_TASK" in
          slow) while [ ! -f "%1$s/release" ]; do sleep 0.1; done; echo slow > slow.txt ;;
          asks) if printf '%%s' "$LANES_PROMPT" | grep -q "%3$s"; then echo answered > asks.txt
                else mkdir -p .lanes; printf '%%s' '{"questions": ["%2$s"]}' > .lanes/findings.json; fi ;;
          victim|other) while [ ! -f "%1$s/never" ]; do sleep 0.1; done ;;
        esac
        """.formatted(dir, QUESTION.replace("\"", "\\\""), ANSWER));
    String plan = """
        name: dash
        agent:
          command: [sh, "%s"]
        tasks:
          - id: slow
            prompt: Wait for the test, then write slow.txt.
            owns: [slow.txt]
          - id: asks
            prompt: Ask a question.
            owns: [asks.txt]
          - id: victim
            prompt: Run until cancelled.
            owns: [victim.txt]
          - id: other
            prompt: Run until the run is cancelled.
            owns: [other.txt]
          - id: priced
            prompt: "Edit. fake-cost:0.40 fake-edit:priced/file.txt"
            owns: [priced/]
            after: [slow]
            agent:
              claude: {}
              timeout: 60s
        """.formatted(agent);
    return cluster.lead().submit(PlanParser.parse(plan, "dash.yaml"));
  }
}
