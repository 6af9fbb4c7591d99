package dev.lanes.deploy;

import dev.lanes.bus.Bus;
import dev.lanes.bus.KafkaBus;
import dev.lanes.coordinator.Lead;
import dev.lanes.protocol.Durations;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.OwnershipCheck;
import dev.lanes.protocol.OwnershipReport;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.PlanParser;
import dev.lanes.protocol.PlanRejected;
import dev.lanes.protocol.PlanSubmitted;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.Topics;
import java.io.PrintWriter;
import java.util.Optional;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code lanes submit}: hands a plan to the running lead. */
@Command(
    name = "submit",
    mixinStandardHelpOptions = true,
    description = {
      "Hands a plan to the running lead and prints the run id.",
      "",
      "The plan is checked here, then handed to the lead (lanes coordinator) over Kafka; the run id is printed once the lead has started it. With --wait, follows the run to its end.",
      "",
      "A plan no lead answers in time stays queued and starts when a lead does (exit 0). A target that exists and is ahead of the base needs --continue or --fresh, as with lanes run; the lead refuses a second run on a held target, naming the holder, and the same plan submitted again while it runs.",
      "",
      "Exit 0 when the plan started or is queued (with --wait: when every task landed), 1 when the run failed, there"
          + " are conflicts under --strict or Kafka did not answer within --timeout, 2 for bad input (a plan the lead"
          + " refused too)."
    })
final class SubmitCommand implements Callable<Integer> {
  @Parameters(paramLabel = "PLAN", description = "The plan file (YAML).")
  Path plan;

  @picocli.CommandLine.Mixin BusOptions busOptions;

  @Option(names = "--repo", paramLabel = "DIR",
      description = "The lead's repository, when it is on this machine, to check the plan against before it is handed"
          + " over, as lanes check does (default: the current directory, if it is inside a git repository).")
  Optional<Path> repo;

  @Option(names = "--strict", description = "Refuse a plan whose concurrent tasks own the same paths.")
  boolean strict;

  @Option(names = "--wait", description = "Follow the run's progress until it ends.")
  boolean await;

  @picocli.CommandLine.ArgGroup(exclusive = true) RunCommand.Existing existing = new RunCommand.Existing();

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    dev.lanes.bus.ClientConfig kafka = busOptions.config();
    String bootstrapServers = kafka.bootstrapServers();
    java.time.Duration timeout = kafka.timeout();
    Plan parsed = PlanParser.parse(plan);
    Preflight.Findings found = Preflight.check(parsed, repo, Preflight.Agents.ELSEWHERE);
    found.warnings().forEach(w -> out.println("warning: " + w));
    out.flush();
    found.requireNoErrors();
    OwnershipReport report = OwnershipCheck.check(parsed);
    if (report.hasConflicts() && strict) {
      report.conflicts().forEach(c -> out.println("conflict: " + c.describe(3)));
      return Main.FAILED;
    }
    OwnershipCheck.Serialized ordered = OwnershipCheck.serialize(parsed, report.conflicts());
    PlanParser.recordable(ordered.plan(), plan.toString()); // ordering added dependencies: still one record?
    ordered.added().forEach(e -> out.println("ordered: " + e.task() + " now runs after " + e.after()));
    String run = Lead.newRunId(parsed, Clock.systemUTC());
    CompletableFuture<Message> answer = new CompletableFuture<>();
    CompletableFuture<RunFinished> finished = new CompletableFuture<>();
    Progress progress = new Progress(out, run);
    java.util.Map<String, TaskUpdate> last = new java.util.concurrent.ConcurrentHashMap<>();
    try (KafkaBus bus = KafkaBus.connect(kafka, "lanes-submit",
        Daemons.envelope(kafka.lanes(), Optional.empty(), Optional.empty(), spec.commandLine().getErr()))) {
      bus.awaitReachable();
      bus.createTopics();
      bus.subscribe(Topics.EVENTS, Bus.Start.NOW, m -> {
        if (m instanceof RunStarted s && s.run().equals(run) || m instanceof PlanRejected r && r.request().equals(run)) {
          answer.complete(m);
        } else if (m instanceof TaskUpdate u && u.run().equals(run) && !u.worker().isEmpty()) {
          last.put(u.task(), u);
        }
        if (await) {
          progress.onMessage(m);
        }
        // Only after its progress line: the main thread prints what did not land as soon as this completes, and that
        // account must come below "run finished", not cut in above it.
        if (m instanceof RunFinished f && f.run().equals(run)) {
          finished.complete(f);
        }
      });
      try {
        bus.publish(new PlanSubmitted(run, ordered.plan(), System.getProperty("user.name") + "@"
            + WorkerCommand.hostName(), existing.choice())).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.ExecutionException | TimeoutException e) {
        spec.commandLine().getErr().println("lanes: could not hand the plan to Kafka at " + bootstrapServers + ": "
            + (e.getCause() == null ? "no answer within " + Durations.format(timeout) : e.getCause().getMessage()));
        return Main.FAILED;
      }
      Message reply;
      try {
        reply = answer.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        // The plan is on the reports topic: the next lead reads it from there. Saying so keeps a second submission
        // of the same plan from looking necessary (a lead would refuse it while the first runs, as the same plan).
        out.println("queued: " + run + " (no lead answered within " + Durations.format(timeout) + "; the plan starts when a"
            + " lead, lanes coordinator on " + bootstrapServers + ", does; do not submit it again)");
        out.flush();
        if (!await) {
          return Main.OK;
        }
        reply = answer.get();
      }
      if (reply instanceof PlanRejected rejected) {
        spec.commandLine().getErr().println("lanes: the lead refused " + plan + ":\n  "
            + String.join("\n  ", rejected.problems()));
        return Main.BAD_INPUT;
      }
      out.println(run);
      out.flush();
      if (!await) {
        return Main.OK;
      }
      RunFinished end = finished.get();
      notLanded(out, end, last);
      return end.failed().isEmpty() ? Main.OK : Main.FAILED;
    }
  }

  /**
   * For each task that did not land, its last attempt, its worker and the lead's account of it, which names where the
   * worker kept the attempt's logs and worktree on its machine (workers from before that say nothing: then where to
   * ask).
   */
  private static void notLanded(PrintWriter out, RunFinished end, java.util.Map<String, TaskUpdate> last) {
    if (end.failed().isEmpty()) {
      return;
    }
    out.println();
    out.println("Tasks that did not land, and where to look:");
    for (String task : end.failed()) {
      TaskUpdate u = last.get(task);
      if (u == null) {
        out.println("  " + task + ": it never ran");
        continue;
      }
      out.println("  " + task + " (attempt " + end.run() + "/" + task + "/e" + u.epoch() + " on worker " + u.worker()
          + "): " + u.detail());
      if (!u.detail().contains("(kept on ")) {
        out.println("    its logs and worktree are on that worker's machine: lanes worker --id " + u.worker()
            + " --list-kept there");
      }
    }
  }
}
