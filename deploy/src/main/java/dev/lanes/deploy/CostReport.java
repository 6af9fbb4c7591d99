package dev.lanes.deploy;

import dev.lanes.protocol.Message;
import dev.lanes.protocol.RunBudget;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.UsageRecorded;
import dev.lanes.protocol.Usd;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The cost ledger read back from the lead's log for {@code lanes cost}: every {@link UsageRecorded} since a moment,
 * grouped by task, plan, UTC day or worker, and the budgets of the runs that have one. Sums are decimals to the
 * millionth of a dollar, so the groups and the total add up to exactly what the agents reported.
 */
final class CostReport {
  /** What the entries are grouped by. */
  enum By {
    TASK, PLAN, DAY, WORKER;

    String key(UsageRecorded u) {
      switch (this) {
        case TASK:
          return u.run() + "/" + u.task();
        case PLAN:
          return u.plan();
        case DAY:
          return at(u.at()).map(t -> t.atOffset(ZoneOffset.UTC).toLocalDate().toString()).orElse("unknown");
        default:
          return u.worker();
      }
    }
  }

  /** The attempts of one group, and what they cost. */
  record Group(String key, int attempts, BigDecimal usd, long inputTokens, long outputTokens) {
    Group plus(UsageRecorded u) {
      return new Group(key, attempts + 1, usd.add(u.costUsd()), inputTokens + u.inputTokens(),
          outputTokens + u.outputTokens());
    }
  }

  /** A run with a budget, or one a budget paused: where it stands. */
  record RunRow(String run, String plan, Optional<BigDecimal> budgetUsd, BigDecimal spentUsd,
      Optional<String> paused, boolean finished, String detail) {}

  /** The report as {@code lanes cost --json} prints it. */
  record Totals(String by, Optional<String> since, BigDecimal totalUsd, int attempts, long inputTokens,
      long outputTokens, List<Group> groups, List<RunRow> runs) {}

  private final List<UsageRecorded> entries = new ArrayList<>();
  private final Map<String, RunStarted> starts = new LinkedHashMap<>();
  private final Map<String, RunBudget> budgets = new LinkedHashMap<>();
  private final Map<String, BigDecimal> spent = new LinkedHashMap<>();
  private final java.util.Set<String> finished = new java.util.HashSet<>();

  /** Takes one record of the log, in log order. */
  void accept(Message m) {
    if (m instanceof UsageRecorded u) {
      entries.add(u);
      spent.merge(u.run(), u.costUsd(), BigDecimal::add);
    } else if (m instanceof RunStarted s && s.definition().isPresent()) {
      starts.put(s.run(), s);
    } else if (m instanceof RunBudget b) {
      budgets.put(b.run(), b);
    } else if (m instanceof RunFinished f) {
      finished.add(f.run());
    }
  }

  /** The entries since {@code since} (all without it), grouped. */
  Totals totals(By by, Optional<Instant> since) {
    Map<String, Group> groups = new TreeMap<>();
    BigDecimal total = Usd.ZERO;
    int attempts = 0;
    long in = 0;
    long out = 0;
    for (UsageRecorded u : entries) {
      if (since.isPresent() && at(u.at()).map(t -> t.isBefore(since.get())).orElse(true)) {
        continue;
      }
      groups.merge(by.key(u), new Group(by.key(u), 0, Usd.ZERO, 0, 0).plus(u), (a, b) -> a.plus(u));
      total = total.add(u.costUsd());
      attempts++;
      in += u.inputTokens();
      out += u.outputTokens();
    }
    return new Totals(by.name().toLowerCase(java.util.Locale.ROOT), since.map(Instant::toString), total, attempts,
        in, out, List.copyOf(groups.values()), runs());
  }

  /** Every run that has a budget or was paused by one, with what it spent over its whole life. */
  private List<RunRow> runs() {
    List<RunRow> rows = new ArrayList<>();
    java.util.Set<String> ids = new java.util.LinkedHashSet<>(starts.keySet());
    ids.addAll(budgets.keySet());
    for (String run : ids) {
      Optional<RunBudget> decided = Optional.ofNullable(budgets.get(run));
      Optional<BigDecimal> budget = decided.isPresent() ? decided.get().budgetUsd()
          : Optional.ofNullable(starts.get(run)).flatMap(s -> s.definition().get().budget()).map(b -> b.usd());
      if (budget.isEmpty() && decided.flatMap(RunBudget::paused).isEmpty()) {
        continue;
      }
      String plan = Optional.ofNullable(starts.get(run)).map(RunStarted::plan).orElse("");
      rows.add(new RunRow(run, plan, budget, spent.getOrDefault(run, Usd.ZERO),
          finished.contains(run) ? Optional.empty() : decided.flatMap(RunBudget::paused), finished.contains(run),
          decided.map(RunBudget::detail).orElse("")));
    }
    return rows;
  }

  private static Optional<Instant> at(String at) {
    try {
      return Optional.of(Instant.parse(at));
    } catch (DateTimeParseException e) {
      return Optional.empty();
    }
  }
}
