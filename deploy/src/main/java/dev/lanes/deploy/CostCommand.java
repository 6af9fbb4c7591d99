package dev.lanes.deploy;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.lanes.bus.ClientConfig;
import dev.lanes.bus.KafkaBus;
import dev.lanes.protocol.Durations;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.Topics;
import dev.lanes.protocol.Usd;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code lanes cost}: the cost ledger, read from the lead's log as {@code lanes status} reads the runs, so it works
 * with the submitter's credential and while no lead serves. It only reads: it creates no topic.
 */
@Command(
    name = "cost",
    mixinStandardHelpOptions = true,
    description = {
      "Shows what the agents cost, from the lead's log.",
      "",
      "Every attempt's cost as its agent reported it (dollars, tokens in and out), recorded by the lead when it took"
          + " the attempt's result, added up by task, plan, UTC day or worker; and the runs that have a budget: the"
          + " budget, what they spent, and whether the budget paused them. Totals are exact to the millionth of a"
          + " dollar. It only reads: it creates no topic.",
      "",
      "Exit 0 when it could read the log, 1 when Kafka did not answer within --timeout, 2 for bad input."
    })
final class CostCommand implements Callable<Integer> {
  @picocli.CommandLine.Mixin BusOptions busOptions;

  @Option(names = "--by", defaultValue = "plan", paramLabel = "GROUP",
      description = "Group the attempts by task, plan, day (UTC) or worker (default: ${DEFAULT-VALUE}).")
  CostReport.By by;

  @Option(names = "--since", paramLabel = "DURATION",
      description = "Only attempts of this long ago or later: 7d, 12h, 30m (default: all).")
  String since;

  @Option(names = "--json",
      description = "Print JSON: {\"by\":…,\"since\":…,\"totalUsd\":N,\"attempts\":N,\"inputTokens\":N,"
          + "\"outputTokens\":N,\"groups\":[{\"key\",\"attempts\",\"usd\",…}],\"runs\":[{\"run\",\"budgetUsd\","
          + "\"spentUsd\",\"paused\",…}]}.")
  boolean json;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws JsonProcessingException {
    Optional<Instant> from = Optional.ofNullable(since).map(CostCommand::ago)
        .map(d -> Instant.now().minus(d).truncatedTo(ChronoUnit.SECONDS));
    ClientConfig kafka = busOptions.config();
    CostReport report = new CostReport();
    try (KafkaBus bus = KafkaBus.connect(kafka, "lanes-cost",
        Daemons.envelope(kafka.lanes(), Optional.empty(), Optional.empty(), spec.commandLine().getErr()))) {
      bus.awaitReachable();
      if (bus.topics().contains(Topics.EVENTS)) {
        bus.replay(Topics.EVENTS, report::accept);
      }
    }
    CostReport.Totals totals = report.totals(by, from);
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(Json.mapper().writeValueAsString(totals));
    } else {
      print(out, totals);
    }
    out.flush();
    return Main.OK;
  }

  /** {@code --since}: a duration, in days too ({@code 7d}), which plans and timeouts have no use for. */
  static Duration ago(String text) {
    String t = text.trim();
    if (t.matches("\\d{1,6}d")) {
      return Duration.ofDays(Long.parseLong(t.substring(0, t.length() - 1)));
    }
    try {
      return Durations.parse("--since", t);
    } catch (dev.lanes.protocol.ProtocolException e) {
      throw new IllegalArgumentException("--since: \"" + text + "\" is not a duration (a whole number and a unit:"
          + " 7d, 12h, 30m, 90s)");
    }
  }

  private static void print(PrintWriter out, CostReport.Totals t) {
    out.println("Cost by " + t.by() + t.since().map(s -> " since " + s).orElse("") + ": " + Usd.format(t.totalUsd())
        + " for " + t.attempts() + " attempt(s), " + t.inputTokens() + " tokens in, " + t.outputTokens()
        + " tokens out");
    if (!t.groups().isEmpty()) {
      out.printf(Locale.ROOT, "  %-40s %8s %12s %12s %12s%n", t.by(), "attempts", "tokens in", "tokens out", "cost");
    }
    for (CostReport.Group g : t.groups()) {
      out.printf(Locale.ROOT, "  %-40s %8d %12d %12d %12s%n", g.key(), g.attempts(), g.inputTokens(),
          g.outputTokens(), Usd.format(g.usd()));
    }
    if (t.runs().isEmpty()) {
      return;
    }
    out.println();
    out.println("Budgets:");
    for (CostReport.RunRow r : t.runs()) {
      out.println("  " + r.run() + ": spent " + Usd.format(r.spentUsd()) + r.budgetUsd().map(b -> " of "
          + Usd.format(b)).orElse(" (no budget of its own)") + (r.finished() ? ", finished"
          : r.paused().map(p -> ", paused: " + p + " (" + r.detail() + ")").orElse(", running")));
    }
  }
}
