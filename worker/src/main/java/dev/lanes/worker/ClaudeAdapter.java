package dev.lanes.worker;

import dev.lanes.process.ChildProcess;
import dev.lanes.protocol.AgentUsage;
import dev.lanes.protocol.ClaudeAgent;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Claude Code, headless: {@code claude -p --output-format stream-json --verbose [options] -- PROMPT}, its stream read
 * line by line by a {@link ClaudeStream}.
 *
 * <p>The prompt comes last, after {@code --}: the CLI takes it as a positional argument, so right after {@code -p} a
 * prompt that starts with {@code -} (a Markdown list) is refused as an unknown option, and after
 * {@code --allowedTools}, which takes any number of values, it would be read as one more tool.
 *
 * <p>The budget is enforced twice: the CLI gets {@code --max-budget-usd}, and the worker ends the agent's whole process
 * group as soon as its own estimate from the reported token counts, or the total the agent reports, is over the
 * budget. The estimate is what protects the budget from an agent that ignores its limit or never finishes a turn.
 */
final class ClaudeAdapter implements AgentAdapter {
  private static final Logger LOG = LoggerFactory.getLogger(ClaudeAdapter.class);

  private final ClaudeAgent options;

  ClaudeAdapter(ClaudeAgent options) {
    this.options = options;
  }

  /** The CLI's credentials and settings: {@code ANTHROPIC_API_KEY}, {@code ANTHROPIC_BASE_URL}, {@code CLAUDE_CODE_*}. */
  @Override
  public List<String> environment() {
    return List.of("ANTHROPIC_*", "CLAUDE_CODE_*");
  }

  @Override
  public List<String> argv(Request request) {
    List<String> argv = new ArrayList<>(List.of("claude", "-p", "--output-format", "stream-json", "--verbose"));
    if (!options.allowedTools().isEmpty()) {
      argv.addAll(List.of("--allowedTools", String.join(",", options.allowedTools())));
    }
    options.maxTurns().ifPresent(n -> argv.addAll(List.of("--max-turns", Integer.toString(n))));
    options.budgetUsd().ifPresent(usd -> argv.addAll(List.of("--max-budget-usd", plain(usd))));
    options.model().ifPresent(model -> argv.addAll(List.of("--model", model)));
    argv.addAll(List.of("--", request.prompt()));
    return argv;
  }

  /** {@code claude (sonnet, at most 40 turns, budget $2.50)}. */
  @Override
  public String describe() {
    List<String> parts = new ArrayList<>();
    options.model().ifPresent(parts::add);
    options.maxTurns().ifPresent(n -> parts.add("at most " + n + " turns"));
    options.budgetUsd().ifPresent(usd -> parts.add("budget " + dollars(usd)));
    return parts.isEmpty() ? "claude" : "claude (" + String.join(", ", parts) + ")";
  }

  @Override
  public Watch watch(Request request, Consumer<String> progress, ChildProcess.Stop stop) {
    return new StreamWatch(new ClaudeStream(request.worktree()), options.budgetUsd(), progress, stop);
  }

  /** A number as the CLI reads it: {@code 2.5}, never {@code 2.5E-4}. */
  private static String plain(double usd) {
    return BigDecimal.valueOf(usd).stripTrailingZeros().toPlainString();
  }

  static String dollars(double usd) {
    return String.format(Locale.ROOT, "$%.2f", usd);
  }

  /** Reads the stream, passes progress on, and stops the run once it is over budget. */
  private static final class StreamWatch implements Watch {
    private final ClaudeStream stream;
    private final Optional<Double> budget;
    private final Consumer<String> progress;
    private final ChildProcess.Stop stop;

    StreamWatch(ClaudeStream stream, Optional<Double> budget, Consumer<String> progress, ChildProcess.Stop stop) {
      this.stream = stream;
      this.budget = budget;
      this.progress = progress;
      this.stop = stop;
    }

    @Override
    public void line(String line) {
      try {
        stream.accept(line).ifPresent(progress);
        budget.flatMap(this::overBudget).ifPresent(stop::stop);
      } catch (RuntimeException e) {
        // The reader must go on: a reader that stopped would leave the agent blocked on a full pipe.
        LOG.warn("agent output line not handled: {}", e.toString());
      }
    }

    private Optional<String> overBudget(double limit) {
      Optional<Double> reported = stream.reportedCost().filter(usd -> usd > limit);
      if (reported.isPresent()) {
        return Optional.of("over budget: reported " + dollars(reported.get()) + " > " + dollars(limit));
      }
      double estimate = stream.estimatedCost();
      return estimate > limit
          ? Optional.of("over budget: estimated " + dollars(estimate) + " > " + dollars(limit))
          : Optional.empty();
    }

    @Override
    public Optional<String> failure(ChildProcess.Result run) {
      return stream.failure(run.exit());
    }

    @Override
    public Optional<AgentUsage> usage() {
      return Optional.of(stream.usage());
    }

    @Override
    public String tail(String output) {
      return stream.tail();
    }
  }
}
