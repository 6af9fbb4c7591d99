package dev.lanes.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code lanes watch}: the dashboard as a table in a terminal. It reads the lead's state ({@code /api/state}) and
 * draws it again after each change the lead streams ({@code /api/events}), at most a few times a second.
 */
@Command(
    name = "watch",
    mixinStandardHelpOptions = true,
    description = {
      "Shows the lead's runs, tasks, workers, merge queue, inbox and cost as a table that follows every change.",
      "",
      "For a terminal without a browser: the same state the dashboard shows, read from the lead's HTTP API (a lead"
          + " started with --http; lanes run serves one unless --http off). The lead is found on this machine from"
          + " --repo, or given with --url and --token-file.",
      "",
      "Exit 0 when stopped (Ctrl-C) or after --once, 1 when the lead cannot be reached or stops answering, 2 for bad"
          + " input (no lead found, a token it refuses)."
    })
final class WatchCommand implements Callable<Integer> {
  private static final String CLEAR = "\033[H\033[2J";
  /** Changes come in bursts; the table is drawn again at most this often. */
  private static final long REDRAW_MS = 250;

  @Mixin LeadApi.Options where;

  @Option(names = "--once", description = "Print the table once and exit.")
  boolean once;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    LeadApi api = LeadApi.find(where);
    boolean terminal = System.console() != null && !once;
    try {
      JsonNode state = api.get("/api/state");
      draw(out, state, terminal);
      if (once) {
        return Main.OK;
      }
      java.util.concurrent.atomic.AtomicLong last = new java.util.concurrent.atomic.AtomicLong(
          state.path("eventId").asLong());
      java.util.concurrent.atomic.AtomicBoolean changed = new java.util.concurrent.atomic.AtomicBoolean();
      java.util.concurrent.ScheduledExecutorService redraw = java.util.concurrent.Executors
          .newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "lanes-watch");
            t.setDaemon(true);
            return t;
          });
      // Changes come in bursts: the table is drawn again at most every REDRAW_MS, after the last change too.
      redraw.scheduleWithFixedDelay(() -> {
        if (changed.getAndSet(false)) {
          try {
            draw(out, api.get("/api/state"), terminal);
          } catch (RuntimeException e) {
            changed.set(true); // the stream says whether the lead is gone
          }
        }
      }, REDRAW_MS, REDRAW_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
      while (true) {
        api.follow(last.get(), event -> {
          if (event.kind().equals("reset")) {
            last.set(api.get("/api/state").path("eventId").asLong());
            changed.set(true);
            return true; // follow again from the state's event
          }
          if (event.id() >= 0) {
            last.set(event.id());
          }
          changed.set(true);
          return false;
        });
      }
    } catch (LeadApi.Unreachable e) {
      spec.commandLine().getErr().println("lanes: " + e.getMessage());
      return Main.FAILED;
    }
  }

  static void draw(PrintWriter out, JsonNode state, boolean terminal) {
    out.print(terminal ? CLEAR : "");
    out.print(table(state));
    out.flush();
  }

  /** The state as lines of text: the lead, each run's tasks, the workers, the merge queues, the inbox. */
  static String table(JsonNode state) {
    StringBuilder b = new StringBuilder();
    JsonNode lead = state.path("lead");
    JsonNode cost = state.path("cost");
    b.append(String.format(Locale.ROOT, "lead %s%s   cost $%.2f (today $%.2f)%n", lead.path("name").asText(),
        lead.path("since").asText().isEmpty() ? " (not serving yet)" : " since " + lead.path("since").asText(),
        cost.path("totalUsd").asDouble(), cost.path("today").asDouble()));
    JsonNode inbox = state.path("inbox");
    if (inbox.size() > 0) {
      b.append(String.format("%nNEEDS YOU (%d)%n", inbox.size()));
      for (JsonNode item : inbox) {
        b.append(String.format("  %-12s %s/%s  %s%n", item.path("kind").asText(), item.path("run").asText(),
            item.path("task").asText(), item.path("title").asText()));
      }
    }
    for (JsonNode run : state.path("runs")) {
      b.append(String.format(Locale.ROOT, "%nrun %s (%s -> %s) %s%s  $%.2f%n", run.path("run").asText(),
          run.path("plan").asText(), run.path("target").asText(), run.path("state").asText(),
          run.path("paused").isTextual() ? ": " + run.path("paused").asText() : "", run.path("costUsd").asDouble()));
      b.append(String.format("  %-20s %-9s %3s %-10s %-8s %8s %7s  %s%n", "TASK", "STATE", "TRY", "WORKER", "PHASE",
          "ELAPSED", "COST", "DETAIL"));
      for (JsonNode t : run.path("tasks")) {
        b.append(String.format(Locale.ROOT, "  %-20s %-9s %3d %-10s %-8s %8s %7s  %s%n", cut(t.path("task").asText(),
            20), t.path("state").asText(), t.path("attempt").asInt(), cut(t.path("worker").asText(), 10),
            cut(t.path("phase").asText(), 8), elapsed(t.path("elapsedMs").asLong()),
            t.path("costUsd").asDouble() > 0 ? String.format(Locale.ROOT, "$%.2f", t.path("costUsd").asDouble()) : "",
            cut(t.path("detail").asText().replaceAll("\\s+", " "), 60)));
      }
    }
    JsonNode workers = state.path("workers");
    if (workers.size() > 0) {
      b.append(String.format("%nWORKER     FREE  LAST SEEN             TASKS%n"));
      for (JsonNode w : workers) {
        StringBuilder tasks = new StringBuilder();
        w.path("tasks").forEach(t -> tasks.append(tasks.length() == 0 ? "" : ", ").append(t.asText()));
        b.append(String.format("%-10s %2d/%-2d %-21s %s%n", cut(w.path("worker").asText(), 10), w.path("free").asInt(),
            w.path("slots").asInt(), cut(w.path("lastSeen").asText(), 21), tasks));
      }
    }
    for (JsonNode q : state.path("queue")) {
      if (q.path("entries").size() == 0 && q.path("evictions").size() == 0) {
        continue;
      }
      StringBuilder entries = new StringBuilder();
      q.path("entries").forEach(e -> entries.append(" ").append(e.path("task").asText()).append(" (")
          .append(e.path("state").asText().toLowerCase(Locale.ROOT)).append(")"));
      b.append(String.format("%nmerge queue of %s (window %d):%s%n", q.path("run").asText(), q.path("window").asInt(),
          entries.length() == 0 ? " empty" : entries));
      q.path("evictions").forEach(e -> b.append(String.format("  evicted %s: %s%n", e.path("task").asText(),
          cut(e.path("why").asText(), 80))));
    }
    return b.toString();
  }

  static String elapsed(long ms) {
    long s = ms / 1000;
    return s == 0 ? "" : s < 60 ? s + "s" : s < 3600 ? s / 60 + "m" + String.format("%02d", s % 60) + "s"
        : s / 3600 + "h" + String.format("%02d", s / 60 % 60) + "m";
  }

  private static String cut(String text, int width) {
    return text.length() <= width ? text : text.substring(0, width - 1) + "…";
  }
}
