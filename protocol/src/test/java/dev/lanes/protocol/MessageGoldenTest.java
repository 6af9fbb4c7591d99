package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The wire format of every message, pinned by a hand-written JSON file per type under {@code golden/}. A renamed or
 * retyped field changes the encoding and fails here; so does a message type added without a golden file.
 */
class MessageGoldenTest {
  private static final String RUN = "r-7f3a91";
  private static final String BASE = "3f2c9ab4e1d07c5b8a6f90e2d4c1b7a853e6f012";
  private static final String WORKER = "w-build-02";
  private static final String KEY = "MCowBQYDK2VuAyEAhSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";

  /** One realistic instance of every message type, keyed by its type name on the wire. */
  static Map<String, Message> samples() {
    Map<String, Message> samples = new java.util.HashMap<>(Map.of(
        "worker-status", new WorkerStatus(WORKER, "build-02.lan", List.of("java", "node", "git"), 2, 1,
            Optional.of(List.of(new WorkerStatus.Hold(RUN, "core", 1, true), new WorkerStatus.Hold(RUN, "docs", 2,
                false)))),
        "task-offered",
        new TaskOffered(
            RUN,
            "rename-account-id",
            "core",
            1,
            "Rename userId to accountId in core",
            "Rename the field userId to accountId in the core module.\nKeep the JSON name stable.\n",
            List.of("core/", "docs/core.md"),
            List.of("java"),
            new AgentSpec(
                List.of("claude", "-p", "{prompt}", "--output-format", "stream-json", "--verbose"), 1_800_000),
            Optional.of("./mvnw -q -pl core test"),
            BASE,
            TaskRef.branch(RUN, "core", 1),
            Optional.of(WORKER)),
        "claim-requested", new ClaimRequested(RUN, "core", 1, WORKER),
        "claim-granted", new ClaimGranted(RUN, "core", 1, WORKER),
        "heartbeat", new Heartbeat(RUN, "core", 1, WORKER, "verify", "./mvnw -q -pl core test running for 42s"),
        "task-result",
        new TaskResult(
            RUN,
            "core",
            1,
            WORKER,
            TaskResult.Outcome.PASSED,
            "lanes-work/r-7f3a91/core/e1",
            Optional.of("9b1e0c47d2a3f5e6b8c9d0a1f2e3d4c5b6a79801"),
            List.of("core/src/main/java/Account.java", "core/src/test/java/AccountTest.java"),
            0,
            0,
            "Renamed 14 occurrences in 2 files.",
            "Tests run: 31, Failures: 0, Errors: 0, Skipped: 0",
            187_342,
            Optional.empty(),
            Optional.of(new AgentUsage(0.4172, 23, "8f1c2d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f", "success", false,
                Optional.of(183_220L), Optional.of(4_812L), Optional.of("claude-sonnet-4-5-20250929")))),
        "finding",
        new Finding(
            RUN,
            "core",
            1,
            WORKER,
            "ownership-violation",
            "the agent changed files outside core/: api/src/main/java/UserDto.java",
            List.of("api/src/main/java/UserDto.java")),
        "run-started",
        new RunStarted(RUN, "rename-account-id", "lanes/rename-account-id", BASE, List.of("core"),
            Optional.of(new Plan("rename-account-id", Optional.of("main"), "lanes/rename-account-id", List.of(
                new Plan.Task("core", "Rename userId in core", "Rename userId to accountId in core.",
                    List.of(Claim.parse("core/"), Claim.parse("**/*.md")), List.of(), List.of("java"),
                    new AgentSpec(List.of("sh", "-c", "./rename.sh"), 1_800_000), Optional.of("./mvnw -q test"))))),
            Optional.of("2026-11-23T15:30:12Z"), Optional.of("lead-4242-9f3a on build-01, submitted by alice@build-01")),
        "task-update",
        new TaskUpdate(RUN, "core", TaskState.RUNNING, 1, WORKER, "granted to w-build-02", Optional.of(BASE),
            Optional.empty()),
        "run-finished", new RunFinished(RUN, "lanes/rename-account-id", List.of("core", "api"), List.of("docs"))));
    samples.put("task-cancelled", new TaskCancelled(RUN, "core", 2, "cancelled by the user"));
    samples.put("lead-online", new LeadOnline("lead-build-01"));
    samples.put("plan-submitted", new PlanSubmitted("submit-5b1e", new Plan("docs", Optional.empty(), "lanes/docs",
        List.of(new Plan.Task("readme", "readme", "Fix the README.", List.of(Claim.parse("README.md")), List.of(),
            List.of(), new AgentSpec(List.of("sh", "-c", "true"), 60_000), Optional.empty()))), "alice@build-01",
        Optional.of(ExistingTarget.FRESH)));
    samples.put("plan-rejected", new PlanRejected("submit-5b1e", "rename-account-id", List.of("target: \"main\" is"
        + " the branch checked out in /srv/repo; Lanes never moves a checked-out branch (choose another target)")));
    samples.put("plan-revised", new PlanRevised(RUN, new Plan("docs", Optional.empty(), "lanes/docs", List.of(
        new Plan.Task("readme", "readme", "Fix the README.", List.of(Claim.parse("README.md"), Claim.parse("docs/")),
            List.of(), List.of(), new AgentSpec(List.of("sh", "-c", "true"), 60_000), Optional.empty())),
        Optional.of("make check"), Optional.of(new AgentSpec(List.of("plan-agent", "{prompt}"), 300_000))),
        "readme: claim extended by docs/ (needed: the guide links the README)"));
    samples.put("enrolment-requested", new EnrolmentRequested(WORKER, KEY));
    samples.put("worker-enrolled", new WorkerEnrolled(WORKER, KEY, false));
    samples.put("enrolment-refused", new EnrolmentRefused(WORKER, KEY, "worker \"" + WORKER + "\" is enrolled with"
        + " another key; an id is not taken over by a second key (the worker with that key last announced itself from"
        + " host build-02)"));
    samples.put("lead-serving", new LeadServing("lead-4711-9f3a", "build-01.lan", "2026-12-03T02:40:00Z"));
    samples.put("action-taken", new ActionTaken("5c1f9a20", RUN, Optional.of("core"), "answer", "http",
        "Keep the old name as a deprecated alias.", "2026-12-03T09:12:44Z"));
    samples.put("usage-recorded", new UsageRecorded(RUN, "rename-account-id", "core", 3, 2, WORKER,
        "claude-sonnet-4-5-20250929", new java.math.BigDecimal("0.4172"), 183_220, 4_812, 23, false,
        "2026-12-03T09:12:44Z"));
    samples.put("run-budget", new RunBudget(RUN, Optional.of(new java.math.BigDecimal("5.00")),
        new java.math.BigDecimal("5.2172"), Optional.of(RunBudget.BUDGET), "spent $5.2172 of the run's budget of $5.00;"
        + " no new attempt starts until it is raised", "lead", Optional.empty(), "2026-12-03T09:12:44Z"));
    samples.put("budget-requested", new BudgetRequested("budget-9f3a1c2e", RUN, new java.math.BigDecimal("8.50"),
        "alice@build-01"));
    samples.put("action-refused", new ActionRefused("budget-9f3a1c2e", RUN, "raise-budget", "usd: 5.00 must be more"
        + " than the $5.2172 already spent"));
    return samples;
  }

