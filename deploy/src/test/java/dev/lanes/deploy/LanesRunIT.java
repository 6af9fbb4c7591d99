package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.bus.EmbeddedBroker;
import com.fasterxml.jackson.databind.JsonNode;
import dev.lanes.bus.KafkaBus;
import dev.lanes.protocol.Json;
import dev.lanes.worker.Worker;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lanes run} end to end: a real Kafka broker, real git repositories, real agent processes. One broker serves
 * the class (through --bootstrap-servers) to keep it quick; {@link DemoIT} covers the embedded default.
 */
class LanesRunIT {
  @org.junit.jupiter.api.extension.RegisterExtension static final ClassBroker BROKER = new ClassBroker();

  @TempDir Path dir;

  @Test
  void dependencyChainLandsInOrder() throws IOException {
    Path repo = repo();
    Path plan = write("chain.yaml", """
        name: chain
        agent:
          command: [sh, -c, 'printf "%s\\n" "$LANES_TASK" >> chain.txt']
        tasks:
          - id: first
            prompt: Add the first line.
            owns: [chain.txt]
          - id: second
            prompt: Add the second line.
            owns: [chain.txt]
            after: [first]
            verify: grep -qx first chain.txt
          - id: third
            prompt: Add the third line.
            owns: [chain.txt]
            after: [second]
            verify: test "$(cat chain.txt)" = "$(printf 'first\\nsecond\\nthird')"
        """);
    Run run = lanes("run", plan.toString(), "--repo", repo.toString(), "--workers", "2");

    assertThat(run.exit).as(run.output()).isEqualTo(0);
    assertThat(git(repo, "show", "lanes/chain:chain.txt")).isEqualTo("first\nsecond\nthird\n");
    List<String> landed = List.of(git(repo, "log", "--first-parent", "--reverse", "--format=%s", "main..lanes/chain")
        .strip().split("\n"));
    assertThat(landed).hasSize(3);
    assertThat(landed.get(0)).contains("first");
    assertThat(landed.get(1)).contains("second");
    assertThat(landed.get(2)).contains("third");
    assertThat(run.out).contains("3 of 3 tasks landed on lanes/chain");
    assertThat(run.out).as("the lead knew its workers before it offered a task")
        .doesNotContain("no worker has announced itself");
  }

  @Test
  void failingVerifyIsReportedAndDoesNotLand() throws IOException {
    Path repo = repo();
    Path plan = write("verify.yaml", """
        name: verify
        agent:
          command: [sh, -c, 'echo "$LANES_TASK" > "$LANES_TASK.txt"']
        tasks:
          - id: good
            prompt: Write good.txt.
            owns: [good.txt]
            verify: test -f good.txt
          - id: bad
            prompt: Write bad.txt.
            owns: [bad.txt]
            verify: echo "the tests are red"; exit 1
          - id: later
            prompt: Write later.txt.
            owns: [later.txt]
            after: [bad]
        """);
    Run run = run(plan, repo);

    assertThat(run.exit).as(run.output()).isEqualTo(1);
    assertThat(git(repo, "ls-tree", "--name-only", "lanes/verify")).contains("good.txt").doesNotContain("bad.txt");
    assertThat(run.out).containsPattern("bad +failed .*verify exited with 1 \\| the tests are red");
    assertThat(run.out).containsPattern("later +skipped .*depends on bad");
    assertThat(run.out).contains("1 of 3 tasks landed");
  }

  @Test
  void userWorkingTreeAndBranchAreNeverTouched() throws IOException {
    Path repo = repo();
    Files.writeString(repo.resolve("README.md"), "edited but not committed\n");
    Files.writeString(repo.resolve("scratch.txt"), "untracked\n");
    String statusBefore = git(repo, "status", "--porcelain");
    String headBefore = git(repo, "rev-parse", "HEAD");
    Path plan = write("touch.yaml", """
        name: touch
        agent:
          command: [sh, -c, 'echo changed > README.md && echo new > added.txt']
        tasks:
          - id: readme
            prompt: Change the README.
            owns: [README.md, added.txt]
        """);
    Run run = run(plan, repo);

    assertThat(run.exit).as(run.output()).isEqualTo(0);
    assertThat(git(repo, "status", "--porcelain")).isEqualTo(statusBefore);
    assertThat(git(repo, "rev-parse", "HEAD")).isEqualTo(headBefore);
    assertThat(git(repo, "symbolic-ref", "--short", "HEAD").strip()).isEqualTo("main");
    assertThat(Files.readString(repo.resolve("README.md"))).isEqualTo("edited but not committed\n");
    assertThat(repo.resolve("added.txt")).doesNotExist();
    assertThat(git(repo, "show", "lanes/touch:README.md")).isEqualTo("changed\n");
  }

