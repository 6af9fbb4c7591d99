package dev.lanes.deploy;

import dev.lanes.bus.KafkaBus;
import dev.lanes.coordinator.Lead;
import dev.lanes.protocol.Durations;
import java.io.PrintWriter;
import java.util.Optional;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code lanes coordinator}: the lead as a daemon. */
@Command(
    name = "coordinator",
    mixinStandardHelpOptions = true,
    description = {
      "Runs the lead (coordinator) as a daemon until stopped.",
      "",
      "It takes plans from lanes submit, hands tasks to workers and lands results on the target branches of --repo. Only one lead acts on a set of topics; a second one waits and takes over when the first goes away, continuing its runs from the log.",
      "",
      "Exit 0 when stopped (Ctrl-C, SIGTERM), 1 when Kafka did not answer within --timeout, 2 for bad input."
    })
final class CoordinatorCommand implements Callable<Integer> {
  @picocli.CommandLine.Mixin BusOptions busOptions;

  @Option(names = "--repo", required = true, paramLabel = "DIR",
      description = "The repository results land in; workers push task branches to it.")
  Path repo;

  @Option(names = "--lease", defaultValue = "2m", paramLabel = "DURATION",
      description = "How long an attempt lives without a heartbeat (default: ${DEFAULT-VALUE}).")
  String lease;

  @picocli.CommandLine.Mixin MergeOptions merge;

  @picocli.CommandLine.Mixin PassEnvOption passEnv;

  @picocli.CommandLine.Mixin HttpOptions http;

  @picocli.CommandLine.Mixin AttentionOptions attention;

  @Option(names = "--max-attempts", paramLabel = "N", defaultValue = "3",
      description = "Attempts a task gets in all, whatever starts them (a failure, a claim extended, a fix after an"
          + " eviction or a review); then it is parked (default: ${DEFAULT-VALUE}).")
  int maxAttempts;

  @Option(names = "--daily-budget-usd", paramLabel = "USD",
      description = "What all runs together may spend on their agents in a UTC day, such as 50; once spent, no new"
          + " attempt starts until the next UTC day (default: no daily budget).")
  Optional<java.math.BigDecimal> dailyBudget = Optional.empty();

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    Duration leaseTime = Durations.parse("--lease", lease);
    Lead.Settings settings = merge.applyTo(Lead.Settings.daemon().withLease(leaseTime).withMaxAttempts(maxAttempts))
        .withPassEnv(passEnv.names()).withDailyBudget(dailyBudget);
    Lead.Attention attending = http.attention(attention.attention());
    PrintWriter out = spec.commandLine().getOut();
    // The client file first, as every client command reads it; then a repository that is not there is bad input,
    // said at once rather than after a wait on Kafka.
    dev.lanes.bus.ClientConfig kafka = busOptions.config();
    http.options("127.0.0.1:7070"); // a bad address is bad input, said before anything starts
    Path gitDir;
    try (dev.lanes.coordinator.git.TargetBranch target = dev.lanes.coordinator.git.TargetBranch.open(
        repo.toAbsolutePath())) {
      gitDir = target.commonGitDir();
    }
    String bootstrapServers = kafka.bootstrapServers();
    KafkaBus bus = KafkaBus.connect(kafka, "lanes-lead",
        Daemons.envelope(kafka.lanes(), Optional.empty(), Optional.empty(), spec.commandLine().getErr()));
    Daemons.awaitReachable(bus);
    Lead lead = Lead.start(bus, repo.toAbsolutePath(), Clock.systemUTC(), settings, attending);
    out.println("Lead for " + repo.toAbsolutePath() + " on " + bootstrapServers + " (lease " + lease + ", "
        + maxAttempts + " attempts a task); waiting for the lead role...");
    out.flush();
    Optional<dev.lanes.coordinator.http.HttpServer> server;
    try {
      server = http.serve("127.0.0.1:7070", lead, HttpOptions.leadDir(gitDir), out);
    } catch (RuntimeException e) {
      lead.close();
      bus.close();
      throw e;
    }
    Thread announce = new Thread(() -> {
      try {
        lead.awaitActive(Duration.ofSeconds(15));
      } catch (RuntimeException e) {
        out.println("Another lead is active on these topics; this one waits and takes over if it goes away.");
        out.flush();
        lead.awaitActive(Duration.ofDays(3650));
      }
      out.println("This lead holds the lead role.");
      out.flush();
    }, "lanes-lead-announce");
    announce.setDaemon(true);
    announce.start();
    return Daemons.runUntilStopped(() -> {
      server.ifPresent(dev.lanes.coordinator.http.HttpServer::close);
      lead.close();
      bus.close();
    }, "lead", out);
  }
}
