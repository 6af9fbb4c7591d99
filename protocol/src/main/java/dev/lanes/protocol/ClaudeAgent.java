package dev.lanes.protocol;

import java.util.List;
import java.util.Optional;

/**
 * The built-in adapter for Claude Code: the worker runs {@code claude -p PROMPT --output-format stream-json --verbose}
 * with these options, reads the stream as it comes, and ends the run early when its estimated cost passes the budget.
 *
 * @param allowedTools tool rules passed to {@code --allowedTools} ({@code Read}, {@code Bash(./mvnw *)}); empty passes
 *     none, leaving the CLI's own defaults
 * @param maxTurns passed to {@code --max-turns}
 * @param budgetUsd the most the task may cost, in US dollars: passed to {@code --max-budget-usd} and enforced by the
 *     worker from the agent's own token counts as well
 * @param model passed to {@code --model}: an alias such as {@code sonnet} or a full model name
 */
public record ClaudeAgent(
    List<String> allowedTools, Optional<Integer> maxTurns, Optional<Double> budgetUsd, Optional<String> model) {
  public ClaudeAgent {
    allowedTools = List.copyOf(allowedTools);
    // absent in messages that do not set them
    maxTurns = maxTurns == null ? Optional.empty() : maxTurns;
    budgetUsd = budgetUsd == null ? Optional.empty() : budgetUsd;
    model = model == null ? Optional.empty() : model;
    maxTurns.filter(n -> n < 1).ifPresent(n -> {
      throw new IllegalArgumentException("maxTurns: " + n + " must be at least 1");
    });
    budgetUsd.filter(usd -> !(usd > 0) || usd.isInfinite()).ifPresent(usd -> {
      throw new IllegalArgumentException("budgetUsd: " + usd + " must be a positive number of dollars");
    });
  }

  /** No options: the CLI's defaults, no budget. */
  public static ClaudeAgent defaults() {
    return new ClaudeAgent(List.of(), Optional.empty(), Optional.empty(), Optional.empty());
  }
}
