package dev.lanes.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.protocol.Plan;
import dev.lanes.protocol.RunBudget;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class BudgetGateTest {
  private static final Instant NOW = Instant.parse("2026-12-03T09:00:00.250Z");
  private final BudgetGate gate = new BudgetGate("r1", Optional.of(new Plan.Budget(usd("1.00"),
      Plan.Budget.Stop.FINISH)));

  private static BigDecimal usd(String amount) {
    return new BigDecimal(amount);
  }

  private Optional<RunBudget> spent(String amount) {
    return gate.evaluate(usd(amount), Optional.empty(), "lead", Optional.empty(), "spent", NOW);
  }

  @Test
  void evaluate_pausesOnceTheRunHasSpentItsBudgetAndSaysSoOnce() {
    assertThat(spent("0.99")).isEmpty();
    RunBudget pause = spent("1.00").orElseThrow();
    assertThat(pause.paused()).contains(RunBudget.BUDGET);
    assertThat(pause.detail()).isEqualTo("spent $1.00 of the run's budget of $1.00; no new attempt starts until the"
        + " budget is raised (lanes budget r1 --usd USD, or the dashboard); running attempts finish");
    assertThat(pause.at()).isEqualTo("2026-12-03T09:00:00Z");
    assertThat(spent("1.40")).as("already paused: nothing new to record").isEmpty();
    assertThat(gate.paused()).isTrue();
  }

  @Test
  void raise_resumesTheRunAndNamesTheRequest() {
    spent("1.20");
    assertThat(gate.raiseProblem(usd("1.20"), usd("1.20"))).contains(
        "usd: 1.2 must be more than the $1.20 run r1 has already spent");
    assertThat(gate.raiseProblem(usd("-3"), usd("1.20"))).hasValueSatisfying(p -> assertThat(p).startsWith(
        "usd: -3 is not a budget"));
    assertThat(gate.raiseProblem(usd("2"), usd("1.20"))).isEmpty();
    gate.raise(usd("2"));
    RunBudget resumed = gate.evaluate(usd("1.20"), Optional.empty(), "alice@host", Optional.of("b-1"),
        "budget raised to $2.00 by alice@host", NOW).orElseThrow();
    assertThat(resumed.paused()).isEmpty();
    assertThat(resumed.budgetUsd()).contains(usd("2.000000"));
    assertThat(resumed.request()).contains("b-1");
    assertThat(resumed.detail()).isEqualTo("budget raised to $2.00 by alice@host; the run resumes");
    assertThat(gate.paused()).isFalse();
  }

  @Test
  void dailyBudgetPausesUntilANewDayAndARaiseDoesNotLiftIt() {
    BudgetGate.Daily spentToday = new BudgetGate.Daily(usd("5"), usd("5.10"));
    RunBudget pause = gate.evaluate(usd("0.10"), Optional.of(spentToday), "lead", Optional.empty(), "spent", NOW)
        .orElseThrow();
    assertThat(pause.paused()).contains(RunBudget.DAILY_BUDGET);
    assertThat(pause.detail()).contains("all runs spent $5.10 today (UTC) of the lead's daily budget of $5.00");
    gate.raise(usd("3"));
    RunBudget raised = gate.evaluate(usd("0.10"), Optional.of(spentToday), "bob", Optional.empty(),
        "budget raised to $3.00 by bob", NOW).orElseThrow();
    assertThat(raised.paused()).contains(RunBudget.DAILY_BUDGET);
    assertThat(raised.detail()).startsWith("budget raised to $3.00 by bob, but the run stays paused: all runs spent");
    RunBudget tomorrow = gate.evaluate(usd("0.10"), Optional.of(new BudgetGate.Daily(usd("5"), usd("0"))), "lead",
        Optional.empty(), "a new UTC day began", NOW.plusSeconds(86_400)).orElseThrow();
    assertThat(tomorrow.paused()).isEmpty();
  }

  @Test
  void restore_keepsARunPausedAcrossALeadsRestart() {
    BudgetGate replayed = new BudgetGate("r1", Optional.of(new Plan.Budget(usd("1"), Plan.Budget.Stop.NOW)));
    replayed.restore(spent("1.5").orElseThrow());
    assertThat(replayed.paused()).isTrue();
    assertThat(replayed.stop()).isEqualTo(Plan.Budget.Stop.NOW);
    assertThat(replayed.evaluate(usd("1.5"), Optional.empty(), "lead", Optional.empty(), "replayed", NOW)).isEmpty();
  }

  @Test
  void raise_ofARunThatIsNotPausedIsRecordedWithoutSayingItResumes() {
    gate.raise(usd("3"));
    RunBudget raised = gate.evaluate(usd("0.5"), Optional.empty(), "alice", Optional.empty(),
        "budget set to $3.00 by alice", NOW).orElseThrow();
    assertThat(raised.paused()).isEmpty();
    assertThat(raised.detail()).isEqualTo("budget set to $3.00 by alice");
  }

  @Test
  void aRunWithoutABudgetIsNeverPausedByIt() {
    BudgetGate none = new BudgetGate("r2", Optional.empty());
    assertThat(none.evaluate(usd("900"), Optional.empty(), "lead", Optional.empty(), "spent", NOW)).isEmpty();
  }
}
