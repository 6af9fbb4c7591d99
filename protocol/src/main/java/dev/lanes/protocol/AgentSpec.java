package dev.lanes.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * How to run a task's agent: either an argv template or a built-in adapter, and a time limit.
 *
 * <p>For a command agent, {@code {prompt}}, {@code {task}} and {@code {worktree}} inside an element are replaced by
 * the worker; the result is executed directly, never by a shell, so task text cannot inject commands. For a built-in
 * adapter ({@code claude}) the command is empty and the worker builds the command line itself.
 *
 * @param command the argv template of a command agent; empty when {@code claude} is present
 * @param claude the Claude Code adapter's options; absent for a command agent, and then left out on the wire, so that
 *     a command agent is written exactly as before the adapter existed
 */
public record AgentSpec(
    List<String> command, long timeoutMs, @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<ClaudeAgent> claude) {
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(30);

  public AgentSpec {
    command = List.copyOf(command);
    claude = claude == null ? Optional.empty() : claude; // absent in messages from older leads
    if (claude.isPresent() == !command.isEmpty()) {
      throw new IllegalArgumentException(
          "agent: needs exactly one of a command and claude, got command " + command + " and claude " + claude);
    }
  }

  /** A command agent. */
  public AgentSpec(List<String> command, long timeoutMs) {
    this(command, timeoutMs, Optional.empty());
  }

  /** The Claude Code adapter. */
  public static AgentSpec claude(ClaudeAgent options, long timeoutMs) {
    return new AgentSpec(List.of(), timeoutMs, Optional.of(options));
  }

  public Duration timeout() {
    return Duration.ofMillis(timeoutMs);
  }
}
