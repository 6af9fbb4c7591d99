package dev.lanes.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import dev.lanes.bus.MemoryBus;
import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.AgentUsage;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.ClaudeAgent;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskRef;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskResult.Outcome;
import dev.lanes.protocol.Topics;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The claude adapter end to end: a worker daemon on an in-memory bus runs tasks with a fake {@code claude} first on
 * the PATH of its agents (the script in {@code fake-claude/}, which checks its arguments like the real CLI and prints
 * real-format stream-json), against a real repository. The test plays the lead.
 */
class ClaudeAgentTest {
  private static final String RUN = "r1";
  private static final String SESSION = "5f6e7d8c-0000-4000-8000-fa4ec1a0de00";
  private static final ClaudeAgent OPTIONS = new ClaudeAgent(List.of("Read", "Edit", "Bash(./mvnw *)"),
      Optional.of(7), Optional.of(1.0), Optional.of("sonnet"));

  @TempDir Path dir;
  private TestRepo remote;
  private String base;
  private Path bin;
  private MemoryBus bus;
  private TestRepo.Recorder reports;
  private final List<Worker> workers = new ArrayList<>();

  @BeforeEach
  void setUp() throws IOException {
    remote = TestRepo.sample(dir.resolve("remote"));
    base = remote.rev("main");
    bin = installFakeClaude(dir.resolve("bin"));
    bus = new MemoryBus();
    reports = new TestRepo.Recorder(bus, Topics.REPORTS);
  }

  @AfterEach
  void tearDown() {
    workers.forEach(Worker::close);
    bus.close();
    assertThat(remote.rev("main")).isEqualTo(base);
    assertThat(remote.status()).isEmpty();
  }

  /** Copies the fake out of the test resources and makes it executable: resources may lose their exec bit. */
  static Path installFakeClaude(Path bin) throws IOException {
    Files.createDirectories(bin);
    Path claude = bin.resolve("claude");
    try (InputStream in = ClaudeAgentTest.class.getResourceAsStream("/fake-claude/claude")) {
      assertThat(in).as("fake-claude/claude on the test classpath").isNotNull();
      Files.copy(in, claude);
    }
    Files.setPosixFilePermissions(claude, PosixFilePermissions.fromString("rwxr-xr-x"));
    return bin;
  }

  @Test
  void finishedTaskReportsCostTurnsAndSessionInItsResult() throws IOException {
    Path args = dir.resolve("args");
    String prompt = "- rename userId\n- it's $(touch pwned) \"quoted\"";

    TaskResult result = run(offer(OPTIONS, prompt, Duration.ofSeconds(30), Optional.of("grep -q 'edited by claude' "
        + "core/file.txt")), Map.of("FAKE_CLAUDE_MODE", "success", "FAKE_CLAUDE_ARGS", args.toString()));

    assertThat(result.outcome()).as(result.toString()).isEqualTo(Outcome.PASSED);
    assertThat(result.usage().map(ClaudeStreamTest::costAndTurns))
        .contains(new AgentUsage(0.0123, 3, SESSION, "success", false));
    assertThat(result.changedFiles()).containsExactly("core/file.txt");
    assertThat(remote.show(result.commit().orElseThrow(), "core/file.txt")).endsWith("edited by claude\n");
    assertThat(result.agentTail()).contains("Edit core/file.txt", "Done: the file is updated.")
        .doesNotContain("{\"type\"");
    List<String> received = received(args);
    assertThat(received.subList(0, received.size() - 1)).as("what the CLI got: every option").containsExactly(
        "-p", "--output-format", "stream-json", "--verbose", "--allowedTools", "Read,Edit,Bash(./mvnw *)",
        "--max-turns", "7", "--max-budget-usd", "1", "--model", "sonnet", "--");
    assertThat(received.get(received.size() - 1)).as("the prompt the worker built, as one argument")
        .startsWith(prompt + "\n");
  }

