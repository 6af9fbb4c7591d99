package dev.lanes.protocol;

import java.math.BigDecimal;

/**
 * A client asks the lead to set a run's budget ({@code lanes budget RUN --usd X}), to resume a run its budget paused
 * or to give it more room. The lead answers with a {@link RunBudget} naming the same {@code request}, or with an
 * {@link ActionRefused} saying why not: the run is unknown or finished, or the amount is not more than the run has
 * spent.
 *
 * @param usd the run's new budget in dollars, to the millionth
 * @param requester who asks ({@code user@host}), recorded with the change
 */
public record BudgetRequested(String request, String run, BigDecimal usd, String requester) implements Message {
  @Override
  public String key() {
    return request;
  }
}
