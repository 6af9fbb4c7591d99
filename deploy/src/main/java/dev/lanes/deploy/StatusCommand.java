package dev.lanes.deploy;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.lanes.bus.Bus;
import dev.lanes.bus.KafkaBus;
import dev.lanes.coordinator.Inbox;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.Durations;
import dev.lanes.protocol.LeadOnline;
import dev.lanes.protocol.LeadServing;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.Topics;
import dev.lanes.protocol.WorkerStatus;
import dev.lanes.bus.ClientConfig;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code lanes status}: whether a lead serves, the runs as the lead's log tells them, what needs a person, and the
 * workers that answer a roll call now. Reading the log, not asking the lead, means status works while no lead is
 * running; it then says so rather than show tasks as running as if someone were watching them. It only reads: it
 * creates no topic, so a wrong address ends in one line, not in a cluster it half made.
 */
@Command(
    name = "status",
    mixinStandardHelpOptions = true,
    description = {
      "Shows whether a lead serves, the runs, what needs a person, and the workers.",
      "",
      "Which lead serves and since when; the runs from the lead's log (tasks, state, attempt, worker), a task whose"
          + " lead is gone marked as such; the inbox of what needs a person (questions, parked tasks, violations,"
          + " budgets reached), each with what can be done; the workers that answer a roll call"
          + " now (slots, last seen); how many records lanes.dead holds. It only reads: it creates no topic.",
      "",
      "Exit 0 when it could read the cluster, 1 when Kafka did not answer within --timeout, 2 for bad input."
    })
final class StatusCommand implements Callable<Integer> {
  @picocli.CommandLine.Mixin BusOptions busOptions;

  @Option(names = "--json",
      description = "Print JSON: {\"lead\":{…},\"runs\":[…],\"inbox\":[…],\"workers\":[…],\"rollCall\":B,"
          + "\"deadLetters\":N}.")
  boolean json;

  @Option(names = "--all", description = "Include finished runs.")
  boolean all;

  @Option(names = "--wait-workers", defaultValue = "2s", paramLabel = "DURATION",
      description = "How long to wait for workers to answer the roll call (default: ${DEFAULT-VALUE}).")
  String waitWorkers;

  @Spec CommandSpec spec;

  /**
   * A task's line of the status. {@code waitingForLead}: the task is not final, its run is not, and no lead serves, so
   * its state is only what the last lead recorded (a worker may have finished it since).
   */
  record TaskRow(String task, String state, int epoch, String worker, String detail, boolean waitingForLead) {}

  /** A run and its tasks. */
  record RunRow(String run, String plan, String target, boolean finished, List<TaskRow> tasks) {}

  /** A worker that answered the roll call. */
  record WorkerRow(String worker, String host, List<String> capabilities, int slots, int busy, String lastSeen) {}

  /**
   * Who leads. {@code serving}: "yes", "no", or "unknown" when this credential may not see the leads' group.
   * {@code lead}, {@code host} and {@code since} come from the last lead that took the role (empty when none ever
   * did); {@code member} is the group member that holds the role now, as the broker names it.
   */
  record LeadRow(String serving, String lead, String host, String since, String member) {}

