package dev.lanes.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Optional;

/**
 * What an agent run cost, from the agent's own report: the figures of Claude Code's final {@code result} event when
 * it printed one, else the worker's estimate from the token counts the agent reported as it went. Absent for command
 * agents, which report nothing the worker can read.
 *
 * <p>A worker says this of itself, so the lead takes it only within {@link #problem}'s limits: a cost that is
 * negative, not a number or more than any one attempt can spend would skew the ledger and every budget read from it.
 *
 * @param costUsd the total cost in US dollars ({@code total_cost_usd}), or the worker's estimate
 * @param turns the number of turns ({@code num_turns}), or the assistant messages counted
 * @param sessionId the agent's session, which {@code claude --resume} continues; empty when it never said
 * @param subtype the result's subtype ({@code success}, {@code error_max_turns}, {@code error_during_execution} …),
 *     or {@code unfinished} when the stream ended without a result
 * @param isError whether the agent itself said the run failed; true for an unfinished stream
 * @param inputTokens every input token the model read: uncached, written to the cache and read from it; absent from
 *     workers that did not count them
 * @param outputTokens the tokens the model wrote; absent from workers that did not count them
 * @param model the model the agent ran, as its {@code init} event named it; absent when it never said
 */
public record AgentUsage(double costUsd, int turns, String sessionId, String subtype, boolean isError,
    @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<Long> inputTokens,
    @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<Long> outputTokens,
    @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<String> model) {
  /** The subtype of a run whose stream ended without a result event. */
  public static final String UNFINISHED = "unfinished";
  /** More than one attempt can spend: at list prices, over ten million output tokens of the dearest model. */
  public static final double MAX_COST_USD = 1000;
  /** More tokens than one attempt reads or writes. */
  public static final long MAX_TOKENS = 10_000_000_000L;
  public static final int MAX_TURNS = 1_000_000;
  public static final int MAX_TEXT = 200;

  public AgentUsage {
    // absent in messages from workers that did not report them
    inputTokens = inputTokens == null ? Optional.empty() : inputTokens;
    outputTokens = outputTokens == null ? Optional.empty() : outputTokens;
    model = model == null ? Optional.empty() : model;
  }

  /** Usage without token counts or model, as workers reported it before they counted them. */
  public AgentUsage(double costUsd, int turns, String sessionId, String subtype, boolean isError) {
    this(costUsd, turns, sessionId, subtype, isError, Optional.empty(), Optional.empty(), Optional.empty());
  }

  /**
   * What makes this report unbelievable, naming the field, the value and the rule; empty when the lead may record it.
   * One method, so that every place a worker's usage enters checks the same limits.
   */
  public Optional<String> problem() {
    if (!(costUsd >= 0 && costUsd <= MAX_COST_USD)) { // NaN fails both comparisons
      return Optional.of("usage.costUsd: " + costUsd + " is not an amount of dollars from 0 to " + (int) MAX_COST_USD
          + " (what one attempt can cost)");
    } else if (turns < 0 || turns > MAX_TURNS) {
      return Optional.of("usage.turns: " + turns + " is not a number of turns from 0 to " + MAX_TURNS);
    }
    Optional<String> tokens = tokens("usage.inputTokens", inputTokens).or(() -> tokens("usage.outputTokens",
        outputTokens));
    if (tokens.isPresent()) {
      return tokens;
    }
    for (String[] text : new String[][] {{"usage.sessionId", sessionId}, {"usage.subtype", subtype},
        {"usage.model", model.orElse("")}}) {
      if (text[1].length() > MAX_TEXT || text[1].chars().anyMatch(Character::isISOControl)) {
        String shown = text[1].length() > 40 ? text[1].substring(0, 40) + "…" : text[1];
        return Optional.of(text[0] + ": \"" + shown.replaceAll("\\p{Cntrl}", "?") + "\" ("
            + text[1].length() + " characters) is not a name of at most " + MAX_TEXT + " printable characters");
      }
    }
    return Optional.empty();
  }

  private static Optional<String> tokens(String field, Optional<Long> count) {
    return count.filter(n -> n < 0 || n > MAX_TOKENS)
        .map(n -> field + ": " + n + " is not a number of tokens from 0 to " + MAX_TOKENS);
  }
}
