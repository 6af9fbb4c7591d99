package dev.lanes.protocol;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Optional;

/**
 * Amounts of US dollars as the ledger keeps them: decimals to the millionth of a dollar, so that totals add up to
 * exactly what the agents reported, which sums of doubles do not ({@code 0.1 + 0.2}). A worker's report arrives as a
 * double and is turned into one here; budgets and sums are never doubles.
 */
public final class Usd {
  /** The ledger's precision: a millionth of a dollar, the finest an agent's report carries. */
  public static final int SCALE = 6;
  /** More than any budget a person means: a larger amount is a typo or an attack. */
  public static final BigDecimal MAX_BUDGET = BigDecimal.valueOf(1_000_000);
  public static final BigDecimal ZERO = BigDecimal.ZERO.setScale(SCALE);

  private Usd() {}

  /** A reported amount at the ledger's precision; its decimal form, not its binary one, is what is kept. */
  public static BigDecimal of(double usd) {
    return exact(BigDecimal.valueOf(usd));
  }

  /**
   * An amount at the ledger's precision, rounded half to even beyond it. An amount written with an absurd exponent
   * ({@code 1e-999999999}) is refused first: rescaling it would take the process's memory and time.
   */
  public static BigDecimal exact(BigDecimal usd) {
    if (Math.abs((long) usd.scale()) > MAX_EXPONENT) {
      throw new IllegalArgumentException("usd: " + usd + " has an exponent beyond " + MAX_EXPONENT
          + "; no amount of dollars needs one");
    }
    return usd.setScale(SCALE, RoundingMode.HALF_EVEN);
  }

  private static final int MAX_EXPONENT = 1000;

  /** {@code $1.20}, {@code $0.0123}: cents at least, and every further digit that is not zero. */
  public static String format(BigDecimal usd) {
    BigDecimal plain = usd.stripTrailingZeros();
    return "$" + (plain.scale() < 2 ? usd.setScale(2, RoundingMode.UNNECESSARY) : plain).toPlainString();
  }

  /**
   * Why {@code usd} cannot be a budget, naming {@code field}, the value and the rule; empty when it can. A budget is a
   * positive amount of at most {@link #MAX_BUDGET} dollars to the millionth.
   */
  public static Optional<String> budgetProblem(String field, BigDecimal usd) {
    if (usd.signum() <= 0 || usd.compareTo(MAX_BUDGET) > 0 || usd.stripTrailingZeros().scale() > SCALE) {
      return Optional.of(field + ": " + usd.toPlainString() + " is not a budget: an amount of dollars greater than"
          + " zero and at most " + MAX_BUDGET.toPlainString() + ", to the millionth (such as 2.50)");
    }
    return Optional.empty();
  }
}
