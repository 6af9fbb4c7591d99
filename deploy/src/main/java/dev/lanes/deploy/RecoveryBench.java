package dev.lanes.deploy;

import dev.lanes.bus.EmbeddedBroker;
import dev.lanes.bus.KafkaBus;
import dev.lanes.coordinator.Lead;
import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.Claim;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The recovery benchmark: a lead starting over a log that holds {@code tasks} finished tasks (in runs of 100, each
 * task with its four decisions: offered, running, landing, landed) and one unfinished run, timed from its start to the
 * moment it serves (holds the lead role, has replayed the log and resumed the unfinished run). The heap is measured
 * after a full collection, with the broker in the same JVM; the lead's own share is the difference to before.
 */
final class RecoveryBench {
  private static final int RUN_SIZE = 100;

  private RecoveryBench() {}

  static void run(int tasks, PrintWriter out) {
    Path dir = LocalCluster.tempDir("lanes-recovery-");
    try (EmbeddedBroker broker = EmbeddedBroker.start(dir.resolve("broker"))) {
      Path repo = repository(dir.resolve("repo"));
      String base = Demo.git(repo, "rev-parse", "HEAD").strip();
      long written;
      try (KafkaBus writer = KafkaBus.connect(broker.bootstrapServers(), "bench-history")) {
        writer.createTopics();
        written = writeHistory(writer, tasks, base);
      }
      Demo.git(repo, "branch", "lanes/open", base);
      out.printf(Locale.ROOT, "log: %d records for %d finished tasks and 1 unfinished run%n", written, tasks);
      long before = heapAfterGc();
      long start = System.nanoTime();
      try (KafkaBus bus = KafkaBus.connect(broker.bootstrapServers(), "bench-lead");
          Lead lead = Lead.start(bus, repo, Clock.systemUTC())) {
        lead.awaitActive(Duration.ofMinutes(2));
        long ms = (System.nanoTime() - start) / 1_000_000;
        long after = heapAfterGc();
        long share = after - before;
        out.printf(Locale.ROOT, "lead serving after %d ms; heap after GC %.0f MB with the broker in the same JVM; the"
            + " lead's own share: %s%n", ms, after / 1e6, share < 1_000_000 ? "under 1 MB (finished runs are dropped"
            + " on replay)" : String.format(Locale.ROOT, "%.0f MB", share / 1e6));
        out.printf(Locale.ROOT, "recovery tasks=%d ms=%d heap_mb=%.0f%n", tasks, ms, after / 1e6);
        out.flush();
      }
    } finally {
      LocalCluster.deleteTree(dir);
    }
  }

  private static long writeHistory(KafkaBus bus, int tasks, String base) {
    List<CompletableFuture<Void>> sent = new ArrayList<>();
    AgentSpec agent = new AgentSpec(List.of("sh", "-c", "true"), 60_000);
    int runs = (tasks + RUN_SIZE - 1) / RUN_SIZE;
    for (int r = 0; r <= runs; r++) {
      boolean open = r == runs;
      int size = open ? 10 : Math.min(RUN_SIZE, tasks - r * RUN_SIZE);
      String run = (open ? "open" : "done-" + r) + "-20261123-000000-0000";
      List<Plan.Task> list = new ArrayList<>();
      for (int t = 0; t < size; t++) {
        list.add(new Plan.Task("t" + t, "task " + t, "prompt " + t, List.of(Claim.parse("m" + t + "/")), List.of(),
            List.of(), agent, Optional.empty()));
      }
      String target = open ? "lanes/open" : "lanes/done-" + r;
      Plan plan = new Plan(open ? "open" : "done-" + r, Optional.empty(), target, list);
      sent.add(bus.publish(new RunStarted(run, plan.name(), target, base, list.stream().map(Plan.Task::id).toList(),
          Optional.of(plan))));
      for (Plan.Task t : list) {
        for (TaskState state : open ? List.of(TaskState.OFFERED, TaskState.RUNNING)
            : List.of(TaskState.OFFERED, TaskState.RUNNING, TaskState.LANDING, TaskState.LANDED)) {
          sent.add(bus.publish(new TaskUpdate(run, t.id(), state, 1, "w1", state.toString().toLowerCase(Locale.ROOT),
              Optional.of(base), state == TaskState.LANDED ? Optional.of(base) : Optional.empty())));
        }
      }
      if (!open) {
        sent.add(bus.publish(new RunFinished(run, target, list.stream().map(Plan.Task::id).toList(), List.of())));
      }
    }
    CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).join();
    return sent.size();
  }

  private static Path repository(Path repo) {
    try {
      Files.createDirectories(repo);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    Demo.git(repo, "init", "-q", "-b", "main");
    Demo.git(repo, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "--allow-empty", "-m",
        "start");
    return repo;
  }

  private static long heapAfterGc() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }
}