  @Override
  public Integer call() throws JsonProcessingException {
    PrintWriter out = spec.commandLine().getOut();
    Duration wait = Durations.parseOrSeconds("--wait-workers", waitWorkers);
    Map<String, WorkerRow> workers = new ConcurrentHashMap<>();
    List<RunRow> runs = List.of();
    // What needs a person, read from the log by the lead's own rules: the items its decisions open and settle.
    Inbox inbox = Inbox.reading(java.time.Clock.systemUTC());
    boolean rollCall = false;
    long deadLetters = 0;
    AtomicReference<LeadServing> lastLead = new AtomicReference<>();
    LeadRow lead;
    ClientConfig kafka = busOptions.config();
    try (KafkaBus bus = KafkaBus.connect(kafka, "lanes-status",
        Daemons.envelope(kafka.lanes(), Optional.empty(), Optional.empty(), spec.commandLine().getErr()))) {
      bus.awaitReachable();
      Set<String> topics = bus.topics();
      KafkaBus.LeadGroup group = bus.leadGroup();
      if (topics.contains(Topics.EVENTS)) {
        // The log first: its enrolment records tell the bus which key each worker answers with.
        runs = runs(bus, lastLead, group.visible() && group.holder().isEmpty(), inbox);
      }
      lead = lead(group, Optional.ofNullable(lastLead.get()));
      // The roll call speaks on lanes.work as a lead would: only a credential allowed to (the lead's) holds one, and
      // only the lead's keys may sign it. With the submitter's, status shows the runs only.
      rollCall = topics.contains(Topics.WORK) && topics.contains(Topics.REPORTS) && bus.mayWrite(Topics.WORK);
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
        sleep(wait);
      }
      if (topics.contains(Topics.DEAD)) {
        deadLetters = bus.deadLetterCount();
      }
    }
    List<RunRow> shown = runs.stream().filter(r -> all || !r.finished()).toList();
    long parkedElsewhere = runs.stream().filter(r -> !shown.contains(r)).flatMap(r -> r.tasks().stream())
        .filter(t -> t.state().equals(PARKED)).count();
    List<WorkerRow> answered = workers.values().stream()
        .sorted(java.util.Comparator.comparing(WorkerRow::worker)).toList();
    if (json) {
      Map<String, Object> doc = new LinkedHashMap<>();
      doc.put("lead", lead);
      doc.put("runs", shown);
      doc.put("inbox", inbox.items().stream().map(Inbox.Item::view).toList());
      doc.put("workers", answered);
      doc.put("rollCall", rollCall);
      doc.put("deadLetters", deadLetters);
      out.println(Json.mapper().writeValueAsString(doc));
    } else {
      print(out, lead);
      print(out, shown, answered, rollCall, parkedElsewhere, inbox.items());
      out.println();
      out.println("Dead letters: " + deadLetters + " (records a party refused: malformed, unsigned, forged, moved or"
          + " from a party that may not send them; " + Topics.DEAD + " keeps each with its reason)");
    }
    out.flush();
    return Main.OK;
  }

  private static final String PARKED = TaskState.PARKED.toString().toLowerCase(Locale.ROOT);

  private static LeadRow lead(KafkaBus.LeadGroup group, Optional<LeadServing> last) {
    String serving = !group.visible() ? "unknown" : group.holder().isPresent() ? "yes" : "no";
    return new LeadRow(serving, last.map(LeadServing::lead).orElse(""), last.map(LeadServing::host).orElse(""),
        last.map(LeadServing::since).orElse(""), group.holder().orElse(""));
  }

  private static List<RunRow> runs(Bus bus, AtomicReference<LeadServing> lastLead, boolean leadless, Inbox inbox) {
    Map<String, RunStarted> started = new LinkedHashMap<>();
    Map<String, Map<String, TaskUpdate>> tasks = new LinkedHashMap<>();
    Map<String, RunFinished> finished = new LinkedHashMap<>();
    bus.replay(Topics.EVENTS, m -> {
      inbox.recorded(m);
      if (m instanceof RunStarted s) {
        started.put(s.run(), s);
        tasks.put(s.run(), new LinkedHashMap<>());
        s.tasks().forEach(t -> tasks.get(s.run()).put(t, null));
      } else if (m instanceof TaskUpdate u && tasks.containsKey(u.run())) {
        tasks.get(u.run()).put(u.task(), u);
      } else if (m instanceof RunFinished f) {
        finished.put(f.run(), f);
      } else if (m instanceof LeadServing l) {
        lastLead.set(l);
      }
    });
    List<RunRow> rows = new ArrayList<>();
    started.forEach((id, s) -> {
      boolean done = finished.containsKey(id);
      List<TaskRow> taskRows = new ArrayList<>();
      tasks.get(id).forEach((task, u) -> taskRows.add(u == null
          ? new TaskRow(task, "waiting", 0, "", "", leadless && !done)
          : new TaskRow(task, u.state().toString().toLowerCase(Locale.ROOT), u.epoch(), u.worker(), u.detail(),
              leadless && !done && !u.state().isFinal())));
      rows.add(new RunRow(id, s.plan(), s.target(), done, taskRows));
    });
    // Compaction keeps only the end of a finished run: list such runs from their end.
    finished.forEach((id, f) -> {
      if (!started.containsKey(id)) {
        List<TaskRow> taskRows = new ArrayList<>();
        f.landed().forEach(t -> taskRows.add(new TaskRow(t, "landed", 0, "", "", false)));
        f.failed().forEach(t -> taskRows.add(new TaskRow(t, "not landed", 0, "", "", false)));
        rows.add(new RunRow(id, id.replaceAll("-\\d{8}-\\d{6}-[0-9a-f]{4}$", ""), f.target(), true, taskRows));
      }
    });
    return rows;
  }

  private static void print(PrintWriter out, LeadRow lead) {
    String last = lead.lead().isEmpty() ? "" : lead.lead() + " on " + lead.host();
    switch (lead.serving()) {
      case "yes":
        out.println("Lead: " + (last.isEmpty() ? lead.member() : last + ", serving since " + lead.since()));
        break;
      case "no":
        out.println("Lead: none serving" + (last.isEmpty() ? "" : " (the last, " + last + ", took the role at "
            + lead.since() + ")") + ". Nothing is granted, timed out or landed until a lead starts (lanes coordinator).");
        break;
      default:
        out.println("Lead: unknown (this credential may not see the group " + Topics.LEAD_GROUP + ")"
            + (last.isEmpty() ? "" : "; the last to take the role was " + last + " at " + lead.since()));
    }
    out.println();
  }

  private static void print(PrintWriter out, List<RunRow> runs, List<WorkerRow> workers, boolean rollCall,
      long parkedElsewhere, List<Inbox.Item> inbox) {
    if (runs.isEmpty()) {
      out.println("No runs in progress.");
    }
    for (RunRow run : runs) {
      out.println("run " + run.run() + " -> " + run.target() + (run.finished() ? " (finished)" : ""));
      for (TaskRow t : run.tasks()) {
        // A state nobody watches is not shown as if it were current.
        out.printf(Locale.ROOT, "  %-14s %-8s %5s  %-10s %s%n", t.task(),
            t.waitingForLead() ? t.state() + "?" : t.state(), t.epoch() == 0 ? "-" : "#" + t.epoch(),
            t.worker().isEmpty() ? "-" : t.worker(),
            t.waitingForLead() ? "no lead serving: last recorded as " + t.state() + (t.detail().isEmpty() ? ""
                : " (" + t.detail() + ")") : t.detail());
      }
    }
    Set<String> shown = runs.stream().map(RunRow::run).collect(java.util.stream.Collectors.toSet());
    List<String> needs = new ArrayList<>();
    for (Inbox.Item item : inbox) {
      if (item.run().isEmpty() || shown.contains(item.run().get())) {
        needs.add("  " + item.kind() + "  " + item.run().orElse("") + item.task().map(t -> "/" + t).orElse("") + ": "
            + item.title() + "\n      " + item.detail().strip().replace("\n", "\n      ")
            + (item.actions().isEmpty() ? "" : "\n      can: " + String.join(", ", item.actions())));
      }
    }
    out.println();
    if (needs.isEmpty() && parkedElsewhere == 0) {
      out.println("Nothing needs a person.");
    } else {
      out.println("Needs a person:");
      needs.forEach(out::println);
      if (parkedElsewhere > 0) {
        out.println("  " + parkedElsewhere + " parked task(s) in finished runs: lanes status --all");
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

  private static void sleep(Duration wait) {
    try {
      Thread.sleep(wait.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
