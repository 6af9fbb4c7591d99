package dev.lanes.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code lanes logs RUN TASK}: what a task's latest attempt printed, as the lead knows it: its worker's last
 * heartbeat while it runs, the agent's and verify's output tails once it ended. With {@code --follow} it prints again
 * whenever that changes, until the task ends.
 */
@Command(
    name = "logs",
    mixinStandardHelpOptions = true,
    description = {
      "Prints the output of a task's latest attempt: its phase while it runs, the agent's and verify's last lines"
          + " once it ended.",
      "",
      "Read from the lead's HTTP API (GET /api/runs/RUN/tasks/TASK/log), from a lead found on this machine from"
          + " --repo, or given with --url and --token-file. The whole logs stay on the worker's machine.",
      "",
      "Exit 0 when printed (with --follow: once the task ended), 1 when the lead cannot be reached or stops"
          + " answering, 2 for bad input (a run or task the lead does not know)."
    })
final class LogsCommand implements Callable<Integer> {
  private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,99}");
  private static final Set<String> FINAL = Set.of("LANDED", "FAILED", "SKIPPED", "PARKED");

  @Parameters(index = "0", paramLabel = "ID", description = "The run's id.")
  String run;

  @Parameters(index = "1", paramLabel = "NAME", description = "The task's id in the plan.")
  String task;

  @Option(names = "--follow", description = "Print again as the attempt goes on, until the task ends.")
  boolean follow;

  @Mixin LeadApi.Options where;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    for (String[] id : new String[][] {{"RUN", run}, {"TASK", task}}) {
      if (!ID.matcher(id[1]).matches()) {
        throw new IllegalArgumentException(id[0] + ": \"" + id[1] + "\" is not an id: lower-case letters, digits"
            + " and '-'");
      }
    }
    PrintWriter out = spec.commandLine().getOut();
    LeadApi api = LeadApi.find(where);
    String path = "/api/runs/" + run + "/tasks/" + task + "/log";
    try {
      JsonNode state = api.get("/api/state");
      String[] shown = {print(out, api.get(path), "")};
      if (!follow || ended(state)) {
        return Main.OK;
      }
      long[] last = {state.path("eventId").asLong()};
      boolean[] done = {false};
      while (!done[0]) {
        boolean stopped = api.follow(last[0], event -> {
          if (event.id() >= 0) {
            last[0] = event.id();
          }
          boolean mine = event.kind().equals("task") && event.data().contains("\"run\":\"" + run + "\"")
              && event.data().contains("\"task\":\"" + task + "\"");
          if (!mine && !event.kind().equals("reset")) {
            return false;
          }
          shown[0] = print(out, api.get(path), shown[0]);
          JsonNode now = api.get("/api/state");
          if (event.kind().equals("reset")) {
            last[0] = now.path("eventId").asLong();
          }
          done[0] = ended(now);
          return done[0] || event.kind().equals("reset");
        });
        if (!stopped) {
          throw new LeadApi.Unreachable("the lead at " + api.base() + " closed the stream", null);
        }
      }
      return Main.OK;
    } catch (LeadApi.Unreachable e) {
      spec.commandLine().getErr().println("lanes: " + e.getMessage());
      return Main.FAILED;
    }
  }

  /** Whether the task has ended (or is no longer shown): following it has nothing more to show. */
  private boolean ended(JsonNode state) {
    for (JsonNode r : state.path("runs")) {
      if (r.path("run").asText().equals(run)) {
        for (JsonNode t : r.path("tasks")) {
          if (t.path("task").asText().equals(task)) {
            return FINAL.contains(t.path("state").asText());
          }
        }
      }
    }
    return true;
  }

  /** Prints the log unless it is what was printed last; returns what is shown now. */
  static String print(PrintWriter out, JsonNode log, String before) {
    String text = text(log);
    if (!text.equals(before)) {
      out.print(text);
      out.flush();
    }
    return text;
  }

  static String text(JsonNode log) {
    StringBuilder b = new StringBuilder();
    b.append("== ").append(log.path("run").asText()).append('/').append(log.path("task").asText())
        .append(" attempt ").append(log.path("epoch").asInt());
    if (!log.path("worker").asText().isEmpty()) {
      b.append(" on ").append(log.path("worker").asText());
    }
    if (log.path("outcome").isTextual()) {
      b.append(": ").append(log.path("outcome").asText());
    } else if (!log.path("phase").asText().isEmpty()) {
      b.append(", ").append(log.path("phase").asText());
    }
    b.append('\n');
    if (!log.path("detail").asText().isEmpty()) {
      b.append(log.path("detail").asText()).append('\n');
    }
    section(b, "agent", log.path("agentTail").asText());
    section(b, "verify", log.path("verifyTail").asText());
    return b.toString();
  }

  private static void section(StringBuilder b, String name, String tail) {
    if (!tail.isEmpty()) {
      b.append("-- ").append(name).append(" (last lines) --\n").append(tail);
      if (!tail.endsWith("\n")) {
        b.append('\n');
      }
    }
  }
}
