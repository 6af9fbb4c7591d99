package dev.lanes.coordinator;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lanes.process.ChildProcess;
import dev.lanes.process.Environment;
import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.TaskState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The plan's lead agent: a command, run like a worker's agent (argv only, {@code {prompt}} replaced inside one
 * argument, a session of its own, a time limit), that is given the plan's state and new findings as JSON and answers
 * with a plan delta: the last JSON object it prints. The same JSON is in the file named by {@code LANES_LEAD_INPUT}.
 * It runs in an empty directory of its own, never in the user's working tree.
 */
final class LeadAgent {
  /** A delta larger than this could not be recorded in the event log anyway. */
  static final int ANSWER_BYTES = 1024 * 1024;
  private LeadAgent() {}

  /** One task as the lead agent sees it. */
  record TaskView(String id, TaskState state, String detail) {}

  static String input(String run, Plan plan, List<TaskView> tasks, List<Finding> findings) {
    ObjectNode root = Json.mapper().createObjectNode();
    root.put("run", run);
    root.set("plan", Json.mapper().valueToTree(plan));
    ArrayNode states = root.putArray("tasks");
    tasks.forEach(t -> states.addObject().put("id", t.id()).put("state", t.state().name()).put("detail", t.detail()));
    ArrayNode found = root.putArray("findings");
    findings.forEach(f -> found.addObject().put("task", f.task()).put("kind", f.kind()).put("text", f.text())
        .set("paths", Json.mapper().valueToTree(f.paths())));
    try {
      return Json.mapper().writerWithDefaultPrettyPrinter().writeValueAsString(root);
    } catch (JsonProcessingException e) {
      throw new LeadException("cannot write the lead agent's input: " + e.getMessage(), e);
    }
  }

  static String prompt(String input) {
    return "You are the lead of a team of coding agents working on one repository. Below are the plan as it stands,"
        + " the state of every task and what the workers just found. Decide whether the plan should change, and"
        + " answer with one JSON object, printed last, with any of these keys: \"add\" (new tasks: id, title,"
        + " prompt, owns, after), \"drop\" (ids of tasks not yet started), \"order\" ([{\"task\": id, \"after\":"
        + " [ids]}]), \"scope\" ([{\"task\": id, \"owns\": [claims]}]). Answer {} to change nothing. Tasks that may run"
        + " at the same time must own disjoint paths.\n\n" + input;
  }

  /** Runs the agent on {@code background}; completes with its answer (the last JSON object it printed). */
  static CompletableFuture<String> ask(AgentSpec agent, String input, Environment env, Executor background) {
    return CompletableFuture.supplyAsync(() -> run(agent, input, env), background);
  }

  /** {@code env}: what the lead passes of its environment; never what the plan's agent asks for (that is a worker's). */
  private static String run(AgentSpec agent, String input, Environment env) {
    if (agent.command().isEmpty()) {
      throw new LeadException("lead-agent: only command agents can be lead agents");
    }
    Path dir = null;
    try {
      dir = Files.createTempDirectory("lanes-lead-agent");
      Path in = dir.resolve("input.json");
      Path log = dir.resolve("output.log");
      Files.writeString(in, input);
      String prompt = prompt(input);
      List<String> argv = agent.command().stream().map(a -> a.replace("{prompt}", prompt)).toList();
      ChildProcess.Result r = ChildProcess.runIsolated(argv, dir, env.with(Map.of("LANES_LEAD_INPUT", in.toString())),
          agent.timeout(), Optional.of(log), line -> {}, new ChildProcess.Stop());
      if (!r.ok()) {
        throw new LeadException("exited with " + r.exit() + (r.timedOut() ? " (timed out)" : "") + ": "
            + r.output().strip());
      }
      return lastJson(tail(log));
    } catch (IOException e) {
      throw new LeadException("cannot run the lead agent: " + e.getMessage(), e);
    } finally {
      if (dir != null) {
        deleteQuietly(dir);
      }
    }
  }

  /**
   * The last JSON object in the output that starts a line and runs to its end (an agent may talk before it answers);
   * the whole output if there is none, for the delta's parser to reject with its reason.
   */
  static String lastJson(String output) {
    String text = output.strip();
    for (int from = text.lastIndexOf('{'); from >= 0; from = text.lastIndexOf('{', from - 1)) {
      if (from == 0 || text.charAt(from - 1) == '\n') {
        String candidate = text.substring(from);
        try {
          Json.mapper().readTree(candidate);
          return candidate;
        } catch (IOException e) {
          // not a whole object from here to the end: look further up
        }
      }
    }
    return text;
  }

  /** The answer is at the end of the output: only its last {@value #ANSWER_BYTES} bytes are read. */
  private static String tail(Path log) throws IOException {
    try (var file = java.nio.channels.FileChannel.open(log)) {
      long from = Math.max(0, file.size() - ANSWER_BYTES);
      java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate((int) Math.min(ANSWER_BYTES, file.size()));
      while (bytes.hasRemaining() && file.read(bytes, from + bytes.position()) > 0) {
        // read until the buffer is full
      }
      return new String(bytes.array(), 0, bytes.position(), java.nio.charset.StandardCharsets.UTF_8);
    }
  }

  private static void deleteQuietly(Path dir) {
    try (var walk = Files.walk(dir)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // a temporary directory left behind is harmless
    }
  }
}
