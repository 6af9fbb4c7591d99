package dev.lanes.protocol;

import java.time.Duration;
import java.util.List;

/**
 * How to run a task's agent: an argv template and a time limit. {@code {prompt}}, {@code {task}} and
 * {@code {worktree}} inside an element are replaced by the worker; the result is executed directly, never by a shell,
 * so task text cannot inject commands.
 */
public record AgentSpec(List<String> command, long timeoutMs) {
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(30);

  public AgentSpec {
    command = List.copyOf(command);
  }

  public Duration timeout() {
    return Duration.ofMillis(timeoutMs);
  }
}