  @Test
  void progressHeartbeatsSayWhatTheAgentIsDoing() {
    TaskResult result = run(offer(OPTIONS, "p", Duration.ofSeconds(30), Optional.empty()),
        Map.of("FAKE_CLAUDE_MODE", "success"));

    assertThat(result.outcome()).as(result.toString()).isEqualTo(Outcome.PASSED);
    List<String> agent = reports.all(Heartbeat.class, h -> h.task().equals("core") && h.phase().equals("agent"))
        .stream().map(Heartbeat::detail).toList();
    // The text message follows the edit within milliseconds: at most one progress heartbeat a second.
    assertThat(agent).containsExactly("claude (sonnet, at most 7 turns, budget $1.00)", "Edit core/file.txt");
  }

  @Test
  void hangingAgentIsKilledAtItsTimeoutWithItsChildren() throws IOException {
    Path pidFile = dir.resolve("sleeper.pid");

    TaskResult result = run(offer(OPTIONS, "p", Duration.ofSeconds(1), Optional.empty()),
        Map.of("FAKE_CLAUDE_MODE", "hang", "FAKE_CLAUDE_PIDFILE", pidFile.toString()));

    assertThat(result.outcome()).isEqualTo(Outcome.AGENT_FAILED);
    assertThat(result.error()).contains("agent timed out after 1s");
    assertThat(result.agentExit()).isEqualTo(-1);
    assertThat(result.usage()).hasValueSatisfying(u -> {
      assertThat(u.subtype()).isEqualTo(AgentUsage.UNFINISHED);
      assertThat(u.sessionId()).as("from the init event").isEqualTo(SESSION);
    });
    long sleeper = Long.parseLong(Files.readString(pidFile).strip());
    await().atMost(Duration.ofSeconds(20))
        .until(() -> ProcessHandle.of(sleeper).map(ProcessHandle::isAlive).orElse(false), alive -> !alive);
  }

  @Test
  void overBudgetAgentIsStoppedWithTheReason() {
    ClaudeAgent budget = new ClaudeAgent(List.of(), Optional.empty(), Optional.of(2.0), Optional.empty());

    TaskResult result = run(offer(budget, "p", Duration.ofSeconds(60), Optional.empty()),
        Map.of("FAKE_CLAUDE_MODE", "over-budget"));

    assertThat(result.outcome()).isEqualTo(Outcome.AGENT_FAILED);
    // Each message costs $0.90 at Sonnet prices: the third one passes the budget.
    assertThat(result.error()).contains("agent stopped: over budget: estimated $2.70 > $2.00");
    assertThat(result.durationMs()).isLessThan(20_000);
    assertThat(result.usage()).hasValueSatisfying(u -> {
      assertThat(u.costUsd()).isCloseTo(2.7, within(1e-6));
      assertThat(u.turns()).isEqualTo(3);
      assertThat(u.subtype()).isEqualTo(AgentUsage.UNFINISHED);
    });
    assertThat(result.agentTail()).contains("Bash ./mvnw -q test # try 3");
  }

  @Test
  void garbageStreamIsReported() {
    TaskResult result = run(offer(OPTIONS, "p", Duration.ofSeconds(30), Optional.empty()),
        Map.of("FAKE_CLAUDE_MODE", "garbage"));

    assertThat(result.outcome()).isEqualTo(Outcome.AGENT_FAILED);
    assertThat(result.agentExit()).isZero();
    assertThat(result.error()).contains("agent stream: 3 malformed lines; no result event (exit 0); the first "
        + "malformed line: Loading configuration...");
    assertThat(result.agentTail()).contains("! Loading configuration...", "! [1, 2, 3]");
    assertThat(result.usage()).hasValueSatisfying(u -> assertThat(u.isError()).isTrue());
  }

  @Test
  void turnLimitIsReportedEvenWhenTheAgentExitsZero() {
    TaskResult result = run(offer(OPTIONS, "p", Duration.ofSeconds(30), Optional.empty()),
        Map.of("FAKE_CLAUDE_MODE", "max-turns"));

    assertThat(result.outcome()).isEqualTo(Outcome.AGENT_FAILED);
    assertThat(result.agentExit()).isZero();
    assertThat(result.error()).contains("agent reported error_max_turns after 7 turns");
    assertThat(result.usage().map(ClaudeStreamTest::costAndTurns))
        .contains(new AgentUsage(0.0456, 7, SESSION, "error_max_turns", false));
    assertThat(result.commit()).isEmpty();
  }

