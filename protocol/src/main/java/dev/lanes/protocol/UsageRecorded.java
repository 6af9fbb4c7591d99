package dev.lanes.protocol;

import java.math.BigDecimal;

/**
 * The lead's entry in the cost ledger: what one attempt cost, as its worker reported it with the result the lead
 * accepted. Recorded once per attempt under a key of its own ({@link TaskRef#usageKey}), so compaction never drops
 * one, and {@code lanes cost} reads them back to the millionth of a dollar.
 *
 * @param plan the plan's name, for totals by plan
 * @param attempt which attempt of the task this was (1 for the first), where {@code epoch} also counts lost grants
 *     and reviews
 * @param costUsd what the agent reported, to the millionth of a dollar; zero for command agents, which report nothing
 * @param estimated whether the cost is the worker's estimate from token counts (the agent printed no result)
 * @param at when the lead accepted the result, an ISO-8601 instant in UTC: the day a daily budget counts it in
 */
public record UsageRecorded(String run, String plan, String task, int epoch, int attempt, String worker,
    String model, BigDecimal costUsd, long inputTokens, long outputTokens, int turns, boolean estimated, String at)
    implements Message {
  public UsageRecorded {
    costUsd = Usd.exact(costUsd);
  }

  @Override
  public String key() {
    return TaskRef.usageKey(run, task, epoch);
  }
}
