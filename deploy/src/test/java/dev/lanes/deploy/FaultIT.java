package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.lanes.protocol.Message;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.worker.WorkDir;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Machines failing under a run: every party is a process of its own (broker, lead, workers), and the test kills,
 * freezes and restarts them with real signals. Each test prints its figures: how long until the task was granted
 * again, how many times each task landed (duplicates), and how many tasks never landed (lost). The broker is a
 * secured {@code lanes broker} (SASL_SSL, ACLs), and every party connects with the client file of its role, as the
 * README's several-machines quick start does; a broker started again reuses its keys and credentials.
 */
class FaultIT {
  private static final Duration LONG = Duration.ofSeconds(120);

  @TempDir Path dir;
  private ProcessCluster cluster;
  private Path repo;

  @BeforeEach
  void setUp() throws IOException {
    repo = dir.resolve("repo");
    Files.createDirectories(repo);
    Files.writeString(repo.resolve("README.md"), "fault tests\n");
    Demo.git(repo, "init", "-q", "-b", "main");
    Demo.git(repo, "add", "-A");
    Demo.git(repo, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-q", "-m", "start");
    cluster = new ProcessCluster(dir);
    cluster.startBroker();
  }

  @AfterEach
  void tearDown() {
    cluster.close();
  }

  @Test
  void workerKilledMidTaskLosesItsLeaseAndTheTaskLandsOnce() throws IOException {
    cluster.startLead("lead", repo, "3s", 3);
    cluster.startWorker("w1", repo);
    cluster.startWorker("w2", repo);
    String run = submit(plan("slow", "echo partial > slow.txt; sleep 3"));

    TaskUpdate running = cluster.awaitUpdate(run, u -> u.state() == TaskState.RUNNING && u.detail().startsWith("agent"),
        LONG);
    long killed = System.nanoTime();
    cluster.kill(running.worker());
    TaskUpdate regranted = cluster.awaitUpdate(run,
        u -> u.state() == TaskState.RUNNING && u.epoch() == 2 && u.detail().startsWith("granted"), LONG);
    long releaseMs = (System.nanoTime() - killed) / 1_000_000;
    RunFinished finished = cluster.awaitFinished(run, LONG);

    assertThat(regranted.worker()).isNotEqualTo(running.worker());
    assertLandedOnce(run, finished, List.of("slow"), "worker-kill", releaseMs);

    // Started again on its directory, the killed worker archives the work it left and lists it as kept.
    cluster.startWorker(running.worker(), repo);
    Path work = dir.resolve("work-" + running.worker());
    org.awaitility.Awaitility.await().atMost(LONG).until(() -> !WorkDir.listKept(work).isEmpty());
    WorkDir.Kept kept = WorkDir.listKept(work).get(0);
    assertThat(kept.reason()).startsWith("archived after a crash");
    assertThat(kept.branch()).hasValueSatisfying(b -> assertThat(b).startsWith("lanes-archive/"));
    // What the killed attempt left uncommitted (its agent, in a session of its own, may have finished meanwhile).
    assertThat(Demo.git(work.resolve("mirror.git"), "show", kept.branch().get() + ":slow.txt")).isIn("partial\n", "done\n");
  }

  @Test
  void workerFrozenPastItsLeaseHasItsLateResultRejected() throws IOException {
    cluster.startLead("lead", repo, "3s", 3);
    cluster.startWorker("w1", repo);
    cluster.startWorker("w2", repo);
    String run = submit(plan("slow", "sleep 3"));

    TaskUpdate running = cluster.awaitUpdate(run, u -> u.state() == TaskState.RUNNING && u.detail().startsWith("agent"),
        LONG);
    long frozen = System.nanoTime();
    cluster.signal(running.worker(), "STOP");
    cluster.awaitUpdate(run, u -> u.state() == TaskState.RUNNING && u.epoch() == 2 && u.detail().startsWith("granted"),
        LONG);
    long releaseMs = (System.nanoTime() - frozen) / 1_000_000;
    RunFinished finished = cluster.awaitFinished(run, LONG);
    cluster.signal(running.worker(), "CONT");
    // The run has finished and left the lead: the late result is set aside on lanes.dead with the reason, and logged.
    cluster.awaitLog("lead", "rejected the result of attempt 1 of task slow from " + running.worker() + ": run " + run
        + " has finished");

    assertLandedOnce(run, finished, List.of("slow"), "worker-freeze", releaseMs);
  }

  @Test
  void leadKilledMidRunAndStartedAgainFinishesTheRun() throws IOException {
    cluster.startLead("lead", repo, "10s", 3);
    cluster.startWorker("w1", repo);
    cluster.startWorker("w2", repo);
    String run = submit("""
        name: chain
        agent:
          command: [sh, -c, 'sleep 1; echo "$LANES_TASK" > "$LANES_TASK.txt"']
        tasks:
          - {id: a, prompt: p, owns: [a.txt]}
          - {id: b, prompt: p, owns: [b.txt]}
          - {id: c, prompt: p, owns: [c.txt], after: [a, b]}
          - {id: d, prompt: p, owns: [d.txt], after: [c]}
        """);

    cluster.awaitUpdate(run, u -> u.task().equals("a") && u.state() == TaskState.LANDED, LONG);
    long killed = System.nanoTime();
    cluster.kill("lead");
    cluster.startLead("lead-2", repo, "10s", 3);
    cluster.awaitLog("lead-2", "holds the lead role");
    long takeoverMs = (System.nanoTime() - killed) / 1_000_000;
    RunFinished finished = cluster.awaitFinished(run, LONG);

    assertLandedOnce(run, finished, List.of("a", "b", "c", "d"), "lead-kill", takeoverMs);
  }

  @Test
  void leadFrozenPastItsSessionDoesNotActWhenItWakesUp() throws IOException {
    cluster.startLead("lead", repo, "3s", 3);
    cluster.awaitLog("lead", "holds the lead role");
    cluster.startLead("lead-2", repo, "3s", 3);
    cluster.startWorker("w1", repo);
    String run = submit(plan("slow", "sleep 10"));

    cluster.awaitUpdate(run, u -> u.state() == TaskState.RUNNING && u.detail().startsWith("agent"), LONG);
    // The one frozen is the lead serving now: on a machine loaded enough to starve a lead's group heartbeat, lead-2
    // may have taken over already, and then it is the one to freeze and the first lead the one to take over again.
    String serving = serves("lead-2") >= serves("lead") ? "lead-2" : "lead"; // the roles alternate
    String standby = serving.equals("lead") ? "lead-2" : "lead";
    int takeovers = serves(standby);
    // A lead starting on a loaded machine may have logged a pause already: the freeze's is the one after those.
    int pauses = cluster.count(serving, "was paused for");
    long frozen = System.nanoTime();
    cluster.signal(serving, "STOP");
    cluster.awaitLog(standby, "holds the lead role", takeovers + 1);
    long takeoverMs = (System.nanoTime() - frozen) / 1_000_000;
    // The freeze lasts past the lead's pause threshold (4 s), as one that outlives a group session (6 s) always does.
    await().atMost(LONG).until(() -> System.nanoTime() - frozen > Duration.ofSeconds(5).toNanos());
    cluster.signal(serving, "CONT");
    RunFinished finished = cluster.awaitFinished(run, LONG);

    assertLandedOnce(run, finished, List.of("slow"), "lead-freeze", takeoverMs);
    assertThat(cluster.events().stream().filter(TaskUpdate.class::isInstance).map(TaskUpdate.class::cast)
        .filter(u -> u.run().equals(run) && u.epoch() > 1)).as("nobody offered the running task again").isEmpty();
    cluster.awaitLog(serving, "was paused for", pauses + 1);
  }

  /** How many times lead process {@code name} has taken the lead role so far. */
  private int serves(String name) throws IOException {
    return cluster.count(name, "holds the lead role");
  }

  /**
   * The lead decides a grant for a worker that will never take it up (the worker that claimed is killed while the
   * lead is frozen, so the grant follows its death), then the lead is killed with SIGKILL. The new lead offers the
   * task again as soon as the roll call shows nobody holds it, without using an attempt ({@code --max-attempts 1}:
   * a used attempt would fail the task), long before the 60 s lease; a task another worker runs across the restart
   * keeps its one attempt.
   */
  @Test
  void leadKilledBetweenDecidingAGrantAndItsDeliveryOffersTheTaskAgainAtOnce() throws IOException {
    LostGrant lost = loseAGrant();
    cluster.kill("lead");
    cluster.startWorker("wa", repo, "--capability", "a"); // a new process: it holds nothing
    cluster.awaitLog("wa", "Worker wa", 2);
    cluster.startLead("lead-2", repo, "60s", 1);

    lost.assertRecovered("lead-kill-between-grant-and-delivery");
    cluster.awaitLog("lead-2", "offered lost again at once, no attempt used: the grant of attempt 1 to wa never"
        + " reached it");
  }

  /**
   * As above, with the lead stopped with SIGTERM and the worker that claimed only frozen: whether its claim is still
   * open when it wakes (it then takes the grant sent again) or not (it says so, and the task is offered again), the
   * task runs at once, uses no attempt, and lands once.
   */
  @Test
  void leadStoppedBetweenDecidingAGrantAndItsDeliveryContinuesTheTaskAtOnce() throws IOException {
    LostGrant lost = loseAGrant("STOP");
    cluster.stop("lead");
    cluster.startLead("lead-2", repo, "60s", 1);
    cluster.awaitLog("lead-2", "holds the lead role");
    cluster.signal("wa", "CONT");

    lost.assertRecovered("lead-term-between-grant-and-delivery");
  }

  private LostGrant loseAGrant() throws IOException {
    return loseAGrant("KILL");
  }

  /**
   * Brings a run to the moment after the lead decided to grant task {@code lost} to worker {@code wa} and before
   * {@code wa} received it, with {@code wa} killed or frozen ({@code signal}), while task {@code held} runs on
   * {@code wb} until the test lets it finish. {@code wa} has one slot, busy with task {@code block} until the test
   * lets its agent fail (at once: nothing to commit or push keeps the lead frozen long), so it claims {@code lost} only
   * then: while the lead is frozen, which then answers with a grant that {@code wa} never gets. Every step waits for what it needs to see: a record, a log line.
   */
  private LostGrant loseAGrant(String signal) throws IOException {
    cluster.environment(java.util.Map.of("LANES_LOG", "debug")); // the worker's claims are logged at debug
    cluster.startLead("lead", repo, "60s", 1);
    cluster.awaitLog("lead", "holds the lead role");
    cluster.startWorker("wa", repo, "--capability", "a", "--slots", "1");
    cluster.startWorker("wb", repo, "--capability", "b");
    Path go = dir.resolve("go");
    Path free = dir.resolve("free");
    String run = submit("name: lost\ntasks:\n"
        + "  - id: block\n    prompt: p\n    owns: [block.txt]\n    requires: [a]\n"
        + "    agent: {command: [sh, -c, 'while [ ! -f " + free + " ]; do sleep 0.1; done; exit 3']}\n"
        + "  - {id: lost, prompt: p, owns: [lost.txt], requires: [a], agent: {command: [sh, -c, 'echo done > lost.txt']}}\n"
        + "  - id: held\n    prompt: p\n    owns: [held.txt]\n    requires: [b]\n"
        + "    agent: {command: [sh, -c, 'while [ ! -f " + go + " ]; do sleep 0.1; done; echo done > held.txt']}\n");
    cluster.awaitUpdate(run, u -> u.task().equals("held") && u.state() == TaskState.RUNNING
        && u.detail().startsWith("agent"), LONG);
    cluster.awaitUpdate(run, u -> u.task().equals("block") && u.state() == TaskState.RUNNING
        && u.detail().startsWith("agent"), LONG);
    cluster.awaitUpdate(run, u -> u.task().equals("lost") && u.state() == TaskState.OFFERED, LONG);

    // Frozen, the lead cannot answer wa's claim; once wa is gone (or frozen too), it answers with a grant wa never gets.
    cluster.signal("lead", "STOP");
    Files.writeString(free, "");
    cluster.awaitLog("wa", "claimed attempt 1 of " + run + "/task/lost");
    if (signal.equals("KILL")) {
      cluster.kill("wa");
    } else {
      cluster.signal("wa", signal);
    }
    cluster.signal("lead", "CONT");
    cluster.awaitUpdate(run, u -> u.task().equals("lost") && u.state() == TaskState.RUNNING
        && u.detail().equals("granted to wa"), LONG);
    return new LostGrant(run, go);
  }

  /** A run whose task {@code lost} was granted to a worker that never got the grant. */
  private final class LostGrant {
    final String run;
    final Path go;

    LostGrant(String run, Path go) {
      this.run = run;
      this.go = go;
    }

    void assertRecovered(String fault) throws IOException {
      cluster.awaitLog("lead-2", "holds the lead role");
      long restarted = System.nanoTime();
      TaskUpdate landed = cluster.awaitUpdate(run, u -> u.task().equals("lost") && u.state() == TaskState.LANDED,
          LONG);
      long recoveredMs = (System.nanoTime() - restarted) / 1_000_000;
      Files.writeString(go, "");
      RunFinished finished = cluster.awaitFinished(run, LONG);

      List<TaskUpdate> updates = cluster.events().stream().filter(TaskUpdate.class::isInstance)
          .map(TaskUpdate.class::cast).filter(u -> u.run().equals(run)).toList();
      assertThat(recoveredMs).as("landed well before the 60 s lease could run out").isLessThan(30_000);
      assertThat(landed.tally()).hasValueSatisfying(t -> assertThat(t.failures()).as("attempts used").isZero());
      assertThat(updates).noneMatch(u -> !u.task().equals("block")
          && (u.state() == TaskState.FAILED || u.detail().contains("ran out")));
      assertThat(updates.stream().filter(u -> u.task().equals("held") && u.detail().startsWith("granted")))
          .as("the attempt a worker held kept running").hasSize(1);
      assertThat(updates.stream().filter(u -> u.task().equals("block") && u.detail().startsWith("granted")))
          .hasSize(1);
      assertThat(finished.failed()).containsExactly("block");
      assertLandedOnce(run, finished, List.of("lost", "held"), fault, recoveredMs);
    }
  }

  @Test
  void brokerRestartedMidRunTheRunCompletes() throws IOException {
    cluster.startLead("lead", repo, "30s", 3);
    cluster.startWorker("w1", repo);
    String run = submit("""
        name: broker
        agent:
          command: [sh, -c, 'sleep 2; echo "$LANES_TASK" > "$LANES_TASK.txt"']
        tasks:
          - {id: a, prompt: p, owns: [a.txt]}
          - {id: b, prompt: p, owns: [b.txt], after: [a]}
        """);

    cluster.awaitUpdate(run, u -> u.task().equals("a") && u.detail().startsWith("agent"), LONG);
    long stopped = System.nanoTime();
    cluster.stop("broker");
    cluster.startBroker2();
    long downMs = (System.nanoTime() - stopped) / 1_000_000;
    RunFinished finished = cluster.awaitFinished(run, LONG);

    assertLandedOnce(run, finished, List.of("a", "b"), "broker-restart", downMs);
  }

  @Test
  void poisonTaskIsParkedAfterItsAttemptsWhileTheOthersLand() throws IOException {
    cluster.startLead("lead", repo, "10s", 2);
    cluster.startWorker("w1", repo);
    cluster.startWorker("w2", repo);
    String run = submit("""
        name: poison
        agent:
          command: [sh, -c, 'echo "$LANES_TASK" > "$LANES_TASK.txt"']
        tasks:
          - {id: good, prompt: p, owns: [good.txt]}
          - id: poison
            prompt: p
            owns: [poison.txt]
            agent: {command: [sh, -c, 'echo "core dumped" >&2; exit 139']}
          - {id: after-good, prompt: p, owns: [after-good.txt], after: [good]}
        """);

    RunFinished finished = cluster.awaitFinished(run, LONG);
    TaskUpdate parked = cluster.awaitUpdate(run, u -> u.task().equals("poison") && u.state() == TaskState.PARKED, LONG);

    assertThat(finished.landed()).containsExactlyInAnyOrder("good", "after-good");
    assertThat(finished.failed()).containsExactly("poison");
    assertThat(parked.detail()).startsWith("agent exited with 139").contains("no attempt left: 2 of 2 used")
        .contains("earlier failures: attempt 1: agent exited with 139");
    System.out.printf("fault poison: attempts=%d parked=1 landed=%d%n", parked.epoch(), finished.landed().size());
  }

  /** Every task landed, each exactly once on the target, and the figures are printed. */
  private void assertLandedOnce(String run, RunFinished finished, List<String> tasks, String fault, long ms) {
    List<Message> events = cluster.events();
    long duplicates = 0;
    for (String task : tasks) {
      // Landings are changes into LANDED; a record that repeats the state (a rejected late result) is not one.
      long landings = 0;
      TaskState last = TaskState.WAITING;
      for (TaskUpdate u : events.stream().filter(TaskUpdate.class::isInstance).map(TaskUpdate.class::cast)
          .filter(u -> u.run().equals(run) && u.task().equals(task)).toList()) {
        landings += u.state() == TaskState.LANDED && last != TaskState.LANDED ? 1 : 0;
        last = u.state();
      }
      duplicates += Math.max(0, landings - 1);
    }
    String target = "lanes/" + run.substring(0, run.indexOf('-'));
    List<String> onTarget = Demo.git(repo, "log", "--first-parent", "--format=%s", "main.." + target).lines().toList();
    long lost = tasks.stream().filter(t -> !finished.landed().contains(t)).count();
    System.out.printf("fault %s: regranted_or_recovered_ms=%d duplicates=%d lost=%d commits_on_target=%d tasks=%d%n",
        fault, ms, duplicates, lost, onTarget.size(), tasks.size());
    assertThat(finished.landed()).containsExactlyInAnyOrderElementsOf(tasks);
    assertThat(duplicates).isZero();
    assertThat(onTarget).hasSize(tasks.size());
    for (String task : tasks) {
      assertThat(Demo.git(repo, "ls-tree", "--name-only", target)).contains(task + ".txt");
    }
  }

  private String plan(String task, String work) {
    return "name: one\nagent:\n  command: [sh, -c, '" + work + "; echo done > \"$LANES_TASK.txt\"']\ntasks:\n"
        + "  - {id: " + task + ", prompt: p, owns: [" + task + ".txt]}\n";
  }

  private String submit(String yaml) throws IOException {
    Path plan = Files.writeString(dir.resolve("plan-" + System.nanoTime() + ".yaml"), yaml);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), "submit", plan.toString(),
        "--kafka-config", cluster.clientFile("submit").toString(), "--timeout", "60");
    assertThat(exit).as(out + "\n" + err).isZero();
    List<String> lines = out.toString().strip().lines().toList();
    return lines.get(lines.size() - 1);
  }
}
