package dev.lanes.coordinator;

import dev.lanes.protocol.UsageRecorded;
import dev.lanes.protocol.Usd;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The cost ledger as the lead keeps it in memory: what each unfinished run and each recent UTC day has spent, added up
 * from the {@link UsageRecorded} entries it records and replays. The entries in the event log are the ledger; this is
 * their running totals, which budgets are checked against. Confined to the lead's loop.
 *
 * <p>Bounded: a run's total goes when the run finishes, and a day's when it is two days old; a lead that runs for
 * months keeps what its budgets need and no more ({@code lanes cost} reads the log for the rest).
 */
final class Ledger {
  private final Map<String, BigDecimal> byRun = new HashMap<>();
  private final TreeMap<LocalDate, BigDecimal> byDay = new TreeMap<>();

  /** Adds an entry, recorded now or replayed. */
  void add(UsageRecorded entry) {
    byRun.merge(entry.run(), entry.costUsd(), BigDecimal::add);
    day(entry.at()).ifPresent(day -> {
      byDay.merge(day, entry.costUsd(), BigDecimal::add);
      while (byDay.size() > 2) {
        byDay.pollFirstEntry();
      }
    });
  }

  /** What {@code run}'s attempts have cost so far. */
  BigDecimal spent(String run) {
    return byRun.getOrDefault(run, Usd.ZERO);
  }

  /** What every run together spent on the UTC day of {@code at}. */
  BigDecimal spentOn(Instant at) {
    return byDay.getOrDefault(at.atOffset(ZoneOffset.UTC).toLocalDate(), Usd.ZERO);
  }

  /** A finished run's total is not needed any more. */
  void forget(String run) {
    byRun.remove(run);
  }

  /** Keeps the totals of these runs only: after a replay, those that have not finished. */
  void retain(java.util.Set<String> unfinished) {
    byRun.keySet().retainAll(unfinished);
  }

  /** Runs whose totals are kept (for tests). */
  int runs() {
    return byRun.size();
  }

  private static java.util.Optional<LocalDate> day(String at) {
    try {
      return java.util.Optional.of(Instant.parse(at).atOffset(ZoneOffset.UTC).toLocalDate());
    } catch (DateTimeParseException e) {
      return java.util.Optional.empty(); // recorded by this lead, so well formed; an odd one counts for its run only
    }
  }

  /** The UTC day of an instant, as a daily budget counts it. */
  static LocalDate day(Instant at) {
    return at.atOffset(ZoneOffset.UTC).toLocalDate();
  }
}
