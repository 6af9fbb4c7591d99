package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.RunBudget;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.UsageRecorded;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class CostReportTest {
  private final CostReport report = new CostReport();

  private static UsageRecorded usage(String run, String plan, String task, String worker, String usd, String at) {
    return new UsageRecorded(run, plan, task, 1, 1, worker, "claude-sonnet-4-5", new BigDecimal(usd), 1000, 100, 3,
        false, at);
  }

  @Test
  void totals_addUpExactlyWhereDoublesWouldNot() throws Exception {
    for (int i = 0; i < 10; i++) {
      report.accept(usage("r1", "docs", "t" + i, "w1", "0.1", "2026-12-03T09:00:0" + i + "Z"));
    }
    report.accept(usage("r2", "core", "a", "w2", "0.2", "2026-12-02T23:59:59Z"));

    CostReport.Totals byPlan = report.totals(CostReport.By.PLAN, Optional.empty());
    assertThat(byPlan.totalUsd()).isEqualByComparingTo("1.2");
    assertThat(byPlan.attempts()).isEqualTo(11);
    assertThat(byPlan.inputTokens()).isEqualTo(11_000);
    assertThat(byPlan.groups()).extracting(CostReport.Group::key, g -> g.usd().toPlainString(),
        CostReport.Group::attempts).containsExactly(org.assertj.core.groups.Tuple.tuple("core", "0.200000", 1),
        org.assertj.core.groups.Tuple.tuple("docs", "1.000000", 10));
    JsonNode json = Json.mapper().readTree(Json.mapper().writeValueAsString(byPlan));
    assertThat(json.path("totalUsd").decimalValue()).isEqualByComparingTo("1.2");
    assertThat(json.path("by").asText()).isEqualTo("plan");
    assertThat(json.path("groups").get(1).path("usd").decimalValue()).isEqualByComparingTo("1.0");
  }

  @Test
  void totals_byDayWorkerAndTaskAndSince() {
    report.accept(usage("r1", "docs", "a", "w1", "0.5", "2026-12-02T23:59:59Z"));
    report.accept(usage("r1", "docs", "b", "w2", "0.25", "2026-12-03T00:00:00Z"));

    assertThat(report.totals(CostReport.By.DAY, Optional.empty()).groups()).extracting(CostReport.Group::key)
        .containsExactly("2026-12-02", "2026-12-03");
    assertThat(report.totals(CostReport.By.WORKER, Optional.empty()).groups()).extracting(CostReport.Group::key)
        .containsExactly("w1", "w2");
    assertThat(report.totals(CostReport.By.TASK, Optional.empty()).groups()).extracting(CostReport.Group::key)
        .containsExactly("r1/a", "r1/b");
    CostReport.Totals since = report.totals(CostReport.By.PLAN, Optional.of(Instant.parse("2026-12-03T00:00:00Z")));
    assertThat(since.totalUsd()).isEqualByComparingTo("0.25");
    assertThat(since.since()).contains("2026-12-03T00:00:00Z");
  }

  @Test
  void runs_showTheirBudgetWhatTheySpentAndWhetherItPausedThem() {
    Plan plan = new Plan("docs", Optional.empty(), "lanes/docs", List.of()).withBudget(Optional.of(
        new Plan.Budget(new BigDecimal("1"), Plan.Budget.Stop.FINISH)));
    report.accept(new RunStarted("r1", "docs", "lanes/docs", "0".repeat(40), List.of(), Optional.of(plan)));
    report.accept(new RunStarted("r2", "docs", "lanes/docs", "0".repeat(40), List.of(), Optional.of(plan)));
    report.accept(new RunStarted("r3", "free", "lanes/free", "0".repeat(40), List.of(),
        Optional.of(plan.withBudget(Optional.empty()))));
    report.accept(usage("r1", "docs", "a", "w1", "1.2", "2026-12-03T09:00:00Z"));
    report.accept(new RunBudget("r1", Optional.of(new BigDecimal("1")), new BigDecimal("1.2"),
        Optional.of(RunBudget.BUDGET), "spent $1.20 of $1.00", "lead", Optional.empty(), "2026-12-03T09:00:00Z"));
    report.accept(new RunFinished("r2", "lanes/docs", List.of(), List.of()));

    List<CostReport.RunRow> runs = report.totals(CostReport.By.PLAN, Optional.empty()).runs();

    assertThat(runs).extracting(CostReport.RunRow::run).containsExactly("r1", "r2");
    assertThat(runs.get(0).paused()).contains("budget");
    assertThat(runs.get(0).spentUsd()).isEqualByComparingTo("1.2");
    assertThat(runs.get(1).finished()).isTrue();
    assertThat(runs.get(1).budgetUsd()).contains(new BigDecimal("1.000000"));
  }

  @Test
  void since_takesDaysToo() {
    assertThat(CostCommand.ago("7d")).isEqualTo(Duration.ofDays(7));
    assertThat(CostCommand.ago("12h")).isEqualTo(Duration.ofHours(12));
    assertThatThrownBy(() -> CostCommand.ago("a week")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--since: \"a week\" is not a duration (a whole number and a unit: 7d, 12h, 30m, 90s)");
  }
}
