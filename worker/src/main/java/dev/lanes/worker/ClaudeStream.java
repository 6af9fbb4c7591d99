package dev.lanes.worker;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.lanes.protocol.AgentUsage;
import java.io.IOException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What Claude Code has said so far on its {@code --output-format stream-json} output, read one line at a time as it
 * arrives.
 *
 * <p>Each line is one JSON event: {@code system} (subtype {@code init}: session id and model), {@code assistant} and
 * {@code user} events that wrap a Messages-API message (text, {@code tool_use} and {@code tool_result} blocks, and the
 * message's token {@code usage}), and a final {@code result} with the agent's verdict, turns and total cost. Reading is
 * tolerant: event types it does not know (rate limits, partial stream events, whatever comes later) are skipped, a
 * missing field reads as absent, and a line that is not a JSON event is counted as malformed and kept for the report;
 * nothing in the stream can make it throw.
 *
 * <p>The running cost is estimated from the assistant messages' token counts with {@link ClaudePrices}. Claude Code
 * prints one assistant event per content block, each carrying the usage of the whole message, so usage is counted
 * once per message id; so are turns.
 */
final class ClaudeStream {
  private static final ObjectMapper JSON =
      JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
  private static final int NOTES = 12;
  private static final int DESCRIPTION = 80;
  private static final int RESULT_TEXT = 2000;
  /**
   * Messages remembered by id, to count each turn and its cost once; an agent that prints a new id on every line gets
   * its turns counted and its costs added beyond this without them, rather than a set as large as its output.
   */
  private static final int MAX_MESSAGES = 10_000;
  private static final int MAX_ID = 100;

  private final Path worktree;
  private Path realWorktree;
  private String sessionId = "";
  private String model = "";
  private final Map<String, Double> costs = new HashMap<>();
  /** Each message's input and output tokens, as its largest report said, to count them once like its cost. */
  private final Map<String, long[]> tokens = new HashMap<>();
  private long inputTokens;
  private long outputTokens;
  private final Set<String> messages = new HashSet<>();
  private double estimate;
  private int anonymous;
  private int forgotten;
  private int malformed;
  private String firstMalformed = "";
  private int toolResults;
  private int toolErrors;
  private Result result;
  private final Deque<String> notes = new ArrayDeque<>();

  /** {@code worktree} is where the agent works: file paths under it are described relative to it. */
  ClaudeStream(Path worktree) {
    this.worktree = worktree;
  }

  /**
   * The agent's final report.
   *
   * @param turns {@code num_turns}, or -1 when it gave none
   * @param costUsd {@code total_cost_usd}, else {@code cost_usd} as older versions called it
   */
  record Result(String subtype, boolean isError, long durationMs, int turns, String sessionId,
      Optional<Double> costUsd, String text, Optional<long[]> tokens) {}

  /** Reads one line; returns what the agent is doing when the line says so. */
  synchronized Optional<String> accept(String line) {
    if (line.isBlank()) {
      return Optional.empty();
    }
    JsonNode event = parse(line);
    if (event == null || !event.isObject() || !event.path("type").isTextual()) {
      malformed(line);
      return Optional.empty();
    }
    switch (event.path("type").asText()) {
      case "system":
        system(event);
        return Optional.empty();
      case "assistant":
        return assistant(event);
      case "user":
        user(event);
        return Optional.empty();
      case "result":
        result(event);
        return Optional.empty();
      default:
        return Optional.empty();
    }
  }

  private static JsonNode parse(String line) {
    try {
      return JSON.readTree(line);
    } catch (IOException | RuntimeException e) {
      return null; // not JSON, or more than the parser's limits allow: malformed as far as this reader can tell
    }
  }

  private void malformed(String line) {
    if (malformed++ == 0) {
      firstMalformed = shorten(line.strip(), 120);
    }
    note("! " + shorten(line.strip(), 200));
  }

  private void system(JsonNode event) {
    if (event.path("subtype").asText().equals("init")) {
      sessionId = text(event, "session_id").orElse(sessionId);
      model = text(event, "model").orElse(model);
    }
  }

  private Optional<String> assistant(JsonNode event) {
    if (sessionId.isEmpty()) {
      sessionId = text(event, "session_id").orElse("");
    }
    JsonNode message = event.path("message");
    String id = key(text(message, "id").orElseGet(() -> "#" + ++anonymous));
    boolean remembered = messages.contains(id) || messages.size() < MAX_MESSAGES && messages.add(id);
    if (!remembered) {
      forgotten++;
    }
    JsonNode usage = message.path("usage");
    if (usage.isObject()) {
      ClaudePrices prices = ClaudePrices.of(text(message, "model").orElse(""), model);
      double cost = prices.cost(tokens(usage, "input_tokens"), tokens(usage, "output_tokens"),
          tokens(usage, "cache_creation_input_tokens"), tokens(usage, "cache_read_input_tokens"));
      // Later events of one message repeat (or complete) its usage: the largest figure counts, once.
      double before = costs.getOrDefault(id, 0.0);
      long in = input(usage);
      long out = tokens(usage, "output_tokens");
      if (!remembered) {
        estimate += cost;
        inputTokens += in;
        outputTokens += out;
      } else {
        if (cost > before) {
          costs.put(id, cost);
          estimate += cost - before;
        }
        long[] counted = tokens.computeIfAbsent(id, k -> new long[2]);
        inputTokens += Math.max(0, in - counted[0]);
        outputTokens += Math.max(0, out - counted[1]);
        counted[0] = Math.max(counted[0], in);
        counted[1] = Math.max(counted[1], out);
      }
    }
    Optional<String> doing = describe(message.path("content"));
    doing.ifPresent(this::note);
    return doing;
  }

  /** Every input token the model read: uncached, written to the cache and read from it. */
  private static long input(JsonNode usage) {
    return tokens(usage, "input_tokens") + tokens(usage, "cache_creation_input_tokens")
        + tokens(usage, "cache_read_input_tokens");
  }

  private static long tokens(JsonNode usage, String field) {
    JsonNode n = usage.path(field);
    return n.isNumber() && n.asLong() > 0 ? n.asLong() : 0;
  }

  /** A tool call says most about what the agent is doing; else the first words of what it says. */
  private Optional<String> describe(JsonNode content) {
    if (content.isTextual()) {
      return firstWords(content.asText());
    }
    String text = null;
    String tool = null;
    for (JsonNode block : content) {
      String type = block.path("type").asText();
      if (type.equals("tool_use")) {
        tool = tool(text(block, "name").orElse("tool"), block.path("input"));
      } else if (type.equals("text") && text == null) {
        text = firstWords(block.path("text").asText("")).orElse(null);
      }
    }
    return Optional.ofNullable(tool != null ? tool : text);
  }

  private String tool(String name, JsonNode input) {
    for (String key : new String[] {"file_path", "notebook_path", "path"}) {
      Optional<String> path = text(input, key);
      if (path.isPresent()) {
        return shorten(name + " " + relative(path.get()), DESCRIPTION);
      }
    }
    for (String key : new String[] {"command", "pattern", "url", "query", "description"}) {
      Optional<String> value = text(input, key);
      if (value.isPresent()) {
        return shorten(name + " " + firstLine(value.get()), DESCRIPTION);
      }
    }
    return shorten(name, DESCRIPTION);
  }

  /** A path under the worktree relative to it; the agent may report the worktree's real path (symbolic links resolved). */
  private String relative(String file) {
    try {
      Path p = Path.of(file).normalize();
      if (p.isAbsolute() && p.startsWith(worktree)) {
        return worktree.relativize(p).toString();
      }
      Path real = realWorktree();
      return p.isAbsolute() && p.startsWith(real) ? real.relativize(p).toString() : file;
    } catch (InvalidPathException e) {
      return file;
    }
  }

  private Path realWorktree() {
    if (realWorktree == null) {
      try {
        realWorktree = worktree.toRealPath();
      } catch (IOException e) {
        realWorktree = worktree;
      }
    }
    return realWorktree;
  }

  private void user(JsonNode event) {
    for (JsonNode block : event.path("message").path("content")) {
      if (block.path("type").asText().equals("tool_result")) {
        toolResults++;
        if (block.path("is_error").asBoolean(false)) {
          toolErrors++;
        }
      }
    }
  }

  private void result(JsonNode event) {
    JsonNode turns = event.path("num_turns");
    result = new Result(
        text(event, "subtype").orElse("unknown"),
        event.path("is_error").asBoolean(false),
        event.path("duration_ms").asLong(0),
        turns.isIntegralNumber() && turns.canConvertToInt() ? turns.asInt() : -1,
        text(event, "session_id").orElse(""),
        number(event, "total_cost_usd").or(() -> number(event, "cost_usd")),
        event.path("result").asText(""),
        // The whole session's tokens, by the agent's own count; else those of its messages are added up.
        event.path("usage").isObject() ? Optional.of(new long[] {input(event.path("usage")),
            tokens(event.path("usage"), "output_tokens")}) : Optional.empty());
  }

  /** The cost the agent reported in its result, once it has printed one. */
  synchronized Optional<Double> reportedCost() {
    return result == null ? Optional.empty() : result.costUsd();
  }

  /** The cost so far, estimated from the token counts of the assistant messages. */
  synchronized double estimatedCost() {
    return estimate;
  }

  synchronized Optional<Result> result() {
    return Optional.ofNullable(result);
  }

  synchronized int malformed() {
    return malformed;
  }

  /** A message id as remembered: a real one is short; a long one keeps its start and a hash of the rest. */
  private static String key(String id) {
    return id.length() <= MAX_ID ? id : id.substring(0, MAX_ID / 2) + "#" + Integer.toHexString(id.hashCode());
  }

  /** How many message ids are remembered (for tests). */
  synchronized int remembered() {
    return messages.size();
  }

  /** The assistant messages seen, each a turn. */
  synchronized int turns() {
    return messages.size() + forgotten;
  }

  /**
   * The agent's figures when it printed a result, else the estimate and the turns counted; the tokens its result
   * counted, else those of its messages; the model its {@code init} event named.
   */
  synchronized AgentUsage usage() {
    Optional<String> named = model.isEmpty() ? Optional.empty() : Optional.of(model);
    if (result == null) {
      return new AgentUsage(round(estimate), turns(), sessionId, AgentUsage.UNFINISHED, true,
          Optional.of(inputTokens), Optional.of(outputTokens), named);
    }
    long[] counted = result.tokens().orElse(new long[] {inputTokens, outputTokens});
    return new AgentUsage(round(result.costUsd().orElse(estimate)), result.turns() >= 0 ? result.turns() : turns(),
        result.sessionId().isEmpty() ? sessionId : result.sessionId(), result.subtype(), result.isError(),
        Optional.of(counted[0]), Optional.of(counted[1]), named);
  }

  /**
   * Why the run failed by the agent's own account: no result at all, or a result that is an error. A successful
   * result with some malformed lines beside it (a warning on standard error, say) is not a failure.
   */
  synchronized Optional<String> failure(int exit) {
    if (result == null) {
      return Optional.of("agent stream: " + (malformed > 0 ? count(malformed, "malformed line") + "; " : "")
          + "no result event (exit " + exit + ")"
          + (malformed > 0 ? "; the first malformed line: " + firstMalformed : ""));
    }
    boolean success = result.subtype().equals("success") || result.subtype().equals("unknown");
    if (success && !result.isError()) {
      return Optional.empty();
    }
    int turns = result.turns() >= 0 ? result.turns() : turns();
    String text = firstLine(result.text());
    return Optional.of("agent reported " + (success ? "an error" : result.subtype()) + " after " + count(turns, "turn")
        + (text.isEmpty() ? "" : ": " + shorten(text, 200)));
  }

  /** What the agent did last, and its result: a readable report where the raw stream would be kilobytes of JSON. */
  synchronized String tail() {
    StringBuilder out = new StringBuilder(String.join("\n", notes));
    if (out.length() > 0) {
      out.append('\n');
    }
    if (result == null) {
      out.append(String.format(Locale.ROOT, "no result event; %s, estimated $%.4f", count(turns(), "turn"), estimate));
    } else {
      out.append(String.format(Locale.ROOT, "result: %s%s, %s, $%.4f, %.1fs", result.subtype(),
          result.isError() ? " (error)" : "", count(usage().turns(), "turn"), usage().costUsd(),
          result.durationMs() / 1000.0));
      if (toolResults > 0) {
        out.append(", ").append(count(toolResults, "tool result")).append(" (").append(toolErrors).append(" failed)");
      }
      if (!result.text().isBlank()) {
        out.append('\n').append(shorten(result.text().strip(), RESULT_TEXT));
      }
    }
    return out.toString();
  }

  private void note(String text) {
    notes.addLast(text);
    if (notes.size() > NOTES) {
      notes.removeFirst();
    }
  }

  private static Optional<String> text(JsonNode node, String field) {
    JsonNode n = node.path(field);
    return n.isTextual() && !n.asText().isBlank() ? Optional.of(n.asText()) : Optional.empty();
  }

  private static Optional<Double> number(JsonNode node, String field) {
    JsonNode n = node.path(field);
    return n.isNumber() && Double.isFinite(n.asDouble()) ? Optional.of(n.asDouble()) : Optional.empty();
  }

  private static Optional<String> firstWords(String text) {
    String line = firstLine(text).replaceAll("\\s+", " ");
    if (line.length() <= 60) {
      return line.isEmpty() ? Optional.empty() : Optional.of(line);
    }
    int cut = line.lastIndexOf(' ', 60);
    return Optional.of(line.substring(0, cut > 20 ? cut : 60) + " …");
  }

  private static String firstLine(String text) {
    return text.strip().lines().findFirst().orElse("").strip();
  }

  private static String shorten(String text, int max) {
    return text.length() <= max ? text : text.substring(0, max - 1) + "…";
  }

  private static String count(int n, String noun) {
    return n + " " + noun + (n == 1 ? "" : "s");
  }

  /** To the millionth of a dollar: the estimate's float noise is no part of a cost. */
  private static double round(double usd) {
    return Math.round(usd * 1_000_000) / 1_000_000.0;
  }
}
