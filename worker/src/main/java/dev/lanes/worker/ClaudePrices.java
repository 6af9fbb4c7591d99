package dev.lanes.worker;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * List prices of Claude models by family, in US dollars per million tokens, for estimating what a running agent has
 * spent from the token counts it reports. The estimate only guards a budget while the agent runs: once the agent
 * prints its result, its own {@code total_cost_usd} is what is reported.
 *
 * <pre>
 * family                                   input  output  cache write  cache read
 * Opus 4.1, 4 and 3 (opus-4-1, opus-4-0)   15.00   75.00        18.75        1.50
 * Opus 4.5 and later (opus)                 5.00   25.00         6.25        0.50
 * Sonnet (sonnet), and any unknown model    3.00   15.00         3.75        0.30
 * Haiku (haiku)                             1.00    5.00         1.25        0.10
 * </pre>
 *
 * A cache write costs 1.25 times the input price (the five-minute cache), a cache read a tenth of it. A model is
 * matched by its name or alias ({@code claude-sonnet-4-5-20250929}, {@code sonnet}); one that matches no family is
 * priced as Sonnet. Older Haiku models cost less than the table says, so their estimate errs high, on the safe side.
 */
enum ClaudePrices {
  OPUS_4_1(Pattern.compile("claude-3-opus|opus-4-0|opus-4-1|opus-4-20"), 15.00, 75.00),
  OPUS(Pattern.compile("opus"), 5.00, 25.00),
  HAIKU(Pattern.compile("haiku"), 1.00, 5.00),
  SONNET(Pattern.compile("sonnet"), 3.00, 15.00);

  private static final double CACHE_WRITE = 1.25;
  private static final double CACHE_READ = 0.10;

  private final Pattern names;
  private final double input;
  private final double output;

  ClaudePrices(Pattern names, double input, double output) {
    this.names = names;
    this.input = input;
    this.output = output;
  }

  /** The prices of the first of {@code models} that names a known family, else Sonnet's. */
  static ClaudePrices of(String... models) {
    for (String model : models) {
      String name = model == null ? "" : model.toLowerCase(Locale.ROOT);
      for (ClaudePrices family : values()) {
        if (family.names.matcher(name).find()) {
          return family;
        }
      }
    }
    return SONNET;
  }

  /** The cost in dollars of one message's tokens. */
  double cost(long inputTokens, long outputTokens, long cacheWriteTokens, long cacheReadTokens) {
    return (inputTokens * input + outputTokens * output + cacheWriteTokens * input * CACHE_WRITE
        + cacheReadTokens * input * CACHE_READ) / 1_000_000;
  }
}