  @Test
  void agentEditingOutsideItsClaimIsAViolationAndDoesNotLand() throws IOException {
    Path repo = repo();
    Path plan = write("guard.yaml", """
        name: guard
        agent:
          command: [sh, -c, 'mkdir -p "$LANES_TASK" && echo ok > "$LANES_TASK/file.txt"']
        tasks:
          - id: polite
            prompt: Stay inside polite/.
            owns: [polite/]
          - id: rogue
            prompt: Stay inside rogue/.
            owns: [rogue/]
            agent:
              command: [sh, -c, 'mkdir -p rogue && echo ok > rogue/file.txt && echo pwned >> README.md']
          - id: sneaky
            prompt: Own every hidden directory, yet leave CI alone.
            owns: ['.*/']
            agent:
              command: [sh, -c, 'mkdir -p .github && echo on > .github/ci.txt']
        """);
    Run run = run(plan, repo);

    assertThat(run.exit).as(run.output()).isEqualTo(1);
    assertThat(run.out).containsPattern("rogue +failed .*changed 1 path\\(s\\) it does not own: README.md");
    assertThat(run.out).containsPattern("sneaky +failed .*\\.github/ci\\.txt \\(protected path");
    assertThat(run.out).containsPattern("polite +landed");
    assertThat(git(repo, "show", "lanes/guard:README.md")).isEqualTo("a repository\n");
    assertThat(git(repo, "ls-tree", "-r", "--name-only", "lanes/guard")).contains("polite/file.txt")
        .doesNotContain("rogue/file.txt").doesNotContain(".github");
  }

  @Test
  void conflictingTasksAreOrderedBeforeAnyAgentRunsOrRefusedWithStrict() throws IOException {
    Path repo = repo();
    Path plan = write("conflict.yaml", """
        name: conflict
        agent:
          command: [sh, -c, 'printf "%s\\n" "$LANES_TASK" >> README.md']
        tasks:
          - id: docs
            prompt: Add a line to the README.
            owns: ['*.md']
          - id: readme
            prompt: Add another line to the README.
            owns: [README.md]
        """);
    Run strict = run(plan, repo, "--strict");

    assertThat(strict.exit).as(strict.output()).isEqualTo(1);
    assertThat(strict.out).contains("conflict: ").contains("README.md").contains("--strict: nothing was run");
    assertThat(git(repo, "branch", "--list", "lanes/conflict")).isEmpty();

    Run ordered = run(plan, repo);

    assertThat(ordered.exit).as(ordered.output()).isEqualTo(0);
    assertThat(ordered.out).contains("ordered: readme now runs after docs");
    assertThat(git(repo, "show", "lanes/conflict:README.md")).isEqualTo("a repository\ndocs\nreadme\n");
  }

  @Test
  void taskNoWorkerCanRunIsReportedUnschedulableAndFails() throws IOException {
    Path repo = repo();
    Path plan = write("gpu.yaml", """
        name: gpu
        agent:
          command: [sh, -c, 'echo "$LANES_TASK" > "$LANES_TASK.txt"']
        tasks:
          - id: cpu
            prompt: Runs anywhere.
            owns: [cpu.txt]
            requires: [java]
          - id: train
            prompt: Needs a GPU.
            owns: [train.txt]
            requires: [java, gpu]
        """);
    Run run = run(plan, repo, "--capability", "java");

    assertThat(run.exit).as(run.output()).isEqualTo(1);
    assertThat(run.out).containsPattern("train +offered +unschedulable: no worker has the capability gpu");
    assertThat(run.out).containsPattern("train +failed .*unschedulable");
    assertThat(run.out).containsPattern("cpu +landed");
  }