  /**
   * More instances of some types, for what their one sample leaves out (a claude agent instead of a command), keyed by
   * their golden file under {@code golden/variants/}.
   */
  static Map<String, Message> variants() {
    return Map.of(
        "task-offered-review",
        new TaskOffered(RUN, "rename-account-id", "core", 3, "Rename userId in core", "Rename userId.\n",
            List.of("core/"), List.of("java"), new AgentSpec(List.of("reviewer", "{prompt}"), 600_000), Optional.empty(),
            "9b1e0c47d2a3f5e6b8c9d0a1f2e3d4c5b6a79801", TaskRef.branch(RUN, "core", 3), Optional.of("w-build-03"),
            Optional.of(new TaskOffered.Review(WORKER, BASE))),
        "task-update-sent-back",
        new TaskUpdate(RUN, "core", TaskState.OFFERED, 4, "", "evicted from the merge queue: conflict in core/A.java",
            Optional.of(BASE), Optional.empty(), Optional.of("The merge onto lanes/x conflicted in core/A.java."),
            Optional.of(new TaskUpdate.Tally(0, 1, 0, WORKER, 2, List.of("first", "fix after an eviction")))),
        "run-started-reviewed",
        new RunStarted(RUN, "docs", "lanes/docs", BASE, List.of("readme"), Optional.of(new Plan("docs",
            Optional.empty(), "lanes/docs", List.of(new Plan.Task("readme", "readme", "Fix the README.",
                List.of(Claim.parse("README.md")), List.of(), List.of(), new AgentSpec(List.of("sh", "-c", "true"),
                60_000), Optional.of("make check"), Optional.of(new AgentSpec(List.of("reviewer", "{prompt}"),
                60_000)))), Optional.of("make check"), Optional.empty()))),
        "task-offered-claude",
        new TaskOffered(
            RUN,
            "rename-account-id",
            "api",
            2,
            "Follow the rename in the API",
            "Rename userId to accountId in the API module.\n",
            List.of("api/"),
            List.of(),
            AgentSpec.claude(
                new ClaudeAgent(
                    List.of("Read", "Edit", "Bash(./mvnw *)"), Optional.of(40), Optional.of(2.5), Optional.of("sonnet")),
                1_800_000),
            Optional.empty(),
            BASE,
            TaskRef.branch(RUN, "api", 2),
            Optional.empty()),
        "run-started-budget",
        new RunStarted(RUN, "docs", "lanes/docs", BASE, List.of("readme"), Optional.of(new Plan("docs",
            Optional.empty(), "lanes/docs", List.of(new Plan.Task("readme", "readme", "Fix the README.",
                List.of(Claim.parse("README.md")), List.of(), List.of(), new AgentSpec(List.of("sh", "-c", "true"),
                60_000), Optional.empty())), Optional.empty(), Optional.empty(), Optional.of(new Plan.Budget(
                new java.math.BigDecimal("12.5"), Plan.Budget.Stop.NOW)))), Optional.empty(), Optional.empty()),
        "run-budget-resumed",
        new RunBudget(RUN, Optional.of(new java.math.BigDecimal("8.5")), new java.math.BigDecimal("5.2172"),
            Optional.empty(), "budget raised to $8.50 by alice@build-01; the run resumes", "alice@build-01",
            Optional.of("budget-9f3a1c2e"), "2026-12-03T09:20:01Z"),
        "task-offered-claude-defaults",
        new TaskOffered(RUN, "rename-account-id", "docs", 1, "docs", "Update the docs.\n", List.of("docs/"),
            List.of(), AgentSpec.claude(ClaudeAgent.defaults(), 600_000), Optional.empty(), BASE,
            TaskRef.branch(RUN, "docs", 1), Optional.empty()));
  }

