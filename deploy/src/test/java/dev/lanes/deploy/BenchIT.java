package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The benchmarks that need a broker run end to end on small numbers and print their summary line last. */
class BenchIT {
  @Test
  void dispatchBenchRunsAPlainAndASecuredLegAndPrintsWhatSecurityCosts() {
    List<String> lines = bench("dispatch", "--workers", "10", "--tasks", "60", "--warmup", "30");
    String all = String.join("\n", lines);

    // Each leg in a JVM of its own: neither runs on code the JIT compiled for the other's types.
    assertThat(lines).contains("each leg runs in a JVM of its own ([plain, secure]), one after the other");
    List<Long> pids = lines.stream().map(l -> Pattern.compile("^jvm: .*, pid (\\d+), ").matcher(l))
        .filter(Matcher::find).map(m -> Long.parseLong(m.group(1))).toList();
    assertThat(pids).hasSize(2).doesNotHaveDuplicates().doesNotContain(ProcessHandle.current().pid());
    assertThat(lines).filteredOn(l -> l.matches("the JVM during the pass: the JIT compiled for \\d+ ms; \\d+ garbage"
        + " collections took \\d+ ms")).hasSize(4);
    assertThat(lines).containsSubsequence(
        "--- plain leg: plaintext, no credentials, messages NOT tagged",
        "--- secure leg: SASL_SSL with SCRAM-SHA-512 and ACLs, each party with its role's client file; messages tagged"
            + " for their readers (the lead's keys, each worker its own, enrolled)");
    // Each leg: a pass that warms the JIT up, then the measured pass, each after its own warm-up plan.
    assertThat(lines).filteredOn(l -> l.equals("a first pass warms the JIT up on this leg's code paths; it is not"
        + " counted:")).hasSize(2);
    assertThat(lines).filteredOn(l -> l.matches("warm-up: 30 tasks in 1 plan\\(s\\) in [\\d.]+ s \\(all landed\\),"
        + " not counted")).hasSize(4);
    assertThat(lines).filteredOn(l -> l.startsWith("offered->granted: n=60 ")).hasSize(2);
    assertThat(lines).filteredOn(l -> l.startsWith("throughput: 60 tasks in ") && l.endsWith("(all landed)"))
        .hasSize(2);
    assertThat(lines).anyMatch(l -> l.startsWith("tags: the lead seals an offer for 10 workers in "));
    // Each task takes an offer and a grant, a claim and a result, and three decisions, with a little room for the
    // run's own records and a repeated offer; more would be a herd or records sent twice. Nothing is dead: on the
    // secured leg, no party refused another's record.
    Matcher records = Pattern.compile("records per task: lanes\\.work ([\\d.]+) lanes\\.reports ([\\d.]+)"
        + " lanes\\.events ([\\d.]+) lanes\\.dead 0\\.00").matcher(all);
    for (int leg = 0; leg < 2; leg++) {
      assertThat(records.find()).as(all).isTrue();
      assertThat(Double.parseDouble(records.group(1))).isBetween(2.0, 2.25);
      assertThat(Double.parseDouble(records.group(2))).isBetween(2.0, 2.25);
      assertThat(Double.parseDouble(records.group(3))).isBetween(3.0, 3.25);
    }
    assertThat(lines).anyMatch(l -> l.startsWith("security costs: dispatch p50 "));
    Matcher last = Pattern.compile("dispatch p50_ms=([\\d.]+) p99_ms=([\\d.]+) tasks_per_s=(\\d+)"
        + " kafka_rtt_p99_ms=([\\d.]+) plain_p99_ms=([\\d.]+) plain_tasks_per_s=(\\d+)")
        .matcher(lines.get(lines.size() - 1));
    assertThat(last.matches()).as(lines.get(lines.size() - 1)).isTrue();
    assertThat(Double.parseDouble(last.group(1))).isPositive().isLessThanOrEqualTo(Double.parseDouble(last.group(2)));
    // The summary is made of the legs' own figures: the secured leg's, with the plaintext leg's p99 and tasks/s beside.
    List<String> legs = lines.subList(0, lines.size() - 1).stream().filter(l -> l.startsWith("dispatch p50_ms="))
        .toList();
    assertThat(legs).hasSize(2);
    assertThat(lines.get(lines.size() - 1)).startsWith(legs.get(1) + " plain_p99_ms=" + figure(legs.get(0), "p99_ms")
        + " plain_tasks_per_s=" + figure(legs.get(0), "tasks_per_s"));
  }

  @Test
  void dispatchBenchRunsOneLegWhenAskedAndEndsWithItsSummary() {
    List<String> lines = bench("dispatch", "--only", "plain", "--workers", "4", "--tasks", "20", "--warmup", "0");

    assertThat(lines).noneMatch(l -> l.startsWith("--- secure leg") || l.startsWith("security costs"));
    // On Linux the line also says how busy the machine was and how much its host stole: a noisy pass shows as one.
    assertThat(lines).anyMatch(l -> l.matches("cpu: [\\d.]+ ms per task \\(the whole process: broker, lead and workers\\);"
        + " the machine: \\d+% busy, \\d+% stolen by its host"));
    // Where it went: the lead's loop and the broker's request handlers are among the threads named, and the broker
    // served produce and fetch requests during the pass.
    assertThat(lines).anyMatch(l -> l.startsWith("cpu by thread, ms per task: ") && l.contains(" lanes-lead ")
        && l.contains(" data-plane-kafka-request-handler-N ")
        && l.matches(".*; the rest \\(the JVM's JIT and GC, threads that ended\\) [\\d.]+"));
    String requests = lines.stream().filter(l -> l.startsWith("broker requests per task:")).findFirst().orElseThrow();
    for (String kind : List.of("Produce", "Fetch")) {
      Matcher perTask = Pattern.compile(" " + kind + " ([\\d.]+)").matcher(requests);
      assertThat(perTask.find()).as(requests).isTrue();
      assertThat(Double.parseDouble(perTask.group(1))).as(requests).isPositive();
    }
    assertThat(lines.get(lines.size() - 1))
        .matches("dispatch p50_ms=[\\d.]+ p99_ms=[\\d.]+ tasks_per_s=\\d+ kafka_rtt_p99_ms=[\\d.]+");
  }