  @Test
  void statusJsonShowsTheRunsTasksAndTheWorkersThatAnswer() throws IOException {
    Path repo = repo();
    Path plan = write("status.yaml", """
        name: status
        agent:
          command: [sh, -c, 'echo done > done.txt']
        tasks:
          - {id: one, prompt: Write done.txt., owns: [done.txt]}
        """);
    assertThat(run(plan, repo).exit).isZero();

    // Status is started without a client file, so it runs unsigned; so does the worker it is to see.
    try (KafkaBus bus = KafkaBus.connect(BROKER.broker().bootstrapServers(), "status-test",
            dev.lanes.bus.Envelope.unsigned());
        Worker worker = Worker.start(bus, new Worker.Config("status-w", "host-1", List.of("java"), 2,
            repo.toString(), dir.resolve("status-w"), Duration.ofSeconds(1), Map.of()), Clock.systemUTC())) {
      Run status = lanes("status", "--bootstrap-servers", BROKER.broker().bootstrapServers(), "--json", "--all");

      assertThat(status.exit).as(status.output()).isZero();
      JsonNode doc = Json.mapper().readTree(status.out);
      JsonNode run = java.util.stream.StreamSupport.stream(doc.get("runs").spliterator(), false)
          .filter(r -> r.get("plan").asText().equals("status")).findFirst().orElseThrow();
      assertThat(run.get("finished").asBoolean()).isTrue();
      JsonNode task = run.get("tasks").get(0);
      assertThat(task.get("task").asText()).isEqualTo("one");
      assertThat(task.get("state").asText()).isEqualTo("landed");
      assertThat(task.get("epoch").asInt()).isEqualTo(1);
      assertThat(task.get("worker").asText()).matches("w[12]");
      JsonNode seen = java.util.stream.StreamSupport.stream(doc.get("workers").spliterator(), false)
          .filter(w -> w.get("worker").asText().equals("status-w")).findFirst().orElseThrow();
      assertThat(seen.get("slots").asInt()).isEqualTo(2);
      assertThat(seen.get("capabilities").get(0).asText()).isEqualTo("java");
      assertThat(java.time.Instant.parse(seen.get("lastSeen").asText())).isBefore(java.time.Instant.now().plusSeconds(1));
    }
  }

  @Test
  void badPlanExitsTwoNamingTheField() throws IOException {
    Path repo = repo();
    Path plan = write("bad.yaml", """
        name: bad
        agent:
          command: [sh, -c, 'true']
        tasks:
          - id: one
            prompt: Do it.
          - id: two
            prompt: Do it too.
            owns: [two/]
            after: [nine]
        """);
    Run run = run(plan, repo);

    assertThat(run.exit).isEqualTo(2);
    assertThat(run.err).contains("tasks[0].owns (task one): missing").contains("tasks[1].after[0] (task two): \"nine\"");
    assertThat(git(repo, "branch", "--list", "lanes/bad")).isEmpty();
  }

  @Test
  void checkedOutBranchAsTargetExitsTwo() throws IOException {
    Path repo = repo();
    Path plan = write("main.yaml", """
        name: main-target
        target: main
        agent:
          command: [sh, -c, 'true']
        tasks:
          - id: one
            prompt: Do it.
            owns: [one/]
        """);
    Run run = run(plan, repo);

    assertThat(run.exit).isEqualTo(2);
    assertThat(run.err).contains("target: \"main\" is the branch checked out");
  }

  private Path repo() throws IOException {
    return repo(dir);
  }

  /** A repository with one commit on main, under {@code dir}. */
  static Path repo(Path dir) throws IOException {
    Path repo = dir.resolve("repo");
    Files.createDirectories(repo);
    Files.writeString(repo.resolve("README.md"), "a repository\n");
    Demo.git(repo, "init", "-q", "-b", "main");
    Demo.git(repo, "add", "-A");
    Demo.git(repo, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-q", "-m", "start");
    return repo;
  }

  private Path write(String name, String text) throws IOException {
    return Files.writeString(dir.resolve(name), text);
  }

  static String git(Path repo, String... args) {
    return Demo.git(repo, args);
  }

  record Run(int exit, String out, String err) {
    String output() {
      return out + err;
    }
  }

  /** {@code lanes run PLAN --repo REPO [extra…]} on the class's broker. */
  private static Run run(Path plan, Path repo, String... extra) {
    return run(BROKER.broker(), plan, repo, extra);
  }

  /** {@code lanes run PLAN --repo REPO [extra…]} on the given broker. */
  static Run run(EmbeddedBroker broker, Path plan, Path repo, String... extra) {
    List<String> args = new java.util.ArrayList<>(List.of("run", plan.toString(), "--repo", repo.toString()));
    args.addAll(List.of(extra));
    args.addAll(List.of("--bootstrap-servers", broker.bootstrapServers()));
    return lanes(args.toArray(String[]::new));
  }

  static Run lanes(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(exit, out.toString(), err.toString());
  }
}
