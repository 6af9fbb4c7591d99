package dev.lanes.protocol;

/**
 * What an agent run cost, from the agent's own report: the figures of Claude Code's final {@code result} event when
 * it printed one, else the worker's estimate from the token counts the agent reported as it went. Absent for command
 * agents, which report nothing the worker can read.
 *
 * @param costUsd the total cost in US dollars ({@code total_cost_usd}), or the worker's estimate
 * @param turns the number of turns ({@code num_turns}), or the assistant messages counted
 * @param sessionId the agent's session, which {@code claude --resume} continues; empty when it never said
 * @param subtype the result's subtype ({@code success}, {@code error_max_turns}, {@code error_during_execution} …),
 *     or {@code unfinished} when the stream ended without a result
 * @param isError whether the agent itself said the run failed; true for an unfinished stream
 */
public record AgentUsage(double costUsd, int turns, String sessionId, String subtype, boolean isError) {
  /** The subtype of a run whose stream ended without a result event. */
  public static final String UNFINISHED = "unfinished";
}
