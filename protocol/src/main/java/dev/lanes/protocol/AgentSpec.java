package dev.lanes.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonSetter;
import com.fasterxml.jackson.annotation.Nulls;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

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
 * @param env names of the worker's environment variables the agent (and the task's verify command) may see besides
 *     the default allow-list; left out on the wire when empty
 */
public record AgentSpec(
    List<String> command, long timeoutMs, @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<ClaudeAgent> claude,
    @JsonInclude(JsonInclude.Include.NON_EMPTY) @JsonSetter(nulls = Nulls.AS_EMPTY) List<String> env) {
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(30);
  /** Most names an agent's {@code env} may list. */
  public static final int MAX_ENV = 64;
  private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,127}");

  public AgentSpec {
    command = List.copyOf(command);
    claude = claude == null ? Optional.empty() : claude; // absent in messages from older leads
    env = env == null ? List.of() : List.copyOf(env); // absent in messages from older leads: read as empty
    if (claude.isPresent() == !command.isEmpty()) {
      throw new IllegalArgumentException(
          "agent: needs exactly one of a command and claude, got command " + command + " and claude " + claude);
    }
    if (env.size() > MAX_ENV) {
      throw new IllegalArgumentException("agent.env: " + env.size() + " names is more than " + MAX_ENV);
    }
    for (int i = 0; i < env.size(); i++) {
      int at = i;
      envNameProblem(env.get(i)).ifPresent(rule -> {
        throw new IllegalArgumentException("agent.env[" + at + "]: " + rule);
      });
    }
  }

  /** A command or claude agent without extra environment. */
  public AgentSpec(List<String> command, long timeoutMs, Optional<ClaudeAgent> claude) {
    this(command, timeoutMs, claude, List.of());
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

  /** This agent, allowed to see {@code names} of the worker's environment as well. */
  public AgentSpec withEnv(List<String> names) {
    return new AgentSpec(command, timeoutMs, claude, names);
  }

  /**
   * Why {@code name} cannot be passed to an agent, if it cannot: the rule for {@code env} in a plan and for
   * {@code --pass-env}. {@code LANES_*} variables are the daemon's to set; none may be taken from its environment.
   */
  public static Optional<String> envNameProblem(String name) {
    if (!ENV_NAME.matcher(name).matches()) {
      return Optional.of("\"" + name + "\" is not an environment variable name: letters, digits and '_', not starting"
          + " with a digit, at most 128 characters");
    }
    if (name.startsWith("LANES_")) {
      return Optional.of("\"" + name + "\": LANES_* variables are set by Lanes and cannot be passed through");
    }
    return Optional.empty();
  }
}
