package dev.lanes.deploy;

import dev.lanes.bus.BrokerDir;
import dev.lanes.bus.Bus;
import dev.lanes.bus.ClientConfig;
import dev.lanes.bus.ClientFiles;
import dev.lanes.bus.EmbeddedBroker;
import dev.lanes.bus.Envelope;
import dev.lanes.bus.KafkaBus;
import dev.lanes.bus.MessageKeys;
import dev.lanes.coordinator.Lead;
import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.Claim;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.Durations;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.Topics;
import dev.lanes.worker.Worker;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The dispatch benchmark. A real lead runs a plan of independent no-op tasks; the simulated workers use the real
 * worker's claiming logic (random choice among open offers, one slot each) and share one subscription to the work
 * topic, so the figures measure Lanes' protocol rather than a hundred consumer threads fighting over two cores.
 *
 * <p>The plan is {@code inFlight} independent dependency chains, so at most that many offers are open at once and,
 * with fewer chains than workers, every offer meets idle workers: the latency is that of dispatch, not of a queue
 * of tasks waiting for a free worker. Each landing releases the next task of its chain, so tasks/s is the lead's
 * whole cycle (offer, claim, grant, result, landing).
 *
 * <p>{@code warmup} tasks (in plans of at most {@link #WARMUP_PLAN}) run through the same lead and workers before the
 * measured plan and are not counted, and before that each leg runs one whole pass that is not counted either, which
 * by default goes on until the JIT has settled ({@link JitMeter}): they pay for class loading and the JIT, so the
 * figures describe a running lead, as the Kafka baseline's own warm-up round trips do for the bare client. Each leg
 * runs in a JVM of its own ({@link #runApart}), as each deployment runs one set-up. With {@code --http} the leg runs
 * four passes, with the server on, off, off and on, and each side's figures are the mean of its two.
 *
 * <p>Latency is measured where the workers stand: from the moment an offer reaches them to the moment its grant does,
 * which covers the claim's trip to the lead, the lead's decision and the grant's trip back. The Kafka baseline is a
 * produce-to-consume round trip of one record at a time, with the bus's acknowledgements, idempotence and linger, in
 * the same process.
 *
 * <p>Records per task are the records each topic gained during the measured run, divided by its tasks: the run's own
 * start and end records and any repeated offers are in it too.
 */
final class DispatchBench {
  /** The most tasks in one warm-up plan: a plan is recorded whole in one record, which has a size limit. */
  static final int WARMUP_PLAN = 2000;

  private DispatchBench() {}

  /** How the bus of one leg of the benchmark is set up. */
  enum Leg {
    /** Plaintext, no credentials, messages not tagged: Lanes as it was before it had any of these. */
    PLAIN("plaintext, no credentials, messages NOT tagged", false, false),
    /**
     * As {@code lanes broker} sets it up by default: SASL_SSL with SCRAM-SHA-512 and ACLs, each party logged in with
     * its role's client file, every message tagged for its readers.
     */
    SECURE("SASL_SSL with SCRAM-SHA-512 and ACLs, each party with its role's client file; messages tagged for their"
        + " readers (the lead's keys, each worker its own, enrolled)", true, true),
    /** The secured broker and client files of {@link #SECURE}, messages not tagged: what TLS and SASL cost alone. */
    TLS("SASL_SSL with SCRAM-SHA-512 and ACLs, each party with its role's client file; messages NOT tagged", true,
        false),
    /** The plaintext broker of {@link #PLAIN}, messages tagged as in {@link #SECURE}: what tagging costs alone. */
    TAGS("plaintext, no credentials; messages tagged for their readers (keys made for the leg, each worker its own,"
        + " enrolled)", false, true);

    private final String says;
    private final boolean secured;
    private final boolean tagged;

    Leg(String says, boolean secured, boolean tagged) {
      this.says = says;
      this.secured = secured;
      this.tagged = tagged;
    }
  }

  /** What one leg measured. */
  private record Figures(double p50, double p99, double tasksPerSecond, double rttP50, double rttP99) {
    /** The mean of these figures and {@code other}'s, of two passes of one set-up. */
    Figures meanWith(Figures other) {
      return new Figures((p50 + other.p50) / 2, (p99 + other.p99) / 2, (tasksPerSecond + other.tasksPerSecond) / 2,
          (rttP50 + other.rttP50) / 2, (rttP99 + other.rttP99) / 2);
    }
  }

  /**
   * Runs one leg, with a broker, a lead and workers of its own, and prints its figures, the last line its summary. With
   * {@code http}, the leg runs four passes on its broker, with the lead's HTTP server on and watched (a client following
   * {@code /api/events}, {@code /metrics} and {@code /api/state} read every second), off, off and on, and the mean of
   * each side is printed side by side; the last line adds the watched side's figures. With {@code settle}, the leg's
   * first pass goes on past its {@code warmup} tasks until the JIT has settled (see {@link JitMeter}).
   */
  static void run(int workers, int tasks, int inFlight, int warmup, boolean settle, Leg leg, boolean http,
      PrintWriter out) {
    Path dir = LocalCluster.tempDir("lanes-bench-");
    try {
      out.printf(Locale.ROOT, "%d simulated workers, %d no-op tasks in %d chains after %d%s to warm up; leg: %s%n",
          workers, tasks, inFlight, warmup, settle ? " or more, until the JIT has settled," : "",
          leg.name().toLowerCase(Locale.ROOT));
      out.printf(Locale.ROOT, "jvm: %s %s, pid %d, %d cpus, options: %s; compiled by %s%n",
          System.getProperty("java.vm.name"), Runtime.version(), ProcessHandle.current().pid(),
          Runtime.getRuntime().availableProcessors(),
          String.join(" ", java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()),
          Jit.describe());
      Figures[] both = leg(leg, dir.resolve(leg.name().toLowerCase(Locale.ROOT)), workers, tasks, inFlight, warmup,
          settle, http, out);
      if (http) {
        out.printf(Locale.ROOT, "%s leg, HTTP server and metrics off -> on: dispatch p50 %.2f -> %.2f ms (x%.2f),"
            + " p99 %.2f -> %.2f ms (x%.2f), tasks/s %.0f -> %.0f (x%.2f)%n", leg.name().toLowerCase(Locale.ROOT),
            both[0].p50, both[1].p50, both[1].p50 / both[0].p50, both[0].p99, both[1].p99, both[1].p99 / both[0].p99,
            both[0].tasksPerSecond, both[1].tasksPerSecond, both[1].tasksPerSecond / both[0].tasksPerSecond);
      }
      summarize(Map.of(leg, both[0]), http ? Map.of(leg, both[1]) : Map.of(), out);
    } finally {
      LocalCluster.deleteTree(dir);
    }
  }

  /**
   * Prints the cost of security when both the plaintext and the secured leg ran, and the last line: the summary of the
   * secured leg (the default set-up) with the plaintext leg's figures beside it, or of the one leg run; with the
   * watched side's figures where there are any.
   */
  private static void summarize(Map<Leg, Figures> figures, Map<Leg, Figures> watched, PrintWriter out) {
    Figures plain = figures.get(Leg.PLAIN);
    Figures secure = figures.get(Leg.SECURE);
    Figures summary = secure != null ? secure : plain != null ? plain : figures.values().iterator().next();
    if (plain != null && secure != null) {
      out.printf(Locale.ROOT, "security costs: dispatch p50 %.2f -> %.2f ms (x%.2f), p99 %.2f -> %.2f ms (x%.2f),"
          + " tasks/s %.0f -> %.0f (x%.2f); Kafka round trip p50 %.2f -> %.2f ms%n", plain.p50, secure.p50,
          secure.p50 / plain.p50, plain.p99, secure.p99, secure.p99 / plain.p99, plain.tasksPerSecond,
          secure.tasksPerSecond, secure.tasksPerSecond / plain.tasksPerSecond, plain.rttP50, secure.rttP50);
    }
    Figures watchedSummary = watched.get(secure != null ? Leg.SECURE : plain != null ? Leg.PLAIN
        : figures.keySet().iterator().next());
    out.printf(Locale.ROOT, "dispatch p50_ms=%.2f p99_ms=%.2f tasks_per_s=%.0f kafka_rtt_p99_ms=%.2f%s%s%n",
        summary.p50, summary.p99, summary.tasksPerSecond, summary.rttP99, plain != null && secure != null
            ? String.format(Locale.ROOT, " plain_p99_ms=%.2f plain_tasks_per_s=%.0f", plain.p99,
                plain.tasksPerSecond) : "", watchedSummary == null ? "" : String.format(Locale.ROOT,
                " http_p50_ms=%.2f http_p99_ms=%.2f http_tasks_per_s=%.0f", watchedSummary.p50, watchedSummary.p99,
                watchedSummary.tasksPerSecond));
    out.flush();
  }

  /**
   * Runs each leg in a JVM of its own, one after the other, with this JVM's options, relaying what each prints, then
   * prints the cost of security and the summary as {@link #run} does. A deployment's processes run one set-up each;
   * legs run one after the other in one JVM shared the code C2 had compiled for the first leg's types, recompiled when
   * the next leg's came (TLS or plaintext transport, tags or none), and the secured leg measured cheaper than the
   * plaintext one (p99 x0.86, tasks/s x1.18 on 2026-12-04, each leg warmed up until the JIT settled).
   *
   * @param options the benchmark's options for one leg, without {@code --only}
   */
  static void runApart(List<Leg> legs, List<String> options, PrintWriter out) {
    List<String> jvm = new ArrayList<>();
    jvm.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    for (String option : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      // Not a debugger's port, nor a file that two processes would write at once.
      if (!option.startsWith("-agentlib:jdwp") && !option.startsWith("-Xrunjdwp")
          && !option.startsWith("-XX:StartFlightRecording") && !option.startsWith("-XX:HeapDumpPath")
          && !(option.startsWith("-Xlog") && option.contains("file="))) {
        jvm.add(option);
      }
    }
    jvm.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "bench", "dispatch"));
    out.printf(Locale.ROOT, "each leg runs in a JVM of its own (%s), one after the other%n",
        legs.stream().map(l -> l.name().toLowerCase(Locale.ROOT)).toList());
    out.flush();
    Map<Leg, Figures> figures = new java.util.EnumMap<>(Leg.class);
    Map<Leg, Figures> watched = new java.util.EnumMap<>(Leg.class);
    for (Leg leg : legs) {
      List<String> argv = new ArrayList<>(jvm);
      argv.addAll(List.of("--only", leg.name().toLowerCase(Locale.ROOT)));
      argv.addAll(options);
      Map<String, Double> said = relay(argv, out);
      figures.put(leg, new Figures(said.get("p50_ms"), said.get("p99_ms"), said.get("tasks_per_s"),
          said.get("kafka_rtt_p50_ms"), said.get("kafka_rtt_p99_ms")));
      if (said.containsKey("http_p99_ms")) {
        watched.put(leg, new Figures(said.get("http_p50_ms"), said.get("http_p99_ms"), said.get("http_tasks_per_s"),
            said.get("kafka_rtt_p50_ms"), said.get("kafka_rtt_p99_ms")));
      }
    }
    summarize(figures, watched, out);
  }

  private static final java.util.regex.Pattern RTT = java.util.regex.Pattern.compile(
      "plain Kafka produce->consume on this broker: n=\\d+ p50=([\\d.]+) ms .*");
  private static final java.util.regex.Pattern SUMMARY = java.util.regex.Pattern.compile(
      "dispatch( \\w+=[\\d.]+)+");
  private static final java.util.regex.Pattern FIGURE = java.util.regex.Pattern.compile(" (\\w+)=([\\d.]+)");
  /** The figures a leg's summary must have. */
  private static final List<String> SUMMARY_KEYS = List.of("p50_ms", "p99_ms", "tasks_per_s", "kafka_rtt_p50_ms",
      "kafka_rtt_p99_ms");

  /**
   * Runs one leg's process, printing what it prints as it comes (its log goes to this process's standard error);
   * returns the figures of its summary line and its Kafka round trip's p50 (as {@code kafka_rtt_p50_ms}). The process
   * is ended if this one stops waiting for it: an error, an interrupt, or this process exiting.
   *
   * @throws IllegalStateException if the process failed or did not print its figures
   */
  private static Map<String, Double> relay(List<String> argv, PrintWriter out) {
    ProcessBuilder builder = new ProcessBuilder(argv).redirectError(ProcessBuilder.Redirect.INHERIT);
    // Its options are in the arguments already, where the filter above saw them.
    builder.environment().remove("JAVA_TOOL_OPTIONS");
    Process p;
    try {
      p = builder.start();
    } catch (java.io.IOException e) {
      throw new IllegalStateException("could not start a leg of the benchmark: " + e.getMessage(), e);
    }
    Thread reaper = new Thread(p::destroyForcibly, "lanes-bench-leg-reaper");
    Runtime.getRuntime().addShutdownHook(reaper);
    try {
      Map<String, Double> said = new java.util.HashMap<>();
      String summary = null;
      // The child prints as this JVM would: same machine, same locale.
      try (var lines = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(),
          java.nio.charset.Charset.defaultCharset()))) {
        for (String line = lines.readLine(); line != null; line = lines.readLine()) {
          out.println(line);
          out.flush();
          java.util.regex.Matcher rtt = RTT.matcher(line);
          if (rtt.matches()) {
            said.put("kafka_rtt_p50_ms", Double.parseDouble(rtt.group(1)));
          } else if (SUMMARY.matcher(line).matches()) {
            summary = line;
          }
        }
      }
      int code = p.waitFor();
      if (code != 0 || summary == null) {
        throw new IllegalStateException("a leg of the benchmark failed: its process exited with " + code
            + (summary == null ? " and printed no summary line" : ""));
      }
      for (java.util.regex.Matcher m = FIGURE.matcher(summary); m.find(); ) {
        said.put(m.group(1), Double.parseDouble(m.group(2)));
      }
      List<String> missing = SUMMARY_KEYS.stream().filter(k -> !said.containsKey(k)).toList();
      if (!missing.isEmpty()) {
        throw new IllegalStateException("a leg of the benchmark printed no " + String.join(", ", missing));
      }
      return said;
    } catch (java.io.IOException e) {
      throw new IllegalStateException("could not read a leg of the benchmark: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while a leg of the benchmark ran", e);
    } finally {
      p.destroyForcibly();
      try {
        Runtime.getRuntime().removeShutdownHook(reaper);
      } catch (IllegalStateException e) {
        // This process is exiting: the hook runs, which is what it is for.
      }
    }
  }

  /** The leg's figures as the lead is, then (with {@code http}) with its HTTP server on and watched. */
  private static Figures[] leg(Leg leg, Path dir, int workers, int tasks, int inFlight, int warmup, boolean settle,
      boolean http, PrintWriter out) {
    out.printf(Locale.ROOT, "--- %s leg: %s%n", leg.name().toLowerCase(Locale.ROOT), leg.says);
    out.flush();
    long started = System.nanoTime();
    try (EmbeddedBroker broker = leg.secured
        ? EmbeddedBroker.startSecure(BrokerDir.open(dir.resolve("broker"), "127.0.0.1"), "127.0.0.1", 0)
        : EmbeddedBroker.start(dir.resolve("broker"))) {
      out.printf(Locale.ROOT, "embedded broker at %s, started in %d ms%n", broker.bootstrapServers(),
          (System.nanoTime() - started) / 1_000_000);
      out.flush();
      ClientConfig admin = broker.clientConfig();
      double[] rtt = kafkaRoundTrips(admin, 500);
      Parties parties = Parties.of(leg, dir.resolve("broker"), admin, workers);
      if (leg.tagged) {
        tagCost(workers, out);
      }
      if (warmup > 0) {
        // A pass of its own, with its own lead, that is not counted: the first pass in a JVM, or on new code paths
        // (TLS, tags), ran half as fast as the next on this machine, which would bias whatever comes first.
        out.println("a first pass warms the JIT up on this leg's code paths; it is not counted:");
        dispatch(admin, dir.resolve("repo-jit"), workers, tasks, inFlight, warmup, settle, parties, false, out);
      }
      if (!http) {
        return new Figures[] {measure(admin, dir.resolve("repo"), workers, tasks, inFlight, warmup, settle, parties,
            rtt, false, out), null};
      }
      // On, off, off, on: a drift over the four passes (the JIT, the broker's logs growing) falls on both sides alike.
      Figures[] passes = new Figures[4];
      boolean[] served = {true, false, false, true};
      for (int i = 0; i < passes.length; i++) {
        passes[i] = measure(admin, dir.resolve("repo-" + i), workers, tasks, inFlight, warmup, settle, parties, rtt,
            served[i], out);
      }
      return new Figures[] {passes[1].meanWith(passes[2]), passes[0].meanWith(passes[3])};
    }
  }

  private static Figures measure(ClientConfig admin, Path repo, int workers, int tasks, int inFlight, int warmup,
      boolean settle, Parties parties, double[] rtt, boolean http, PrintWriter out) {
    if (http) {
      out.println("with the lead's HTTP server on: one client follows /api/events, /metrics and /api/state are read"
          + " every second");
    }
    Result r = dispatch(admin, repo, workers, tasks, inFlight, warmup, settle, parties, http, out);
    double[] lat = r.latenciesMs;
    Arrays.sort(lat);
    out.printf(Locale.ROOT, "offered->granted: n=%d p50=%.2f ms p90=%.2f ms p99=%.2f ms max=%.2f ms%n",
        lat.length, pct(lat, 50), pct(lat, 90), pct(lat, 99), lat[lat.length - 1]);
    out.printf(Locale.ROOT, "grants to the worker the offer preferred: %d of %d%n", r.toPreferred, lat.length);
    out.printf(Locale.ROOT, "throughput: %d tasks in %.2f s = %.0f tasks/s (all %s)%n", tasks, r.seconds,
        tasks / r.seconds, r.allLanded ? "landed" : "NOT landed");
    out.printf(Locale.ROOT, "plain Kafka produce->consume on this broker: n=%d p50=%.2f ms p99=%.2f ms%n",
        rtt.length, pct(rtt, 50), pct(rtt, 99));
    out.printf(Locale.ROOT, "ratio dispatch p50 / kafka round trip p50: %.1f%n", pct(lat, 50) / pct(rtt, 50));
    out.flush();
    return new Figures(pct(lat, 50), pct(lat, 99), tasks / r.seconds, pct(rtt, 50), pct(rtt, 99));
  }

  private record Result(double[] latenciesMs, double seconds, boolean allLanded, int toPreferred) {}

  /**
   * Refuses a measured plan too large for a run to record (its tasks are one plan, so that the figures have no run's
   * start or end in the middle): the most that fits is named.
   *
   * @throws IllegalArgumentException naming {@code --tasks}
   */
  static void checkFits(int tasks, int inFlight) {
    if (dev.lanes.protocol.RunStarted.recordedSize(chains("bench", tasks, inFlight)) > dev.lanes.protocol.Json
        .MAX_MESSAGE_BYTES) {
      int fits = 1;
      for (int step = 1 << 16; step > 0; step >>= 1) {
        if (dev.lanes.protocol.RunStarted.recordedSize(chains("bench", fits + step, inFlight))
            <= dev.lanes.protocol.Json.MAX_MESSAGE_BYTES) {
          fits += step;
        }
      }
      throw new IllegalArgumentException("--tasks: " + tasks + " no-op tasks are more than one run can record (its"
          + " plan is recorded whole, in one record); at most " + fits);
    }
  }

  /** {@code inFlight} independent chains of no-op tasks: never more offers open than that, each landing releases one. */
  private static Plan chains(String name, int tasks, int inFlight) {
    List<Plan.Task> list = new ArrayList<>();
    AgentSpec noop = new AgentSpec(List.of("true"), 60_000);
    for (int i = 0; i < tasks; i++) {
      List<String> after = i < inFlight ? List.of() : List.of("t" + (i - inFlight));
      list.add(new Plan.Task("t" + i, "task " + i, "nothing", List.of(Claim.parse("m" + i + "/")), after,
          List.of(), noop, Optional.empty()));
    }
    return new Plan(name, Optional.of("main"), "lanes/" + name, list);
  }

  /**
   * How the lead and the simulated workers reach the broker and sign: on the secured leg, as on separate machines,
   * each logs in with its role's client file and signs with the keys in it (each worker with a key of its own,
   * introduced to the lead by enrolment when it announces itself); on the plaintext leg, unsigned, with no login.
   */
  private record Parties(ClientConfig leadClient, Envelope lead, ClientConfig workerClient, Envelope workers) {
    static Parties of(Leg leg, Path brokerDir, ClientConfig admin, int workers) {
      ClientConfig lead = admin;
      ClientConfig worker = admin;
      Map<String, String> leadKeys;
      Map<String, String> workerKeys;
      if (leg.secured) {
        lead = ClientConfig.load(ClientFiles.path(brokerDir, "lead"), Optional.empty());
        worker = ClientConfig.load(ClientFiles.path(brokerDir, "worker"), Optional.empty());
        leadKeys = lead.lanes();
        workerKeys = worker.lanes();
      } else {
        MessageKeys.Credentials made = MessageKeys.newCredentials();
        leadKeys = made.lead();
        workerKeys = made.worker();
      }
      if (!leg.tagged) {
        return new Parties(lead, Envelope.unsigned(), worker, Envelope.unsigned());
      }
      MessageKeys simulated = MessageKeys.of(workerKeys).orElseThrow();
      for (int i = 0; i < workers; i++) {
        simulated.withNewWorkerKey("sim" + i);
      }
      return new Parties(lead, Envelope.of(MessageKeys.of(leadKeys).orElseThrow()), worker, Envelope.of(simulated));
    }
  }

  /**
   * What tagging costs by itself: the lead sealing an offer for every worker, and a worker opening it, on keys of
   * their own made here so the run's keys stay untouched.
   */
  private static void tagCost(int workers, PrintWriter out) {
    MessageKeys.Credentials files = MessageKeys.newCredentials();
    MessageKeys leadKeys = MessageKeys.of(files.lead()).orElseThrow();
    MessageKeys workerKeys = MessageKeys.of(files.worker()).orElseThrow();
    Envelope lead = Envelope.of(leadKeys);
    Envelope worker = Envelope.of(workerKeys);
    for (int i = 0; i < workers; i++) {
      workerKeys.withNewWorkerKey("sim" + i);
      Envelope.Sealed enrolment = worker.seal(worker.enrolment("sim" + i).orElseThrow());
      lead.open(enrolment.topic(), enrolment.key(), enrolment.value(), enrolment.from().get(), enrolment.mac().get());
    }
    TaskOffered offer = new TaskOffered("bench-run", "bench", "t1", 1, "task 1", "nothing", List.of("m1/"), List.of(),
        new AgentSpec(List.of("true"), 60_000), Optional.empty(), "0".repeat(40), "lanes-work/bench-run/t1/e1",
        Optional.of("sim1"));
    int n = 2000;
    Envelope.Sealed sealed = lead.seal(offer);
    long t0 = System.nanoTime();
    for (int i = 0; i < n; i++) {
      sealed = lead.seal(offer);
    }
    long t1 = System.nanoTime();
    for (int i = 0; i < n; i++) {
      worker.open(sealed.topic(), sealed.key(), sealed.value(), sealed.from().get(), sealed.mac().get());
    }
    long t2 = System.nanoTime();
    Envelope.Sealed claim = worker.seal(new dev.lanes.protocol.ClaimRequested("bench-run", "t1", 1, "sim1"));
    long t3 = System.nanoTime();
    for (int i = 0; i < n; i++) {
      lead.open(claim.topic(), claim.key(), claim.value(), claim.from().get(), claim.mac().get());
    }
    long t4 = System.nanoTime();
    out.printf(Locale.ROOT, "tags: the lead seals an offer for %d workers in %.0f us (%d bytes of tags), a worker opens"
        + " it in %.0f us, the lead opens a claim in %.0f us (JSON encoding and decoding included)%n", workers,
        (t1 - t0) / 1e3 / n, sealed.mac().get().length, (t2 - t1) / 1e3 / n, (t4 - t3) / 1e3 / n);
    out.flush();
  }

  private static Result dispatch(ClientConfig admin, Path repo, int workers, int tasks, int inFlight, int warmup,
      boolean settle, Parties parties, boolean http, PrintWriter out) {
    Demo.git(createDirs(repo), "init", "-q", "-b", "main");
    Demo.git(repo, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "--allow-empty",
        "-m", "empty");
    Plan plan = chains("bench", tasks, inFlight);
    Observations seen = new Observations(plan.name(), tasks);
    try (KafkaBus leadBus = KafkaBus.connect(parties.leadClient(), "bench-lead", parties.lead());
        KafkaBus workerBus = KafkaBus.connect(parties.workerClient(), "bench-workers", parties.workers());
        Lead lead = Lead.start(leadBus, repo, Clock.systemUTC());
        Watcher watcher = http ? Watcher.start(lead) : Watcher.NONE) {
      List<Worker> sims = new ArrayList<>();
      for (int i = 0; i < workers; i++) {
        sims.add(Worker.simulated(workerBus, new Worker.Config("sim" + i, "bench", List.of(), 1, "", repo,
            Duration.ofMinutes(1), Map.of()), Clock.systemUTC()));
      }
      Bus.Listener fanOut = message -> {
        long now = System.nanoTime();
        seen.observe(message, now);
        for (Worker w : sims) {
          w.accept(message);
        }
      };
      workerBus.subscribe(Topics.WORK, Bus.Start.NOW, fanOut);
      // Measure dispatch, not start-up: the lead knows every worker before the first offer goes out.
      lead.awaitActive(Duration.ofMinutes(1));
      long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
      while (lead.knownWorkers() < workers && System.nanoTime() < deadline) {
        sleep(10);
      }
      if (warmup > 0) {
        long start = System.nanoTime();
        boolean landed = true;
        int plans = 0;
        int done = 0;
        JitMeter jit = new JitMeter();
        while (done < warmup || (settle && !jit.settled() && !jit.outOfTime())) {
          int n = done < warmup ? Math.min(WARMUP_PLAN, warmup - done) : WARMUP_PLAN;
          landed &= runToEnd(lead, chains("warmup" + ++plans, n, inFlight));
          done += n;
          jit.planDone(done, out);
        }
        out.printf(Locale.ROOT, "warm-up: %d tasks in %d plan(s) in %.2f s (%s), not counted%s%n", done, plans,
            (System.nanoTime() - start) / 1e9, landed ? "all landed" : "NOT all landed", settle ? "; " + jit : "");
        out.flush();
      }
      Map<String, Long> before = endOffsets(admin);
      Map<Long, Long> serverBefore = threadCpu(SERVER_THREADS);
      Map<Long, Long> clientsBefore = threadCpu(CLIENT_THREADS);
      Map<Long, Long> allBefore = threadCpu(List.of(""));
      Map<Long, String> names = threadNames();
      Map<String, Long> requestsBefore = brokerRequests();
      long[] machineBefore = machineTicks();
      long[] jvmBefore = jvmWork();
      long cpuBefore = processCpuNanos();
      long start = System.nanoTime();
      boolean landed = runToEnd(lead, plan);
      double seconds = (System.nanoTime() - start) / 1e9;
      Map<Long, Long> allAfter = threadCpu(List.of("")); // read first: no thread's figure runs past the process's
      long cpuAfter = processCpuNanos();
      String machine = machineShare(machineBefore, machineTicks());
      if (cpuBefore >= 0 && cpuAfter >= 0) {
        out.printf(Locale.ROOT, "cpu: %.2f ms per task (the whole process: broker, lead and workers)%s%n",
            (cpuAfter - cpuBefore) / 1e6 / tasks, machine);
        names.putAll(threadNames());
        out.println(cpuByThread(allBefore, allAfter, names, cpuAfter - cpuBefore, tasks));
        long[] jvmAfter = jvmWork();
        out.printf(Locale.ROOT, "the JVM during the pass: %s; %d garbage collections took %d ms%n", jvmAfter[0] < 0
            ? "it does not say how long its JIT compiled" : "the JIT compiled for " + (jvmAfter[0] - jvmBefore[0])
            + " ms", jvmAfter[1] - jvmBefore[1], jvmAfter[2] - jvmBefore[2]);
        if (http) {
          double server = spentNanos(serverBefore, threadCpu(SERVER_THREADS));
          out.printf(Locale.ROOT, "http: the lead's HTTP server's threads used %.3f ms of CPU per task (%.1f%% of the"
              + " process's), the watching clients' %.3f ms%n", server / 1e6 / tasks,
              100.0 * server / (cpuAfter - cpuBefore), spentNanos(clientsBefore, threadCpu(CLIENT_THREADS)) / 1e6
                  / tasks);
        }
      }
      Map<String, Long> after = endOffsets(admin);
      StringBuilder perTask = new StringBuilder("records per task:");
      for (String topic : Topics.all()) {
        double n = (after.get(topic) - before.get(topic)) / (double) tasks;
        perTask.append(String.format(Locale.ROOT, " %s %.2f", topic, n));
      }
      out.println(perTask);
      out.println(kinds(admin, Topics.REPORTS, before.get(Topics.REPORTS), after.get(Topics.REPORTS), tasks));
      out.println(requestsPerTask(requestsBefore, brokerRequests(), tasks));
      return new Result(seen.latencies(), seconds, landed, seen.toPreferred());
    }
  }

  /**
   * People watching the lead while the benchmark runs: its HTTP server, one client following the change stream and
   * one reading {@code /metrics} and {@code /api/state} every second, as a dashboard and a Prometheus would.
   */
  private static final class Watcher implements AutoCloseable {
    static final Watcher NONE = new Watcher(null);
    private final dev.lanes.coordinator.http.HttpServer server;
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean closed;

    private Watcher(dev.lanes.coordinator.http.HttpServer server) {
      this.server = server;
    }

    static Watcher start(Lead lead) {
      dev.lanes.coordinator.http.Token token = dev.lanes.coordinator.http.Token.generate();
      Watcher w = new Watcher(dev.lanes.coordinator.http.HttpServer.start(
          dev.lanes.coordinator.http.HttpServer.Options.on("127.0.0.1", 0), lead, token));
      java.net.http.HttpClient client = java.net.http.HttpClient.newHttpClient();
      java.util.function.Function<String, java.net.http.HttpRequest> get = path -> java.net.http.HttpRequest
          .newBuilder(java.net.URI.create(w.server.baseUrl() + path)).header("Authorization", "Bearer "
              + token.value()).build();
      w.daemon("bench-sse", () -> {
        try (java.util.stream.Stream<String> lines = client.send(get.apply("/api/events"),
            java.net.http.HttpResponse.BodyHandlers.ofLines()).body()) {
          lines.forEach(line -> { });
        }
      });
      w.daemon("bench-scrape", () -> {
        while (!w.closed) {
          client.send(get.apply("/metrics"), java.net.http.HttpResponse.BodyHandlers.discarding());
          client.send(get.apply("/api/state"), java.net.http.HttpResponse.BodyHandlers.discarding());
          Thread.sleep(1000);
        }
      });
      return w;
    }

    private interface Work {
      void run() throws Exception;
    }

    private void daemon(String name, Work work) {
      Thread t = new Thread(() -> {
        try {
          work.run();
        } catch (Exception e) {
          // the server closed: the run is over
        }
      }, name);
      t.setDaemon(true);
      t.start();
      threads.add(t);
    }

    @Override
    public void close() {
      closed = true;
      if (server != null) {
        server.close();
      }
      threads.forEach(Thread::interrupt);
    }
  }

  /**
   * How much the JIT compiled while the warm-up plans ran. It has settled when it compiled for less than
   * {@link #SETTLED} of each of {@link #PLANS} plans in a row. With C2 on this 2-core machine, the secured leg's first
   * pass took about 120,000 no-op tasks (60 s) to settle, during which C2 compiled as much as the wall-clock time, one
   * of the two cores; and the next lead in the same process set it compiling again for its first six plans or so, two
   * seconds (2026-12-04). Measured before that, a pass cost half again as much CPU a task and its p99 doubled.
   */
  static final class JitMeter {
    static final double SETTLED = 0.05;
    static final int PLANS = 3;
    static final Duration AT_MOST = Duration.ofMinutes(3);
    /** How often a long warm-up says how far it is. */
    static final Duration PROGRESS_EVERY = Duration.ofSeconds(15);
    private final java.util.function.LongSupplier compiled;
    private final java.util.function.LongSupplier clock;
    private final long start;
    private final long compiledAtStart;
    private long mark;
    private long markAt;
    private long saidAt;
    private double lastShare = 1;
    private int inARow;

    /** Measures this process's JIT from now on. */
    JitMeter() {
      this(JitMeter::compiledMs, System::nanoTime);
    }

    /**
     * @param compiled milliseconds the JIT has compiled for so far, -1 where the JVM does not tell
     * @param clock nanoseconds, as {@link System#nanoTime}
     */
    JitMeter(java.util.function.LongSupplier compiled, java.util.function.LongSupplier clock) {
      this.compiled = compiled;
      this.clock = clock;
      this.start = clock.getAsLong();
      this.markAt = start;
      this.saidAt = start;
      this.mark = compiled.getAsLong();
      this.compiledAtStart = mark;
    }

    /** Milliseconds the JIT's threads have compiled for in this process, or -1 where the JVM does not tell. */
    static long compiledMs() {
      var jit = java.lang.management.ManagementFactory.getCompilationMXBean();
      return jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : -1;
    }

    /** Takes note of a plan that ended now; every {@link #PROGRESS_EVERY}, says how far the warm-up is. */
    void planDone(int tasks, PrintWriter out) {
      long now = clock.getAsLong();
      long ms = compiled.getAsLong();
      lastShare = ms < 0 ? 0 : (ms - mark) / Math.max(1.0, (now - markAt) / 1e6);
      inARow = lastShare < SETTLED ? inARow + 1 : 0;
      mark = ms;
      markAt = now;
      if (now - saidAt >= PROGRESS_EVERY.toNanos()) {
        saidAt = now;
        out.printf(Locale.ROOT, "  warming up: %d tasks in %.0f s so far, the JIT compiling for %.0f%% of the last"
            + " plan's time%n", tasks, (now - start) / 1e9, 100 * lastShare);
        out.flush();
      }
    }

    /** Whether the last {@link #PLANS} plans each ran with the JIT compiling for less than {@link #SETTLED}. */
    boolean settled() {
      return inARow >= PLANS;
    }

    boolean outOfTime() {
      return clock.getAsLong() - start > AT_MOST.toNanos();
    }

    @Override
    public String toString() {
      if (mark < 0) {
        return "this JVM does not say how long its JIT compiles";
      }
      return String.format(Locale.ROOT, "the JIT compiled for %.1f s of it, %.0f%% of the last plan's time: %s",
          (mark - compiledAtStart) / 1e3, 100 * lastShare, settled() ? "settled"
              : "NOT settled within " + Durations.format(AT_MOST));
    }
  }

  /** Whether every task landed. */
  private static boolean runToEnd(Lead lead, Plan plan) {
    try {
      return lead.submit(plan).done().get(5, java.util.concurrent.TimeUnit.MINUTES).allLanded();
    } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException("the " + plan.name() + " run did not finish within 5 minutes: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /**
   * What the simulated workers see of the measured run: when each offer and grant arrived, and to whom grants went.
   * Kept in arrays indexed by task number, allocated up front, so that measuring adds no garbage of its own to the
   * run it measures (maps of boxed times did: half of what the run kept alive, and so of the collector's pauses).
   */
  private static final class Observations {
    private final String plan;
    private final long[] offeredAt;
    private final int[] offeredEpoch;
    private final int[] preferred;
    private double[] latencies;
    private String run;
    private int granted;
    private int toPreferred;

    Observations(String plan, int tasks) {
      this.plan = plan;
      offeredAt = new long[tasks];
      offeredEpoch = new int[tasks];
      preferred = new int[tasks];
      latencies = new double[tasks];
    }

    synchronized void observe(Message m, long now) {
      if (m instanceof TaskOffered o && o.plan().equals(plan)) {
        run = o.run();
        int i = number(o.task(), 1);
        if (o.epoch() > offeredEpoch[i]) {
          offeredEpoch[i] = o.epoch();
          offeredAt[i] = now;
          preferred[i] = o.preferred().isPresent() ? number(o.preferred().get(), 3) : -1;
        }
      } else if (m instanceof ClaimGranted g && g.run().equals(run)) {
        int i = number(g.task(), 1);
        if (g.epoch() == offeredEpoch[i]) {
          if (granted == latencies.length) {
            latencies = Arrays.copyOf(latencies, granted * 2); // more grants than tasks: shown, not dropped
          }
          latencies[granted++] = (now - offeredAt[i]) / 1e6;
          if (number(g.worker(), 3) == preferred[i]) {
            toPreferred++;
          }
        }
      }
    }

    /** The number in a bench id: {@code t12} (a task) or {@code sim7} (a worker), after its prefix. */
    private static int number(String id, int prefix) {
      return Integer.parseInt(id, prefix, id.length(), 10);
    }

    synchronized double[] latencies() {
      return Arrays.copyOf(latencies, granted);
    }

    synchronized int toPreferred() {
      return toPreferred;
    }
  }

  /**
   * What the records of {@code topic} between two offsets were, per task by message type: a herd of claims or
   * announcements shows up here rather than as an unexplained number of records.
   */
  private static String kinds(ClientConfig admin, String topic, long from, long to, int tasks) {
    Map<String, Integer> counts = new java.util.TreeMap<>();
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(admin.kafka(), new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      TopicPartition tp = new TopicPartition(topic, 0);
      consumer.assign(List.of(tp));
      consumer.seek(tp, from);
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (consumer.position(tp) < to && System.nanoTime() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          if (r.offset() < to) {
            String kind;
            try {
              kind = dev.lanes.protocol.Json.decode(r.value()).getClass().getSimpleName();
            } catch (RuntimeException e) {
              kind = "unreadable";
            }
            counts.merge(kind, 1, Integer::sum);
          }
        }
      }
    }
    StringBuilder line = new StringBuilder(topic + " per task:");
    counts.forEach((kind, n) -> line.append(String.format(Locale.ROOT, " %s %.2f", kind, n / (double) tasks)));
    return line.toString();
  }

  /** The threads of the lead's HTTP server (its event loop and its action pool). */
  private static final List<String> SERVER_THREADS = List.of("lanes-http");
  /** The threads of the benchmark's own dashboard and Prometheus stand-ins, and of the JDK's HTTP client they use. */
  private static final List<String> CLIENT_THREADS = List.of("bench-sse", "bench-scrape", "HttpClient-");

  /** CPU time so far of each live thread whose name starts with one of {@code prefixes}, by thread id. */
  private static Map<Long, Long> threadCpu(List<String> prefixes) {
    java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
    Map<Long, Long> cpu = new java.util.HashMap<>();
    for (java.lang.management.ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
      if (info != null && prefixes.stream().anyMatch(info.getThreadName()::startsWith)) {
        long nanos = threads.getThreadCpuTime(info.getThreadId());
        if (nanos >= 0) {
          cpu.put(info.getThreadId(), nanos);
        }
      }
    }
    return cpu;
  }

  /** What the threads of {@code after} spent since {@code before} (a thread that ended meanwhile is not counted). */
  private static double spentNanos(Map<Long, Long> before, Map<Long, Long> after) {
    long sum = 0;
    for (Map.Entry<Long, Long> e : after.entrySet()) {
      sum += e.getValue() - before.getOrDefault(e.getKey(), 0L);
    }
    return sum;
  }

  /**
   * The machine's CPU time so far, from Linux's {@code /proc/stat}: busy (user, nice, system, interrupts), idle
   * (with I/O wait) and stolen by the host of a virtual machine, in clock ticks; empty where there is no such file.
   */
  static long[] machineTicks() {
    try {
      String[] f = java.nio.file.Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
      if (!f[0].equals("cpu") || f.length < 9) {
        return new long[0];
      }
      long busy = Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3]) + Long.parseLong(f[6])
          + Long.parseLong(f[7]);
      return new long[] {busy, Long.parseLong(f[4]) + Long.parseLong(f[5]), Long.parseLong(f[8])};
    } catch (java.io.IOException | RuntimeException e) {
      return new long[0];
    }
  }

  /**
   * How the machine's time went between two readings of {@link #machineTicks}: how busy it was (every process) and how
   * much of it the host took for others. A pass that ran while the host stole a fifth of the time is not comparable
   * with one it did not; empty when unknown.
   */
  static String machineShare(long[] before, long[] after) {
    if (before.length < 3 || after.length < 3) {
      return "";
    }
    long busy = after[0] - before[0];
    long idle = after[1] - before[1];
    long stolen = after[2] - before[2];
    long all = busy + idle + stolen;
    return all <= 0 ? "" : String.format(Locale.ROOT, "; the machine: %.0f%% busy, %.0f%% stolen by its host",
        100.0 * busy / all, 100.0 * stolen / all);
  }

  /** The name of each live thread, by id. */
  private static Map<Long, String> threadNames() {
    java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
    Map<Long, String> names = new java.util.HashMap<>();
    for (java.lang.management.ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
      if (info != null) {
        names.put(info.getThreadId(), info.getThreadName());
      }
    }
    return names;
  }

  /**
   * Where the CPU of a pass went: the threads that used the most, grouped by name with numbers left out (the broker's
   * request handlers count as one), in ms per task, then the rest of the process: the JIT's compilers and the garbage
   * collector, which Java does not list as threads, and threads that ended during the pass.
   */
  static String cpuByThread(Map<Long, Long> before, Map<Long, Long> after, Map<Long, String> names, long process,
      int tasks) {
    Map<String, Long> groups = new java.util.HashMap<>();
    long listed = 0;
    for (Map.Entry<Long, Long> e : after.entrySet()) {
      long spent = e.getValue() - before.getOrDefault(e.getKey(), 0L);
      groups.merge(names.getOrDefault(e.getKey(), "?").replaceAll("[0-9]+", "N"), spent, Long::sum);
      listed += spent;
    }
    StringBuilder line = new StringBuilder("cpu by thread, ms per task:");
    groups.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(8).forEach(
        g -> line.append(String.format(Locale.ROOT, " %s %.3f;", g.getKey(), g.getValue() / 1e6 / tasks)));
    return line.append(String.format(Locale.ROOT, " the rest (the JVM's JIT and GC, threads that ended) %.3f",
        Math.max(0, process - listed) / 1e6 / tasks)).toString();
  }

  /**
   * What the JVM's own threads have done so far: milliseconds the JIT compiled for (-1 where the JVM does not tell),
   * garbage collections and milliseconds they took (their pauses, and the concurrent work of G1's cycles).
   */
  private static long[] jvmWork() {
    long compiled = JitMeter.compiledMs();
    long count = 0;
    long ms = 0;
    for (var gc : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
      count += Math.max(0, gc.getCollectionCount());
      ms += Math.max(0, gc.getCollectionTime());
    }
    return new long[] {compiled, count, ms};
  }

  /** Requests the embedded broker (in this process) has served so far, by kind, from its JMX metrics. */
  private static Map<String, Long> brokerRequests() {
    javax.management.MBeanServer server = java.lang.management.ManagementFactory.getPlatformMBeanServer();
    Map<String, Long> out = new java.util.TreeMap<>();
    try {
      for (javax.management.ObjectName name : server.queryNames(new javax.management.ObjectName(
          "kafka.network:type=RequestMetrics,name=RequestsPerSec,*"), null)) {
        if (server.getAttribute(name, "Count") instanceof Number n) {
          out.merge(name.getKeyProperty("request"), n.longValue(), Long::sum);
        }
      }
    } catch (javax.management.JMException e) {
      // No figures then: the line says none were found.
    }
    return out;
  }

  /**
   * The broker's requests per task, by kind, most first. A Fetch is counted again as FetchConsumer (a consumer's fetch,
   * not a follower's); the requests are what batching saves: a produce request carries what was published while the
   * one before it was in flight.
   */
  static String requestsPerTask(Map<String, Long> before, Map<String, Long> after, int tasks) {
    StringBuilder line = new StringBuilder("broker requests per task:");
    int empty = line.length();
    after.entrySet().stream().map(e -> Map.entry(e.getKey(), e.getValue() - before.getOrDefault(e.getKey(), 0L)))
        .filter(e -> e.getValue() > 0).sorted(Map.Entry.<String, Long>comparingByValue().reversed())
        .forEach(e -> line.append(String.format(Locale.ROOT, " %s %.2f", e.getKey(), e.getValue() / (double) tasks)));
    return line.length() == empty ? line + " none found" : line.toString();
  }

  /** CPU time used by this process so far, every thread: the broker's, the lead's and the workers'; -1 if unknown. */
  private static long processCpuNanos() {
    return java.lang.management.ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os ? os.getProcessCpuTime() : -1;
  }

  private static Map<String, Long> endOffsets(ClientConfig admin) {
    Properties c = admin.kafka();
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> partitions = Topics.all().stream().map(t -> new TopicPartition(t, 0)).toList();
      Map<String, Long> out = new java.util.TreeMap<>();
      consumer.endOffsets(partitions).forEach((tp, offset) -> out.put(tp.topic(), offset));
      return out;
    }
  }

  /** Round trips of one record at a time through {@code admin}'s broker, logged in and encrypted as the leg's are. */
  private static double[] kafkaRoundTrips(ClientConfig admin, int n) {
    String topic = "lanes.bench.rtt";
    try (Admin a = Admin.create(admin.kafka())) {
      a.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
    } catch (Exception e) {
      throw new IllegalStateException("cannot create " + topic + ": " + e.getMessage(), e);
    }
    Properties p = admin.kafka();
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
    Properties c = admin.kafka();
    c.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100);
    double[] out = new double[n];
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      TopicPartition tp = new TopicPartition(topic, 0);
      consumer.assign(List.of(tp));
      consumer.seekToEnd(List.of(tp));
      consumer.position(tp);
      byte[] payload = new byte[300];
      for (int i = -50; i < n; i++) { // the first 50 warm the clients up and are not counted
        long t0 = System.nanoTime();
        producer.send(new ProducerRecord<>(topic, payload));
        int got = 0;
        while (got == 0) {
          for (ConsumerRecord<byte[], byte[]> ignored : consumer.poll(Duration.ofMillis(500))) {
            got++;
          }
        }
        if (i >= 0) {
          out[i] = (System.nanoTime() - t0) / 1e6;
        }
      }
    }
    Arrays.sort(out);
    return out;
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static Path createDirs(Path dir) {
    try {
      return java.nio.file.Files.createDirectories(dir);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static double pct(double[] sorted, int p) {
    int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(i, sorted.length - 1))];
  }
}