  @Test
  void dispatchBenchWithHttp_runsTheLegWatchedNotNotWatched_andPrintsBothSidesMeansSideBySide() {
    List<String> lines = bench("dispatch", "--only", "plain", "--http", "--workers", "4", "--tasks", "20", "--warmup",
        "0");

    List<String> passes = lines.stream().filter(l -> l.startsWith("with the lead's HTTP server on")
        || l.startsWith("throughput: ")).toList();
    String watched = "with the lead's HTTP server on: one client follows /api/events, /metrics and /api/state are"
        + " read every second";
    assertThat(passes).hasSize(6);
    assertThat(passes.get(0)).isEqualTo(watched);
    assertThat(passes.get(4)).isEqualTo(watched);
    assertThat(passes).filteredOn(l -> l.matches("throughput: 20 tasks in [\\d.]+ s = \\d+ tasks/s \\(all landed\\)"))
        .hasSize(4);
    assertThat(lines).as("--warmup 0: no pass to warm the JIT up either").noneMatch(l -> l.contains("warms the JIT"));
    assertThat(lines).filteredOn(l -> l.matches("http: the lead's HTTP server's threads used [\\d.]+ ms of CPU per task"
        + " \\([\\d.]+% of the process's\\), the watching clients' [\\d.]+ ms")).hasSize(2);
    assertThat(lines).anyMatch(l -> l.matches("plain leg, HTTP server and metrics off -> on: dispatch p50 [\\d.]+ ->"
        + " [\\d.]+ ms \\(x[\\d.]+\\), p99 .*, tasks/s \\d+ -> \\d+ \\(x[\\d.]+\\)"));
    assertThat(lines.get(lines.size() - 1)).matches("dispatch p50_ms=[\\d.]+ p99_ms=[\\d.]+ tasks_per_s=\\d+"
        + " kafka_rtt_p99_ms=[\\d.]+ http_p50_ms=[\\d.]+ http_p99_ms=[\\d.]+ http_tasks_per_s=\\d+");
  }

  @Test
  void dispatchBenchRunsTheTaggingLegOnAPlaintextBroker() {
    List<String> lines = bench("dispatch", "--only", "tags", "--workers", "4", "--tasks", "20", "--warmup", "0");

    assertThat(lines).contains("--- tags leg: plaintext, no credentials; messages tagged for their readers (keys made"
        + " for the leg, each worker its own, enrolled)");
    assertThat(lines).anyMatch(l -> l.startsWith("tags: the lead seals an offer for 4 workers in "));
    assertThat(lines).anyMatch(l -> l.matches("throughput: 20 tasks in [\\d.]+ s = \\d+ tasks/s \\(all landed\\)"));
    assertThat(lines).anyMatch(l -> l.matches("records per task: .* lanes\\.dead 0\\.00"));
    assertThat(lines.get(lines.size() - 1))
        .matches("dispatch p50_ms=[\\d.]+ p99_ms=[\\d.]+ tasks_per_s=\\d+ kafka_rtt_p99_ms=[\\d.]+");
  }

  @Test
  void recoveryBenchReplaysTheLogAndPrintsItsSummary() {
    List<String> lines = bench("recovery", "--tasks", "300");

    assertThat(lines).contains("log: 1227 records for 300 finished tasks and 1 unfinished run");
    assertThat(lines.get(lines.size() - 1)).matches("recovery tasks=300 ms=\\d+ heap_mb=\\d+");
  }

  @Test
  void mergeBenchLandsEveryBranchThroughTheQueueAndPrintsItsRatio() {
    List<String> lines = bench("merge", "--branches", "5", "--files", "200", "--rounds", "1");

    assertThat(lines).contains("generated 200 files and 5 branches of one commit each, verify: true, window 4");
    assertThat(lines).anyMatch(l -> l.matches("round 1: lanes \\d+ ms, git \\d+ ms"));
    assertThat(lines.get(lines.size() - 1)).matches("merge n=5 lanes_ms=\\d+ git_ms=\\d+ ratio=\\d+\\.\\d\\d");
  }

  /** The value of {@code name} in a summary line. */
  private static String figure(String line, String name) {
    Matcher m = Pattern.compile(" " + name + "=([\\d.]+)").matcher(line);
    assertThat(m.find()).as(line).isTrue();
    return m.group(1);
  }

  private static List<String> bench(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    String[] argv = new String[args.length + 1];
    argv[0] = "bench";
    System.arraycopy(args, 0, argv, 1, args.length);
    int code = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), argv);
    assertThat(code).as(out + "\n" + err).isZero();
    return out.toString().lines().toList();
  }
}
