package dev.lanes.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.math.BigDecimal;
import java.util.Optional;

/**
 * The lead's decision about a run's budget: how much the run may spend, what it has spent, and whether the budget
 * holds the run paused. Recorded when a budget is reached (the run pauses), raised (it resumes) and when a new UTC day
 * lifts the daily budget's pause; every record of a run shares one key, so the compacted log keeps the run's latest
 * state and a lead that takes over stays paused where the last one was.
 *
 * <p>While a run is paused the lead starts no attempt of it; attempts already running finish (or, with
 * {@code budget-stop: now}, were cancelled and kept on their workers), and their work still lands.
 *
 * @param budgetUsd the run's budget: the plan's {@code budget-usd}, or what it was raised to; absent when the run has
 *     none (a daily budget can still pause it)
 * @param spentUsd what the run's attempts have cost so far, by the ledger
 * @param paused why the run is paused: {@link #BUDGET} or {@link #DAILY_BUDGET}; absent when it is not
 * @param detail what happened and what to do, for a person
 * @param by who asked for the change: {@code lead} for the lead's own decisions, else the person or client
 * @param request the request that raised the budget ({@link BudgetRequested}), for its client to find the answer
 * @param at when, an ISO-8601 instant in UTC
 */
public record RunBudget(String run, Optional<BigDecimal> budgetUsd, BigDecimal spentUsd, Optional<String> paused,
    String detail, String by, @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<String> request, String at)
    implements Message {
  /** Paused: the run spent its own budget. */
  public static final String BUDGET = "budget";
  /** Paused: all runs together spent the lead's budget for the UTC day ({@code --daily-budget-usd}). */
  public static final String DAILY_BUDGET = "daily-budget";

  public RunBudget {
    budgetUsd = budgetUsd == null ? Optional.empty() : budgetUsd.map(Usd::exact);
    spentUsd = Usd.exact(spentUsd);
    paused = paused == null ? Optional.empty() : paused;
    request = request == null ? Optional.empty() : request;
  }

  @Override
  public String key() {
    return TaskRef.budgetKey(run);
  }
}
