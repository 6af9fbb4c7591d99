package dev.lanes.worker;

import dev.lanes.process.ChildProcess;
import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.AgentUsage;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * How the worker runs one kind of agent: the command line it builds for a task, and a {@link Watch} that reads the
 * agent's output as it comes and judges the run once it has ended.
 *
 * <p>A command agent is any program: the worker understands nothing of its output and judges it by its exit code. An
 * adapter for a known agent ({@link ClaudeAdapter}) reads the agent's own report, so that progress, cost, turns and
 * the agent's own verdict reach the lead, and can end a run that is spending more than its budget.
 */
interface AgentAdapter {
  static AgentAdapter of(AgentSpec spec) {
    return spec.claude().<AgentAdapter>map(ClaudeAdapter::new).orElseGet(() -> new CommandAdapter(spec.command()));
  }

  /** The agent's argv for one task; it runs without a shell. */
  List<String> argv(Request request);

  /**
   * What the agent needs of the worker's environment beyond the default allow-list: names, or {@code PREFIX*} for a
   * family (the claude adapter: its API keys and settings). A command agent needs nothing: a plan names what it needs
   * in {@code agent.env}.
   */
  default List<String> environment() {
    return List.of();
  }

  /** The agent in a few words, for the heartbeat that opens the agent phase; may be empty. */
  String describe();

  /**
   * Starts watching one run of the agent. {@code progress} receives short descriptions of what the agent is doing
   * ({@code Edit core/A.java}); {@code stop} ends the run early, with a reason.
   */
  Watch watch(Request request, Consumer<String> progress, ChildProcess.Stop stop);

  /** What an agent is given: the prompt, the task's id, and the worktree it works in. */
  record Request(String prompt, String task, Path worktree) {}

  /**
   * One run of an agent, seen line by line. Its methods never throw: a line the watch cannot make sense of is noted,
   * never a reason to stop reading the agent's output.
   */
  interface Watch {
    /** Understands nothing: the run is judged by its exit code and reported by its last lines. */
    Watch NONE = new Watch() {};

    /** Called with each line of output, on the thread that reads it, as it arrives. */
    default void line(String line) {}

    /**
     * Why the run failed by the agent's own account, once it has ended by itself (not stopped, not timed out); empty
     * when its account says nothing against it, and the exit code decides.
     */
    default Optional<String> failure(ChildProcess.Result run) {
      return Optional.empty();
    }

    /** What the run cost, when the agent reports it. */
    default Optional<AgentUsage> usage() {
      return Optional.empty();
    }

    /** What to report of the agent's output; {@code output} holds its last lines as printed. */
    default String tail(String output) {
      return output;
    }
  }
}