  static Stream<Arguments> variantMessages() {
    return variants().entrySet().stream()
        .sorted(Map.Entry.comparingByKey())
        .map(e -> Arguments.of("variants/" + e.getKey(), e.getValue()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("variantMessages")
  void variant_encodesAsItsGoldenFileAndDecodesBack(String file, Message message) throws IOException {
    assertThat(tree(Json.encode(message))).isEqualTo(tree(golden(file)));
    assertThat(Json.decode(golden(file))).isEqualTo(message);
    assertThat(tree(golden(file)).path("type").asText()).isEqualTo(typeNames().get(message.getClass()));
  }

  @Test
  void everyVariantFileHasASample() throws IOException, URISyntaxException {
    URL dir = MessageGoldenTest.class.getResource("/golden/variants");
    assertThat(dir).as("golden/variants on the test classpath").isNotNull();
    try (Stream<Path> files = Files.list(Path.of(dir.toURI()))) {
      assertThat(files.map(f -> f.getFileName().toString().replaceFirst("\\.json$", "")))
          .containsExactlyInAnyOrderElementsOf(variants().keySet());
    }
  }

  /** Messages written before a field was added still decode; the field reads as absent. */
  @Test
  void decode_ofMessagesFromBeforeTheAgentFieldsWereAdded() throws IOException {
    com.fasterxml.jackson.databind.node.ObjectNode offer =
        (com.fasterxml.jackson.databind.node.ObjectNode) tree(golden("task-offered"));
    ((com.fasterxml.jackson.databind.node.ObjectNode) offer.get("agent")).remove("claude");
    com.fasterxml.jackson.databind.node.ObjectNode result =
        (com.fasterxml.jackson.databind.node.ObjectNode) tree(golden("task-result"));
    result.remove("usage");
    com.fasterxml.jackson.databind.node.ObjectNode status =
        (com.fasterxml.jackson.databind.node.ObjectNode) tree(golden("worker-status"));
    status.remove("holds");

    TaskOffered decodedOffer = (TaskOffered) Json.decode(Json.mapper().writeValueAsBytes(offer));
    TaskResult decodedResult = (TaskResult) Json.decode(Json.mapper().writeValueAsBytes(result));

    assertThat(decodedOffer.agent().claude()).isEmpty();
    assertThat(decodedOffer.agent().command()).isNotEmpty();
    assertThat(decodedResult.usage()).isEmpty();
    WorkerStatus decodedStatus = (WorkerStatus) Json.decode(Json.mapper().writeValueAsBytes(status));
    assertThat(decodedStatus.holds()).as("a status from before holds were reported: unknown, not empty").isEmpty();
  }

  /** The wire name of each message class, as declared by Jackson's subtype list on {@link Message}. */
  static Map<Class<?>, String> typeNames() {
    return Arrays.stream(Message.class.getAnnotation(JsonSubTypes.class).value())
        .collect(Collectors.toMap(JsonSubTypes.Type::value, JsonSubTypes.Type::name));
  }

  static byte[] golden(String typeName) {
    String resource = "/golden/" + typeName + ".json";
    try (InputStream in = MessageGoldenTest.class.getResourceAsStream(resource)) {
      assertThat(in).as("golden file %s", resource).isNotNull();
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Stream<Arguments> messages() {
    return samples().entrySet().stream()
        .sorted(Map.Entry.comparingByKey())
        .map(e -> Arguments.of(e.getKey(), e.getValue()));
  }

  private static JsonNode tree(byte[] json) throws IOException {
    return Json.mapper().readTree(json);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("messages")
  void encode_matchesTheGoldenFile(String typeName, Message message) throws IOException {
    assertThat(tree(Json.encode(message))).isEqualTo(tree(golden(typeName)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("messages")
  void decode_ofTheGoldenFileGivesTheRecord(String typeName, Message message) {
    assertThat(Json.decode(golden(typeName))).isEqualTo(message);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("messages")
  void goldenFile_namesTheTypeOfItsRecord(String typeName, Message message) throws IOException {
    assertThat(tree(golden(typeName)).path("type").asText()).isEqualTo(typeName);
    assertThat(typeNames()).containsEntry(message.getClass(), typeName);
  }

  @Test
  void everyPermittedMessageHasASampleAndAGoldenFile() throws IOException, URISyntaxException {
    Set<String> permitted =
        Arrays.stream(Message.class.getPermittedSubclasses()).map(typeNames()::get).collect(Collectors.toSet());
    assertThat(permitted).as("every permitted subclass has a type name").doesNotContainNull();

    Set<Class<?>> sampled = samples().values().stream().map(Object::getClass).collect(Collectors.toSet());
    assertThat(sampled).containsExactlyInAnyOrder(Message.class.getPermittedSubclasses());

    assertThat(goldenFileNames()).containsExactlyInAnyOrderElementsOf(permitted);
  }

  private static Set<String> goldenFileNames() throws IOException, URISyntaxException {
    URL dir = MessageGoldenTest.class.getResource("/golden");
    assertThat(dir).as("golden directory on the test classpath").isNotNull();
    try (Stream<Path> files = Files.list(Path.of(dir.toURI()))) {
      return files
          .map(Path::getFileName)
          .map(Path::toString)
          .filter(name -> name.endsWith(".json"))
          .map(name -> name.substring(0, name.length() - ".json".length()))
          .collect(Collectors.toSet());
    }
  }

  @Test
  void samples_coverEveryTypeNameOnce() {
    assertThat(samples().keySet()).containsExactlyInAnyOrderElementsOf(typeNames().values());
    assertThat(samples().values()).extracting(Object::getClass).doesNotHaveDuplicates();
  }
}
