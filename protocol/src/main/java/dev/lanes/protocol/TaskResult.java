package dev.lanes.protocol;

import java.util.List;
import java.util.Optional;

/**
 * A worker's account of one finished attempt at a task.
 *
 * @param commit the commit pushed to {@code branch}; equal to the base commit when the agent changed nothing, empty
 *     when nothing was pushed
 * @param agentExit the agent's exit code, or -1 when it did not run to an exit
 * @param verifyExit the verify command's exit code, or -1 when it did not run
 * @param agentTail the last lines the agent printed
 * @param verifyTail the last lines the verify command printed
 * @param error what went wrong, in words, when the outcome is not {@link Outcome#PASSED}
 * @param usage cost, turns and session of the agent run, from the agent's own report; absent for command agents and
 *     when no agent ran
 * @param kept where a failed attempt's logs and worktree stay, on the worker's machine, for a person to look at;
 *     absent for a passed attempt and in results from older workers
 */
public record TaskResult(
    String run,
    String task,
    int epoch,
    String worker,
    Outcome outcome,
    String branch,
    Optional<String> commit,
    List<String> changedFiles,
    int agentExit,
    int verifyExit,
    String agentTail,
    String verifyTail,
    long durationMs,
    Optional<String> error,
    Optional<AgentUsage> usage,
    @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_ABSENT)
    Optional<String> kept)
    implements Message {
  public TaskResult {
    changedFiles = List.copyOf(changedFiles);
    usage = usage == null ? Optional.empty() : usage; // absent in messages from older workers
    kept = kept == null ? Optional.empty() : kept;
  }

  /** A result that says nothing of a kept attempt. */
  public TaskResult(String run, String task, int epoch, String worker, Outcome outcome, String branch,
      Optional<String> commit, List<String> changedFiles, int agentExit, int verifyExit, String agentTail,
      String verifyTail, long durationMs, Optional<String> error, Optional<AgentUsage> usage) {
    this(run, task, epoch, worker, outcome, branch, commit, changedFiles, agentExit, verifyExit, agentTail, verifyTail,
        durationMs, error, usage, Optional.empty());
  }

  @Override
  public String key() {
    return TaskRef.key(run, task);
  }

  /** How an attempt ended. Only {@code PASSED} work is landed. */
  public enum Outcome {
    PASSED,
    AGENT_FAILED,
    /** The agent changed paths outside the task's claims; a finding names them. */
    OWNERSHIP_VIOLATION,
    VERIFY_FAILED,
    ERROR
  }
}
