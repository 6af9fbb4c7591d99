package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lanes.protocol.ActionRefused;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.RunBudget;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.UsageRecorded;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A plan's budget on Lanes as separate processes on a secured broker: a lead and a worker, each a process of its own,
 * the worker running the fake {@code claude} that the build puts on the PATH (real stream-json, a fixed cost per run),
 * and the client commands a person uses with the submitter's credential: {@code lanes submit}, {@code lanes cost} and
 * {@code lanes budget}.
 */
class BudgetIT {
  private static final Duration LONG = Duration.ofMinutes(3);

  @TempDir Path dir;
  private ProcessCluster cluster;
  private Path repo;

  @BeforeEach
  void setUp() throws IOException {
    repo = LanesRunIT.repo(dir);
    cluster = new ProcessCluster(dir);
    cluster.startBroker();
    cluster.startLead("lead", repo, "60s", 1);
    cluster.startWorker("w1", repo);
  }

  @AfterEach
  void tearDown() {
    cluster.close();
  }

  @Test
  void aRunStopsAfterTheAttemptThatCrossesItsBudgetTheLedgerAddsUpAndARaisedBudgetLandsTheRest() throws Exception {
    // A chain, so that attempts run one at a time: 0.40, 0.80, then 1.20 crosses the budget of 1.00.
    Path plan = Files.writeString(dir.resolve("budget.yaml"), """
        name: budget
        budget-usd: 1.00
        agent:
          claude: {}
          timeout: 60s
        tasks:
          - {id: a, prompt: "Edit. fake-cost:0.40 fake-edit:a/file.txt", owns: [a/]}
          - {id: b, prompt: "Edit. fake-cost:0.40 fake-edit:b/file.txt", owns: [b/], after: [a]}
          - {id: c, prompt: "Edit. fake-cost:0.40 fake-edit:c/file.txt", owns: [c/], after: [b]}
          - {id: d, prompt: "Edit. fake-cost:0.40 fake-edit:d/file.txt", owns: [d/], after: [c]}
        """);
    Cli submitted = lanes("submit", plan.toString(), "--repo", repo.toString());
    assertThat(submitted.exit()).as(submitted.output()).isZero();
    String run = submitted.out().strip().lines().reduce((first, last) -> last).orElseThrow();

    cluster.awaitUpdate(run, u -> u.task().equals("c") && u.state() == TaskState.LANDED, LONG);
    TaskUpdate held = cluster.awaitUpdate(run, u -> u.task().equals("d") && u.state() == TaskState.OFFERED, LONG);
    RunBudget paused = budgets(run).get(0);
    assertThat(paused.paused()).contains(RunBudget.BUDGET);
    assertThat(paused.spentUsd()).isEqualByComparingTo("1.20");
    assertThat(paused.detail()).startsWith("spent $1.20 of the run's budget of $1.00; no new attempt starts");

    Cli cost = lanes("cost", "--json", "--by", "task");
    assertThat(cost.exit()).as(cost.output()).isZero();
    JsonNode ledger = Json.mapper().readTree(cost.out());
    assertThat(ledger.path("totalUsd").decimalValue()).as("exactly what the three agents reported")
        .isEqualByComparingTo(new BigDecimal("0.40").multiply(BigDecimal.valueOf(3)));
    assertThat(ledger.path("attempts").asInt()).isEqualTo(3);
    assertThat(ledger.path("groups")).extracting(g -> g.path("key").asText())
        .containsExactly(run + "/a", run + "/b", run + "/c");
    assertThat(ledger.path("runs").get(0).path("paused").asText()).isEqualTo(RunBudget.BUDGET);
    assertThat(cluster.events()).filteredOn(UsageRecorded.class::isInstance)
        .allSatisfy(u -> assertThat(((UsageRecorded) u).model()).isEqualTo("claude-sonnet-4-5-20250929"));

    assertThat(cluster.events()).as("d is decided, but no worker is granted it while the run is paused")
        .noneMatch(m -> m instanceof TaskUpdate u && u.task().equals("d") && u.state() == TaskState.RUNNING);
    assertThat(held.epoch()).isEqualTo(1);

    Cli tooLow = lanes("budget", run, "--usd", "1.20");
    assertThat(tooLow.exit()).as(tooLow.output()).isEqualTo(2);
    assertThat(tooLow.err()).contains("lanes: the lead refused: usd: 1.2 must be more than the $1.20 run " + run
        + " has already spent");
    Cli raised = lanes("budget", run, "--usd", "2");
    assertThat(raised.exit()).as(raised.output()).isZero();
    assertThat(raised.out()).contains("run " + run + ": budget $2.00, spent $1.20, running");

    RunFinished finished = cluster.awaitFinished(run, LONG);
    assertThat(finished.landed()).containsExactly("a", "b", "c", "d");
    assertThat(Demo.git(repo, "show", "lanes/budget:d/file.txt")).isEqualTo("edited by claude\n");
    JsonNode after = Json.mapper().readTree(lanes("cost", "--json").out());
    assertThat(after.path("totalUsd").decimalValue()).isEqualByComparingTo("1.60");
    assertThat(after.path("groups").get(0).path("key").asText()).isEqualTo("budget");
    assertThat(budgets(run)).extracting(b -> b.paused().orElse("running")).containsExactly("budget", "running");
  }

