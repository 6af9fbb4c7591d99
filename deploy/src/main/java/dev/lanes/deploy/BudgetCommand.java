package dev.lanes.deploy;

import dev.lanes.bus.Bus;
import dev.lanes.bus.ClientConfig;
import dev.lanes.bus.KafkaBus;
import dev.lanes.protocol.ActionRefused;
import dev.lanes.protocol.BudgetRequested;
import dev.lanes.protocol.Durations;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.RunBudget;
import dev.lanes.protocol.Topics;
import dev.lanes.protocol.Usd;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code lanes budget}: sets a run's budget through the lead, which records it and resumes the run if its budget had
 * paused it. The request travels as {@code lanes submit}'s plans do, signed with the submitter's key; the lead checks
 * it again and answers on its log.
 */
@Command(
    name = "budget",
    mixinStandardHelpOptions = true,
    description = {
      "Sets a run's budget; a run its budget paused resumes.",
      "",
      "Hands the request to the lead over Kafka with the submitter's credential and waits for its answer. The lead"
          + " refuses an unknown or finished run and an amount that is not more than the run has already spent. A run"
          + " paused by the lead's daily budget (--daily-budget-usd) stays paused until the next UTC day, whatever"
          + " its own budget; lanes cost shows what each run spent.",
      "",
      "Exit 0 when the lead set the budget, 1 when no lead answered within --timeout, 2 for bad input (a request the"
          + " lead refused too)."
    })
final class BudgetCommand implements Callable<Integer> {
  @Parameters(paramLabel = "RUN", description = "The run, as lanes submit or lanes status names it.")
  String run;

  @Option(names = "--usd", required = true, paramLabel = "USD",
      description = "The run's new budget in US dollars, such as 12.50: more than it has spent, at most 1000000.")
  BigDecimal usd;

  @picocli.CommandLine.Mixin BusOptions busOptions;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Usd.budgetProblem("--usd", usd).ifPresent(problem -> {
      throw new IllegalArgumentException(problem);
    });
    ClientConfig kafka = busOptions.config();
    byte[] random = new byte[6];
    new SecureRandom().nextBytes(random);
    String request = "budget-" + HexFormat.of().formatHex(random);
    CompletableFuture<Message> answer = new CompletableFuture<>();
    PrintWriter out = spec.commandLine().getOut();
    try (KafkaBus bus = KafkaBus.connect(kafka, "lanes-budget",
        Daemons.envelope(kafka.lanes(), Optional.empty(), Optional.empty(), spec.commandLine().getErr()))) {
      bus.awaitReachable();
      bus.subscribe(Topics.EVENTS, Bus.Start.NOW, m -> {
        if (m instanceof RunBudget b && b.request().equals(Optional.of(request))
            || m instanceof ActionRefused r && r.request().equals(request)) {
          answer.complete(m);
        }
      });
      try {
        bus.publish(new BudgetRequested(request, run, usd, System.getProperty("user.name") + "@"
            + WorkerCommand.hostName())).get(kafka.timeout().toMillis(), TimeUnit.MILLISECONDS);
      } catch (ExecutionException | TimeoutException e) {
        spec.commandLine().getErr().println("lanes: could not hand the request to Kafka at "
            + kafka.bootstrapServers() + ": " + (e.getCause() == null ? "no answer within "
            + Durations.format(kafka.timeout()) : e.getCause().getMessage()));
        return Main.FAILED;
      }
      Message reply;
      try {
        reply = answer.get(kafka.timeout().toMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        spec.commandLine().getErr().println("lanes: no lead answered within " + Durations.format(kafka.timeout())
            + "; the request " + request + " waits on Kafka, and the next lead to serve takes it up");
        return Main.FAILED;
      }
      if (reply instanceof ActionRefused refused) {
        spec.commandLine().getErr().println("lanes: the lead refused: " + refused.reason());
        return Main.BAD_INPUT;
      }
      RunBudget set = (RunBudget) reply;
      out.println("run " + run + ": budget " + set.budgetUsd().map(Usd::format).orElse("none") + ", spent "
          + Usd.format(set.spentUsd()) + (set.paused().isPresent() ? ", paused: " + set.paused().get() : ", running")
          + " (" + set.detail() + ")");
      out.flush();
      return Main.OK;
    }
  }
}
