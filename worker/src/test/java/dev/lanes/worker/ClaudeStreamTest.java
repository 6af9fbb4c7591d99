package dev.lanes.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.lanes.protocol.AgentUsage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The stream-json reader, on recorded and hand-written lines in the format of Claude Code 2.1. */
class ClaudeStreamTest {
  private static final Path WORKTREE = Path.of("/work/worktrees/r1/core-e1");
  private static final String SESSION = "0b7a6c58-3d2e-4f1a-9c8b-7e6d5c4b3a21";

  private static final String INIT = """
      {"type":"system","subtype":"init","cwd":"/work/worktrees/r1/core-e1","session_id":"%s",\
      "tools":["Bash","Edit","Read"],"mcp_servers":[],"model":"claude-sonnet-4-5-20250929","permissionMode":"default"}"""
      .formatted(SESSION);

  private final ClaudeStream stream = new ClaudeStream(WORKTREE);

  /** An assistant event of message {@code id} with one content block and the given token counts. */
  private static String assistant(String id, String block, long input, long output, long cacheWrite, long cacheRead) {
    return ("{\"type\":\"assistant\",\"message\":{\"id\":\"%s\",\"type\":\"message\",\"role\":\"assistant\","
        + "\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[%s],\"usage\":{\"input_tokens\":%d,"
        + "\"output_tokens\":%d,\"cache_creation_input_tokens\":%d,\"cache_read_input_tokens\":%d}},"
        + "\"parent_tool_use_id\":null,\"session_id\":\"%s\"}")
        .formatted(id, block, input, output, cacheWrite, cacheRead, SESSION);
  }

  private static String toolUse(String name, String input) {
    return "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"" + name + "\",\"input\":" + input + "}";
  }

  private static String text(String text) {
    return "{\"type\":\"text\",\"text\":\"" + text + "\"}";
  }

  private static final String SUCCESS = """
      {"type":"result","subtype":"success","is_error":false,"duration_ms":5120,"duration_api_ms":4800,"num_turns":4,\
      "result":"Renamed 3 fields.\\nAll tests pass.","session_id":"%s","total_cost_usd":0.0731,\
      "usage":{"input_tokens":40,"output_tokens":900}}""".formatted(SESSION);

  /** Usage without its token counts and model, which the tests below that are about them check. */
  static AgentUsage costAndTurns(AgentUsage usage) {
    return new AgentUsage(usage.costUsd(), usage.turns(), usage.sessionId(), usage.subtype(), usage.isError());
  }

  private List<Optional<String>> feed(String... lines) {
    return Stream.of(lines).map(stream::accept).toList();
  }

  @Test
  void agentPrintingANewMessageIdOnEveryLineIsCountedWithoutRememberingEveryId() {
    int lines = 30_000;
    String longId = "m".repeat(10_000);
    for (int i = 0; i < lines; i++) {
      stream.accept(assistant(longId + i, text("x"), 1_000_000, 0, 0, 0));
    }

    assertThat(stream.turns()).isEqualTo(lines);
    assertThat(stream.usage().costUsd()).as("every message's cost counts, remembered or not")
        .isGreaterThan(lines * 1.0);
    assertThat(stream.remembered()).isEqualTo(10_000);
  }

  @Test
  void recordedStreamOfTheRealCliWithoutCredentials() throws IOException {
    // Claude Code 2.1.197 run here with no credentials: it still prints a whole stream, whose result is an error.
    try (InputStream in = getClass().getResourceAsStream("/claude-stream/not-logged-in-2.1.197.jsonl")) {
      new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().forEach(stream::accept);
    }

    assertThat(stream.malformed()).isZero();
    assertThat(stream.result()).hasValueSatisfying(r -> {
      assertThat(r.subtype()).isEqualTo("success");
      assertThat(r.isError()).isTrue();
    });
    assertThat(stream.failure(1)).contains("agent reported an error after 1 turn: Not logged in · Please run /login");
    assertThat(costAndTurns(stream.usage())).isEqualTo(
        new AgentUsage(0, 1, "e9794e5f-6ed3-4a7a-af04-1c0099ca2e8f", "success", true));
  }

  @Test
  void successfulRunIsNoFailureAndReportsTheResultsFigures() {
    feed(INIT, assistant("msg_1", toolUse("Edit", "{\"file_path\":\"/work/worktrees/r1/core-e1/core/A.java\"}"),
        10, 20, 0, 0), SUCCESS);

    assertThat(stream.failure(0)).isEmpty();
    assertThat(costAndTurns(stream.usage())).isEqualTo(new AgentUsage(0.0731, 4, SESSION, "success", false));
    assertThat(stream.reportedCost()).contains(0.0731);
  }

