package dev.lanes.coordinator;

import dev.lanes.protocol.Plan;
import dev.lanes.protocol.RunBudget;
import dev.lanes.protocol.Usd;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;

/**
 * One run's budget and whether it holds the run paused: the rules, apart from the run's task state machine, which
 * asks {@link #evaluate} after every change of what was spent or allowed and records the {@link RunBudget} it returns.
 *
 * <p>A run pauses once its attempts have spent its own budget ({@link RunBudget#BUDGET}), or once all runs together
 * have spent the lead's budget for the UTC day ({@link RunBudget#DAILY_BUDGET}); its own budget is named first when
 * both are spent, since raising it is what a person can do now. It resumes when neither holds any more: its budget was
 * raised above what it spent, or a new UTC day began. Only a change is returned, so each pause and each resume is
 * recorded once.
 */
final class BudgetGate {
  private final String run;
  private final Plan.Budget.Stop stop;
  private Optional<BigDecimal> budget;
  private Optional<String> paused = Optional.empty();
  /** The detail of the last decision: what paused the run, while it is paused. */
  private String detail = "";
  /** Whether the budget was set since the last decision, which is then recorded whatever it decides. */
  private boolean set;

  BudgetGate(String run, Optional<Plan.Budget> planned) {
    this.run = run;
    this.budget = planned.map(Plan.Budget::usd);
    this.stop = planned.map(Plan.Budget::stop).orElse(Plan.Budget.Stop.FINISH);
  }

  /** Takes back the latest recorded decision, during replay. */
  void restore(RunBudget recorded) {
    budget = recorded.budgetUsd();
    paused = recorded.paused();
    detail = recorded.detail();
  }

  boolean paused() {
    return paused.isPresent();
  }

  Optional<String> pausedFor() {
    return paused;
  }

  /** What the last decision said: while the run is paused, which budget paused it and what was spent. */
  String detail() {
    return detail;
  }

  Optional<BigDecimal> budget() {
    return budget;
  }

  /** What becomes of running attempts when the budget is reached. */
  Plan.Budget.Stop stop() {
    return stop;
  }

  /**
   * Why {@code usd} cannot be the run's new budget, naming the field, the value and the rule; empty when it can.
   *
   * @param spent what the run has spent: a budget not above it would pause the run again at once
   */
  Optional<String> raiseProblem(BigDecimal usd, BigDecimal spent) {
    return Usd.budgetProblem("usd", usd).or(() -> usd.compareTo(spent) > 0 ? Optional.empty()
        : Optional.of("usd: " + usd.stripTrailingZeros().toPlainString() + " must be more than the "
            + Usd.format(spent) + " run " + run + " has already spent"));
  }

  /** Sets a budget that passed {@link #raiseProblem}; {@link #evaluate} then says whether the run resumes. */
  void raise(BigDecimal usd) {
    budget = Optional.of(Usd.exact(usd));
    set = true;
  }

  /**
   * Whether the run should be paused now, and the decision to record when that changed.
   *
   * @param spent what the run has spent
   * @param daily the lead's budget for a UTC day, if it has one, and what every run spent today
   * @param by who caused the change ({@code lead}, or the person who raised the budget)
   * @param request the request that raised the budget, if one did
   * @param why what happened, for the detail of a resume
   * @return the decision to record; empty when the run stays as it was and its budget was not set
   */
  Optional<RunBudget> evaluate(BigDecimal spent, Optional<Daily> daily, String by, Optional<String> request,
      String why, Instant now) {
    Optional<String> should = Optional.empty();
    String detail;
    if (budget.isPresent() && spent.compareTo(budget.get()) >= 0) {
      should = Optional.of(RunBudget.BUDGET);
      detail = "spent " + Usd.format(spent) + " of the run's budget of " + Usd.format(budget.get()) + "; no new"
          + " attempt starts until the budget is raised (lanes budget " + run + " --usd USD, or the dashboard)"
          + (stop == Plan.Budget.Stop.NOW ? "; running attempts are cancelled and kept on their workers"
              : "; running attempts finish");
    } else if (daily.isPresent() && daily.get().spent().compareTo(daily.get().budget()) >= 0) {
      should = Optional.of(RunBudget.DAILY_BUDGET);
      detail = "all runs spent " + Usd.format(daily.get().spent()) + " today (UTC) of the lead's daily budget of "
          + Usd.format(daily.get().budget()) + "; no new attempt starts until the next UTC day, or a lead started"
          + " with a higher --daily-budget-usd";
    } else {
      detail = why + (paused.isPresent() ? "; the run resumes" : "");
    }
    if (should.equals(paused) && !set) {
      return Optional.empty();
    }
    if (should.isPresent() && set) {
      detail = why + ", but the run stays paused: " + detail;
    }
    set = false;
    paused = should;
    this.detail = detail;
    return Optional.of(new RunBudget(run, budget, spent, paused, detail, by, request,
        now.truncatedTo(ChronoUnit.SECONDS).toString()));
  }

  /** The lead's budget for a UTC day and what all runs have spent on the current one. */
  record Daily(BigDecimal budget, BigDecimal spent) {}
}
