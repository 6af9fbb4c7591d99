package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.protocol.PlanRejected;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lanes submit} while no lead serves, as a newcomer meets it: a broker and, later, a lead and a worker, each a
 * process of its own. The plan is queued, not lost; submitting it again does not run it twice.
 */
class QueuedSubmitIT {
  private static final Duration LONG = Duration.ofSeconds(120);

  @TempDir Path dir;
  private ProcessCluster cluster;
  private Path repo;

  @BeforeEach
  void setUp() throws IOException {
    repo = LanesRunIT.repo(dir);
    cluster = new ProcessCluster(dir);
    cluster.startBroker();
  }

  @AfterEach
  void tearDown() {
    cluster.close();
  }

  @Test
  void aPlanSubmittedTwiceWithNoLeadIsQueuedAndRunsOnceWhenALeadStarts() throws IOException {
    Path plan = Files.writeString(dir.resolve("once.yaml"), """
        name: once
        agent:
          command: [sh, -c, 'echo once >> a.txt']
        tasks:
          - {id: append, prompt: Append a line., owns: [a.txt]}
        """);

    String first = queued(plan);
    String second = queued(plan);
    cluster.startLead("lead", repo, "30s", 1);
    cluster.startWorker("w1", repo);
    RunFinished finished = cluster.awaitFinished(first, LONG);

    assertThat(finished.landed()).containsExactly("append");
    Awaitility.await().atMost(LONG).until(() -> rejected(second).size() == 1);
    assertThat(rejected(second).get(0).problems()).singleElement().asString()
        .startsWith("the same plan is already running as run " + first).endsWith("it is not started twice");
    assertThat(cluster.events()).filteredOn(RunStarted.class::isInstance).extracting(m -> ((RunStarted) m).run())
        .containsExactly(first);
    assertThat(Demo.git(repo, "show", "lanes/once:a.txt")).as("the change landed once").isEqualTo("once\n");
    assertThat(Files.readString(cluster.log("lead"))).contains("refused the plan of request " + second);
  }

  @Test
  void submitWaitEndsWithWhereTheWorkerKeptEachTaskThatDidNotLand() throws IOException {
    cluster.startLead("lead", repo, "30s", 1);
    cluster.startWorker("w1", repo);
    Path plan = Files.writeString(dir.resolve("red.yaml"), """
        name: red
        agent:
          command: [sh, -c, 'echo "agent was here" > red.txt']
        tasks:
          - {id: red, prompt: Write red.txt., owns: [red.txt], verify: 'echo "the tests are red"; exit 1'}
        """);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), "submit", plan.toString(),
        "--kafka-config", cluster.clientFile("submit").toString(), "--repo", repo.toString(), "--timeout", "60s",
        "--wait");

    assertThat(exit).as(out + "\n" + err).isEqualTo(1);
    assertThat(out.toString()).as("the account of what did not land follows the run's end, not cuts in before it")
        .containsSubsequence("run finished: 0 landed, 1 not", "Tasks that did not land, and where to look:");
    String end = out.toString().substring(out.toString().indexOf("Tasks that did not land, and where to look:"));
    Path work = dir.resolve("work-w1").toRealPath();
    java.util.regex.Matcher logs = java.util.regex.Pattern.compile("\\(kept on \\S+: logs (\\S+), worktree (\\S+)\\)")
        .matcher(end);
    assertThat(logs.find()).as(end).isTrue();
    assertThat(end).containsPattern("  red \\(attempt red-[0-9a-z-]+/red/e\\d+ on worker w1\\): verify exited with 1");
    assertThat(Path.of(logs.group(1))).startsWith(work).isDirectory();
    assertThat(Path.of(logs.group(2)).resolve("red.txt")).hasContent("agent was here");
  }

  /** Submits with no lead to answer: exit 0, and the run id it is queued under. */
  private String queued(Path plan) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), "submit", plan.toString(),
        "--kafka-config", cluster.clientFile("submit").toString(), "--repo", repo.toString(), "--timeout", "10s");
    assertThat(exit).as(out + "\n" + err).isZero();
    java.util.regex.Matcher queued = java.util.regex.Pattern.compile("(?m)^queued: (once-\\S+) \\(no lead answered"
        + " within 10s; the plan starts when a lead, lanes coordinator on \\S+, does; do not submit it again\\)$")
        .matcher(out.toString());
    assertThat(queued.find()).as(out.toString()).isTrue();
    return queued.group(1);
  }

  private List<PlanRejected> rejected(String request) {
    return cluster.events().stream().filter(PlanRejected.class::isInstance).map(PlanRejected.class::cast)
        .filter(r -> r.request().equals(request)).toList();
  }
}