  @Test
  void agentErrorIsReportedInItsWords() {
    TaskResult result = run(offer(OPTIONS, "p", Duration.ofSeconds(30), Optional.empty()),
        Map.of("FAKE_CLAUDE_MODE", "fail"));

    assertThat(result.outcome()).isEqualTo(Outcome.AGENT_FAILED);
    assertThat(result.agentExit()).isEqualTo(1);
    assertThat(result.error()).contains("agent reported error_during_execution after 1 turn");
    assertThat(result.usage().map(ClaudeStreamTest::costAndTurns))
        .contains(new AgentUsage(0.0021, 1, SESSION, "error_during_execution", true));
  }

  @Test
  void olderCliThatReportsCostUsdAndNoInit() {
    TaskResult result = run(offer(OPTIONS, "p", Duration.ofSeconds(30), Optional.empty()),
        Map.of("FAKE_CLAUDE_MODE", "no-init"));

    assertThat(result.outcome()).as(result.toString()).isEqualTo(Outcome.PASSED);
    assertThat(result.usage().map(ClaudeStreamTest::costAndTurns))
        .contains(new AgentUsage(0.0123, 3, SESSION, "success", false));
  }

  @Test
  void commandAgentReportsNoUsage() {
    TaskOffered offer = new TaskOffered(RUN, "sample", "core", 1, "Do core", "p", List.of("core/"), List.of(),
        new AgentSpec(List.of("sh", "-c", "echo changed > core/file.txt"), 30_000), Optional.empty(), base,
        TaskRef.branch(RUN, "core", 1), Optional.empty());

    TaskResult result = run(offer, Map.of());

    assertThat(result.outcome()).as(result.toString()).isEqualTo(Outcome.PASSED);
    assertThat(result.usage()).isEmpty();
  }

  @Test
  void agentEnvironmentReachesTheVerifyCommandToo() {
    TaskResult result = run(offer(OPTIONS, "p", Duration.ofSeconds(30),
        Optional.of("test \"$FAKE_CLAUDE_MODE\" = success && command -v claude | grep -q '^" + bin + "/'")),
        Map.of("FAKE_CLAUDE_MODE", "success"));

    assertThat(result.outcome()).as(result.toString()).isEqualTo(Outcome.PASSED);
  }

  private TaskOffered offer(ClaudeAgent options, String prompt, Duration timeout, Optional<String> verify) {
    return new TaskOffered(RUN, "sample", "core", 1, "Do core", prompt, List.of("core/", "out/"), List.of(),
        AgentSpec.claude(options, timeout.toMillis()), verify, base, TaskRef.branch(RUN, "core", 1),
        Optional.empty());
  }

  /** Runs the offer on a new worker whose agents see {@code env} and the fake claude first on their PATH. */
  private TaskResult run(TaskOffered offer, Map<String, String> env) {
    Map<String, String> agentEnvironment = new HashMap<>(env);
    agentEnvironment.put("PATH", bin + java.io.File.pathSeparator + System.getenv("PATH"));
    Worker.Config config = new Worker.Config("w1", "host", List.of(), 1, remote.url(), dir.resolve("work"),
        Duration.ofMinutes(5), agentEnvironment);
    Worker worker = Worker.start(bus, config, Clock.systemUTC());
    workers.add(worker);
    bus.publish(offer);
    reports.awaitFirst(ClaimRequested.class, c -> c.task().equals(offer.task()));
    bus.publish(new ClaimGranted(offer.run(), offer.task(), offer.epoch(), worker.id()));
    return reports.awaitFirst(TaskResult.class, r -> r.task().equals(offer.task()));
  }

  private static List<String> received(Path args) throws IOException {
    String all = new String(Files.readAllBytes(args), StandardCharsets.UTF_8);
    return Arrays.asList(all.substring(0, all.length() - 1).split("\0", -1));
  }
}