  @Test
  void toolCallsAndTextBecomeShortDescriptions() {
    List<Optional<String>> progress = feed(
        INIT,
        assistant("m1", toolUse("Edit", "{\"file_path\":\"/work/worktrees/r1/core-e1/core/A.java\",\"old_string\":\"a\"}"),
            1, 1, 0, 0),
        assistant("m2", toolUse("Read", "{\"file_path\":\"/etc/hosts\"}"), 1, 1, 0, 0),
        assistant("m3", toolUse("Bash", "{\"command\":\"./mvnw -q test\\necho done\",\"description\":\"Run tests\"}"),
            1, 1, 0, 0),
        assistant("m4", toolUse("Grep", "{\"pattern\":\"userId\",\"path\":\"/work/worktrees/r1/core-e1/core\"}"),
            1, 1, 0, 0),
        assistant("m5", toolUse("TodoWrite", "{\"todos\":[]}"), 1, 1, 0, 0),
        assistant("m6", text("I will rename userId to accountId in every file of the core module and then run "
            + "the tests"), 1, 1, 0, 0),
        assistant("m7", text("Done."), 1, 1, 0, 0),
        "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":[{\"tool_use_id\":\"toolu_1\","
            + "\"type\":\"tool_result\",\"content\":\"ok\"}]},\"session_id\":\"" + SESSION + "\"}");

    assertThat(progress).containsExactly(
        Optional.empty(),
        Optional.of("Edit core/A.java"),
        Optional.of("Read /etc/hosts"),
        Optional.of("Bash ./mvnw -q test"),
        Optional.of("Grep core"),
        Optional.of("TodoWrite"),
        Optional.of("I will rename userId to accountId in every file of the core …"),
        Optional.of("Done."),
        Optional.empty());
  }

  @Test
  void aToolCallSaysMoreThanTheTextBesideIt() {
    assertThat(stream.accept(assistant("m1", text("Let me look.") + "," + toolUse("Read",
        "{\"file_path\":\"/work/worktrees/r1/core-e1/pom.xml\"}"), 1, 1, 0, 0))).contains("Read pom.xml");
  }

  @Test
  void unknownEventTypesAreIgnored() {
    List<Optional<String>> progress = feed(
        INIT,
        "{\"type\":\"rate_limit_event\",\"rate_limit_info\":{\"status\":\"allowed_warning\",\"resetsAt\":1767225600}}",
        "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"delta\":{\"text\":\"Hel\"}}}",
        "{\"type\":\"system\",\"subtype\":\"compact_boundary\",\"session_id\":\"other\"}",
        "{\"type\":\"something_new\",\"payload\":[1,2,3]}",
        SUCCESS);

    assertThat(progress).allMatch(Optional::isEmpty);
    assertThat(stream.malformed()).isZero();
    assertThat(stream.failure(0)).isEmpty();
    assertThat(stream.usage().sessionId()).isEqualTo(SESSION);
  }

  @Test
  void missingFieldsReadAsAbsent() {
    List<Optional<String>> progress = feed(
        "{\"type\":\"system\"}",
        "{\"type\":\"assistant\"}",
        "{\"type\":\"assistant\",\"message\":{}}",
        "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"tool_use\"}]}}",
        "{\"type\":\"assistant\",\"message\":{\"id\":\"m9\",\"usage\":{\"input_tokens\":\"many\"},\"content\":\"Hi\"}}",
        "{\"type\":\"user\"}",
        "{\"type\":\"result\",\"is_error\":false}");

    assertThat(progress).containsExactly(Optional.empty(), Optional.empty(), Optional.empty(),
        Optional.of("tool"), Optional.of("Hi"), Optional.empty(), Optional.empty());
    assertThat(stream.malformed()).isZero();
    assertThat(stream.failure(0)).as("a result without a subtype that is no error").isEmpty();
    assertThat(costAndTurns(stream.usage())).as("the estimate and the assistant messages counted stand in")
        .isEqualTo(new AgentUsage(0, 4, "", "unknown", false));
  }

  @Test
  void costUsdIsReadWhenTotalCostUsdIsMissing() {
    feed(INIT, "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":2,\"cost_usd\":0.25}");

    assertThat(stream.usage().costUsd()).isEqualTo(0.25);
    assertThat(stream.reportedCost()).contains(0.25);
  }

  @Test
  void totalCostUsdWinsOverCostUsd() {
    feed("{\"type\":\"result\",\"subtype\":\"success\",\"total_cost_usd\":0.5,\"cost_usd\":0.25}");

    assertThat(stream.usage().costUsd()).isEqualTo(0.5);
  }

  @Test
  void withoutAReportedCostTheEstimateIsTheCost() {
    feed(INIT, assistant("m1", text("x"), 1_000_000, 0, 0, 0),
        "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":1}");

    assertThat(stream.reportedCost()).isEmpty();
    assertThat(stream.usage().costUsd()).isEqualTo(3.0);
  }

  @Test
  void malformedLinesAreCountedAndATruncatedStreamIsAFailure() {
    feed(INIT, "Loading configuration...", "", "  ", "{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"con",
        "[1, 2, 3]", "{\"no_type\":true}", "{\"type\":\"user\"} trailing");

    assertThat(stream.malformed()).isEqualTo(5);
    assertThat(stream.result()).isEmpty();
    assertThat(stream.failure(0)).contains("agent stream: 5 malformed lines; no result event (exit 0); the first "
        + "malformed line: Loading configuration...");
    assertThat(costAndTurns(stream.usage()))
        .isEqualTo(new AgentUsage(0, 0, SESSION, AgentUsage.UNFINISHED, true));
    assertThat(stream.tail()).contains("! Loading configuration...", "! [1, 2, 3]", "no result event");
  }

  @Test
  void streamThatEndsWithoutAResultIsAFailureEvenWithoutMalformedLines() {
    feed(INIT, assistant("m1", text("Working on it"), 10, 10, 0, 0));

    assertThat(stream.failure(143)).contains("agent stream: no result event (exit 143)");
    assertThat(stream.usage().turns()).isEqualTo(1);
    assertThat(stream.usage().subtype()).isEqualTo("unfinished");
  }

  @Test
  void successfulResultBesideAMalformedLineIsNoFailure() {
    feed(INIT, "warning: something on standard error", SUCCESS);

    assertThat(stream.malformed()).isEqualTo(1);
    assertThat(stream.failure(0)).isEmpty();
    assertThat(stream.tail()).contains("! warning: something on standard error");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "error_max_turns|false|40||agent reported error_max_turns after 40 turns",
      "error_during_execution|true|1||agent reported error_during_execution after 1 turn",
      "success|true|2|API Error: 529 overloaded|agent reported an error after 2 turns: API Error: 529 overloaded",
      "error_max_budget_usd|true|12|Spent too much\\nmore|agent reported error_max_budget_usd after 12 turns: Spent too much"})
  void errorResultIsAFailureInTheAgentsWords(String subtype, boolean isError, int turns, String text, String expected) {
    feed(INIT, ("{\"type\":\"result\",\"subtype\":\"%s\",\"is_error\":%s,\"num_turns\":%d,\"result\":\"%s\","
        + "\"total_cost_usd\":0.4}").formatted(subtype, isError, turns, text == null ? "" : text));

    assertThat(stream.failure(0)).contains(expected);
    assertThat(costAndTurns(stream.usage())).isEqualTo(new AgentUsage(0.4, turns, SESSION, subtype, isError));
  }

  @Test
  void usageOfOneMessageRepeatedOverItsEventsCountsOnce() {
    // Claude Code prints one assistant event per content block, each with the whole message's usage.
    feed(INIT,
        assistant("m1", text("Let me edit."), 1_000_000, 0, 0, 0),
        assistant("m1", toolUse("Edit", "{\"file_path\":\"a\"}"), 1_000_000, 0, 0, 0),
        assistant("m2", text("Done."), 0, 100_000, 0, 0));

    assertThat(stream.estimatedCost()).isCloseTo(3.0 + 1.5, within(1e-9));
    assertThat(stream.turns()).isEqualTo(2);
  }

  @Test
  void tokensAndModelAreTheResultsCountAndTheInitsModel() {
    feed(INIT, assistant("m1", text("x"), 10, 20, 0, 0), SUCCESS);

    assertThat(stream.usage().inputTokens()).contains(40L);
    assertThat(stream.usage().outputTokens()).contains(900L);
    assertThat(stream.usage().model()).contains("claude-sonnet-4-5-20250929");
  }

  @Test
  void withoutAResultTokensAreEachMessagesLargestCountWithItsCacheCountedOnce() {
    feed(INIT,
        assistant("m1", text("Let me edit."), 100, 5, 1_000, 2_000),
        assistant("m1", toolUse("Edit", "{\"file_path\":\"a\"}"), 100, 50, 1_000, 2_000),
        assistant("m2", text("Done."), 7, 9, 0, 0));

    assertThat(stream.usage().inputTokens()).contains(100L + 1_000 + 2_000 + 7);
    assertThat(stream.usage().outputTokens()).contains(50L + 9);
    assertThat(stream.usage().model()).contains("claude-sonnet-4-5-20250929");
  }

  @Test
  void noModelIsAbsentNotEmpty() {
    feed("{\"type\":\"result\",\"subtype\":\"success\",\"total_cost_usd\":0.5}");

    assertThat(stream.usage().model()).isEmpty();
    assertThat(stream.usage().inputTokens()).contains(0L);
  }

  @Test
  void estimateCountsCacheWritesAndReads() {
    feed(INIT, assistant("m1", text("x"), 1_000_000, 1_000_000, 1_000_000, 1_000_000));

    assertThat(stream.estimatedCost()).isCloseTo(3.0 + 15.0 + 3.75 + 0.30, within(1e-9));
  }

  @Test
  void estimateUsesTheSessionsModelWhenAMessageNamesNone() {
    feed(INIT.replace("claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805"),
        "{\"type\":\"assistant\",\"message\":{\"id\":\"m1\",\"model\":\"<synthetic>\",\"content\":[],"
            + "\"usage\":{\"input_tokens\":1000000}}}");

    assertThat(stream.estimatedCost()).isCloseTo(15.0, within(1e-9));
  }

  @ParameterizedTest
  @CsvSource({
      "claude-opus-4-1-20250805, OPUS_4_1",
      "claude-opus-4-20250514, OPUS_4_1",
      "claude-3-opus-20240229, OPUS_4_1",
      "claude-opus-4-5-20251101, OPUS",
      "opus, OPUS",
      "claude-sonnet-4-5-20250929, SONNET",
      "sonnet, SONNET",
      "claude-haiku-4-5, HAIKU",
      "Haiku, HAIKU",
      "some-other-model, SONNET",
      "'', SONNET"})
  void prices_byFamily(String model, ClaudePrices expected) {
    assertThat(ClaudePrices.of(model)).isEqualTo(expected);
  }

  @Test
  void prices_perMillionTokens() {
    assertThat(ClaudePrices.SONNET.cost(1_000_000, 1_000_000, 0, 0)).isCloseTo(18.0, within(1e-9));
    assertThat(ClaudePrices.OPUS.cost(1_000_000, 1_000_000, 0, 0)).isCloseTo(30.0, within(1e-9));
    assertThat(ClaudePrices.OPUS_4_1.cost(1_000_000, 1_000_000, 0, 0)).isCloseTo(90.0, within(1e-9));
    assertThat(ClaudePrices.HAIKU.cost(1_000_000, 1_000_000, 1_000_000, 1_000_000))
        .isCloseTo(1.0 + 5.0 + 1.25 + 0.10, within(1e-9));
  }

  @Test
  void tailIsReadableNotRawJson() {
    feed(INIT, assistant("m1", toolUse("Edit", "{\"file_path\":\"/work/worktrees/r1/core-e1/core/A.java\"}"),
        1, 1, 0, 0), SUCCESS);

    assertThat(stream.tail())
        .isEqualTo("Edit core/A.java\nresult: success, 4 turns, $0.0731, 5.1s\nRenamed 3 fields.\nAll tests pass.");
  }

  @Test
  void tailKeepsTheLastNotesOnly() {
    for (int i = 0; i < 30; i++) {
      stream.accept(assistant("m" + i, text("step " + i), 1, 1, 0, 0));
    }

    assertThat(stream.tail().lines()).hasSize(13).first().isEqualTo("step 18");
  }

  @Test
  void pathsUnderTheWorktreesRealPathAreRelativeToo(@TempDir Path dir) throws IOException {
    Path real = Files.createDirectories(dir.resolve("real"));
    Path link = Files.createSymbolicLink(dir.resolve("link"), real);
    ClaudeStream viaLink = new ClaudeStream(link);

    assertThat(viaLink.accept(assistant("m1", toolUse("Write", "{\"file_path\":\"" + real.toRealPath()
        + "/docs/x.md\"}"), 1, 1, 0, 0))).contains("Write docs/x.md");
  }
}