  @Test
  void budgetRequestsThatCannotBeAreRefusedWithTheReasonAndChangeNothing() {
    Cli unknown = lanes("budget", "no-such-run", "--usd", "5");
    assertThat(unknown.exit()).as(unknown.output()).isEqualTo(2);
    assertThat(unknown.err()).contains("lanes: the lead refused: run: \"no-such-run\" is not a run this lead holds");
    for (String usd : List.of("-1", "0", "1e400", "2.0000001")) {
      Cli bad = lanes("budget", "no-such-run", "--usd", usd);
      assertThat(bad.exit()).as(usd + ": " + bad.output()).isEqualTo(2);
      assertThat(bad.err()).as(usd).contains("lanes: --usd: ").contains("is not a budget");
    }
    Cli nan = lanes("budget", "no-such-run", "--usd", "NaN");
    assertThat(nan.exit()).as(nan.output()).isEqualTo(2);
    assertThat(nan.err()).contains("--usd");
    Cli forged = lanes("budget", "no-such-run", "--usd", "5", "--kafka-config", cluster.clientFile("worker")
        .toString());
    assertThat(forged.exit()).as("a worker's credential may not ask: " + forged.output()).isEqualTo(1);
    assertThat(forged.err()).contains("this credential may not read it");
    assertThat(cluster.events()).as("only the request for an unknown run reached the lead, and was refused")
        .filteredOn(m -> m instanceof ActionRefused || m instanceof RunBudget).singleElement()
        .isInstanceOfSatisfying(ActionRefused.class, r -> assertThat(r.run()).isEqualTo("no-such-run"));
  }

  private List<RunBudget> budgets(String run) {
    return cluster.events().stream().filter(RunBudget.class::isInstance).map(RunBudget.class::cast)
        .filter(b -> b.run().equals(run)).toList();
  }

  private record Cli(int exit, String out, String err) {
    String output() {
      return out + err;
    }
  }

  /** Runs a client command in this JVM with the submitter's credential, unless it names another. */
  private Cli lanes(String... args) {
    List<String> argv = new java.util.ArrayList<>(List.of(args));
    if (!argv.contains("--kafka-config")) {
      argv.addAll(List.of("--kafka-config", cluster.clientFile("submit").toString()));
    }
    argv.addAll(List.of("--timeout", "60s"));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), argv.toArray(String[]::new));
    return new Cli(exit, out.toString(), err.toString());
  }
}
