package dev.lanes.deploy;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.lanes.bus.Bus;
import dev.lanes.bus.KafkaBus;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.LeadOnline;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.Topics;
import dev.lanes.protocol.WorkerStatus;
import dev.lanes.bus.ClientConfig;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code lanes status}: the runs as the lead's log tells them, and the workers that answer a roll call now. Reading
 * the log, not asking the lead, means status works while no lead is running.
 */
@Command(
    name = "status",
    mixinStandardHelpOptions = true,
    description = "Shows the runs (tasks, state, attempt, worker) and the workers that answer now (slots, last seen).")
final class StatusCommand implements Callable<Integer> {
  @picocli.CommandLine.Mixin BusOptions busOptions;

  @Option(names = "--json", description = "Print JSON: {\"runs\":[…],\"workers\":[…],\"rollCall\":B,\"deadLetters\":N}.")
  boolean json;

  @Option(names = "--all", description = "Include finished runs.")
  boolean all;

  @Option(names = "--wait-workers", defaultValue = "2", description = "Seconds to wait for workers to answer (default: ${DEFAULT-VALUE}).")
  int waitWorkers;

  @Spec CommandSpec spec;

  /** A task's line of the status. */
  record TaskRow(String task, String state, int epoch, String worker, String detail) {}

  /** A run and its tasks. */
  record RunRow(String run, String plan, String target, boolean finished, List<TaskRow> tasks) {}

  /** A worker that answered the roll call. */
  record WorkerRow(String worker, String host, List<String> capabilities, int slots, int busy, String lastSeen) {}

  @Override
  public Integer call() throws JsonProcessingException {
    PrintWriter out = spec.commandLine().getOut();
    Map<String, WorkerRow> workers = new ConcurrentHashMap<>();
    List<RunRow> runs;
    boolean rollCall;
    long deadLetters;
    ClientConfig kafka = busOptions.config();
    try (KafkaBus bus = KafkaBus.connect(kafka, "lanes-status",
        Daemons.envelope(kafka.lanes(), Optional.empty(), Optional.empty(), spec.commandLine().getErr()))) {
      bus.createTopics();
      // The log first: its enrolment records tell the bus which key each worker answers with.
      runs = runs(bus);
      // The roll call speaks on lanes.work as a lead would: only a credential allowed to (the lead's) holds one, and
      // only the lead's keys may sign it. With the submitter's, status shows the runs only.
      rollCall = bus.mayWrite(Topics.WORK);
      if (rollCall) {
        bus.subscribe(Topics.REPORTS, Bus.Start.NOW, m -> {
          if (m instanceof WorkerStatus w) {
            workers.put(w.worker(), new WorkerRow(w.worker(), w.host(), w.capabilities(), w.slots(), w.busy(),
                Instant.now().truncatedTo(ChronoUnit.SECONDS).toString()));
          }
        });
        rollCall = bus.publish(new LeadOnline("status-" + ProcessHandle.current().pid()))
            .handle((ok, error) -> error == null).join();
      }
      if (rollCall) {
        sleep(waitWorkers);
      }
      deadLetters = bus.deadLetterCount();
    }
    List<RunRow> shown = runs.stream().filter(r -> all || !r.finished()).toList();
    List<WorkerRow> answered = workers.values().stream()
        .sorted(java.util.Comparator.comparing(WorkerRow::worker)).toList();
    if (json) {
      Map<String, Object> doc = new LinkedHashMap<>();
      doc.put("runs", shown);
      doc.put("workers", answered);
      doc.put("rollCall", rollCall);
      doc.put("deadLetters", deadLetters);
      out.println(Json.mapper().writeValueAsString(doc));
    } else {
      print(out, shown, answered, rollCall);
      out.println();
      out.println("Dead letters: " + deadLetters + " (records a party refused: malformed, unsigned, forged, moved or"
          + " from a party that may not send them; " + Topics.DEAD + " keeps each with its reason)");
    }
    out.flush();
    return Main.OK;
  }

  private static List<RunRow> runs(Bus bus) {
    Map<String, RunStarted> started = new LinkedHashMap<>();
    Map<String, Map<String, TaskUpdate>> tasks = new LinkedHashMap<>();
    Map<String, RunFinished> finished = new LinkedHashMap<>();
    bus.replay(Topics.EVENTS, m -> {
      if (m instanceof RunStarted s) {
        started.put(s.run(), s);
        tasks.put(s.run(), new LinkedHashMap<>());
        s.tasks().forEach(t -> tasks.get(s.run()).put(t, null));
      } else if (m instanceof TaskUpdate u && tasks.containsKey(u.run())) {
        tasks.get(u.run()).put(u.task(), u);
      } else if (m instanceof RunFinished f) {
        finished.put(f.run(), f);
      }
    });
    List<RunRow> rows = new ArrayList<>();
    started.forEach((id, s) -> {
      List<TaskRow> taskRows = new ArrayList<>();
      tasks.get(id).forEach((task, u) -> taskRows.add(u == null
          ? new TaskRow(task, "waiting", 0, "", "")
          : new TaskRow(task, u.state().toString().toLowerCase(Locale.ROOT), u.epoch(), u.worker(), u.detail())));
      rows.add(new RunRow(id, s.plan(), s.target(), finished.containsKey(id), taskRows));
    });
    // Compaction keeps only the end of a finished run: list such runs from their end.
    finished.forEach((id, f) -> {
      if (!started.containsKey(id)) {
        List<TaskRow> taskRows = new ArrayList<>();
        f.landed().forEach(t -> taskRows.add(new TaskRow(t, "landed", 0, "", "")));
        f.failed().forEach(t -> taskRows.add(new TaskRow(t, "not landed", 0, "", "")));
        rows.add(new RunRow(id, id.replaceAll("-\\d{8}-\\d{6}-[0-9a-f]{4}$", ""), f.target(), true, taskRows));
      }
    });
    return rows;
  }

  private static void print(PrintWriter out, List<RunRow> runs, List<WorkerRow> workers, boolean rollCall) {
    if (runs.isEmpty()) {
      out.println("No runs in progress.");
    }
    for (RunRow run : runs) {
      out.println("run " + run.run() + " -> " + run.target() + (run.finished() ? " (finished)" : ""));
      for (TaskRow t : run.tasks()) {
        out.printf(Locale.ROOT, "  %-14s %-8s %5s  %-10s %s%n", t.task(), t.state(), t.epoch() == 0 ? "-" : "#" + t.epoch(),
            t.worker().isEmpty() ? "-" : t.worker(), t.detail());
      }
    }
    out.println();
    if (!rollCall) {
      out.println("No roll call of workers: only the lead's credential and keys may call it.");
    } else if (workers.isEmpty()) {
      out.println("No worker answered.");
    }
    for (WorkerRow w : workers) {
      out.printf(Locale.ROOT, "worker %-12s %d/%d busy  %-24s %s, seen %s%n", w.worker(), w.busy(), w.slots(),
          w.capabilities(), w.host(), w.lastSeen());
    }
  }

  private static void sleep(int seconds) {
    try {
      Thread.sleep(seconds * 1000L);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
