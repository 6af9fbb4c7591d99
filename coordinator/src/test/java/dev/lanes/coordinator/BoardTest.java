package dev.lanes.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.Claim;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.UsageRecorded;
import dev.lanes.testkit.MovableClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The board as the lead's loop feeds it, read as the HTTP threads read it; time is a clock the test moves. */
class BoardTest {
  private final MovableClock clock = new MovableClock(Instant.parse("2026-12-03T09:00:00Z"));
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private final Board board = new Board("lead-1-abcd", clock, 4, meters);

  @Test
  void elapsedTime_isTheRunningAttempts_andStopsWhenItStops() {
    board.recorded(started("r1"));
    board.recorded(update("r1", "core", TaskState.RUNNING, 1, "w1", "granted"));
    clock.advance(Duration.ofSeconds(90));
    assertThat(task("r1", "core").elapsedMs()).isEqualTo(90_000);
    board.recorded(update("r1", "core", TaskState.QUEUED, 1, "w1", "passed"));
    clock.advance(Duration.ofSeconds(30));
    assertThat(task("r1", "core").elapsedMs()).isEqualTo(90_000);
    assertThat(task("r1", "core").state()).isEqualTo("QUEUED");
    assertThat(board.state().queue().get(0).entries()).extracting(Board.QueueEntry::task).containsExactly("core");
  }

  @Test
  void theQueue_listsItsTasksInTheOrderTheyCame_untilEachLandsOrIsSentBack() {
    board.recorded(started("r1"));
    board.recorded(update("r1", "docs", TaskState.QUEUED, 1, "w2", "passed"));
    board.recorded(update("r1", "core", TaskState.QUEUED, 1, "w1", "passed"));
    board.recorded(update("r1", "docs", TaskState.LANDING, 1, "w2", "verifying on the merged tree"));
    assertThat(board.state().queue().get(0).entries()).extracting(Board.QueueEntry::task, Board.QueueEntry::state)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("docs", "LANDING"),
            org.assertj.core.groups.Tuple.tuple("core", "QUEUED"));

    board.recorded(update("r1", "docs", TaskState.LANDED, 1, "w2", "landed"));
    board.recorded(update("r1", "core", TaskState.OFFERED, 2, "", Run.EVICTED + "conflict in a"));

    assertThat(board.state().queue().get(0).entries()).isEmpty();
  }

  @Test
  void aTaskShowsThePlansTitle_throughItsUpdates() {
    board.recorded(started("r1"));
    board.recorded(update("r1", "docs", TaskState.RUNNING, 1, "w1", "granted"));
    assertThat(task("r1", "docs").title()).isEqualTo("Write the docs");
    assertThat(board.state().json()).contains("\"task\":\"docs\",\"title\":\"Write the docs\"");
  }

  @Test
  void aClientTooFarBehind_isToldToReset_andOneWithinTheRing_getsWhatItMissed() {
    board.recorded(started("r1"));
    long first = board.lastEventId();
    for (int i = 0; i < Board.EVENTS_KEPT + 5; i++) {
      board.recorded(update("r1", "core", TaskState.RUNNING, 1, "w1", "step " + i));
    }
    List<Board.Event> live = new ArrayList<>();
    assertThat(board.follow(first, live::add)).isEmpty();
    long recent = board.lastEventId() - 3;
    assertThat(board.follow(recent, e -> { }).orElseThrow()).extracting(Board.Event::id)
        .containsExactly(recent + 1, recent + 2, recent + 3);
    board.recorded(update("r1", "core", TaskState.RUNNING, 1, "w1", "live"));
    assertThat(live).hasSize(1);
    assertThat(live.get(0).json()).contains("\"detail\":\"live\"");
  }

  @Test
  void finishedRuns_areKeptUpToTheirLimit_theOldestLeavingFirst() {
    for (int i = 0; i < Board.FINISHED_RUNS_KEPT + 3; i++) {
      board.recorded(started("r" + i));
      board.recorded(new RunFinished("r" + i, "lanes/x", List.of(), List.of("core")));
    }
    board.recorded(started("live"));
    List<String> shown = board.state().runs().stream().map(Board.RunView::run).toList();
    assertThat(shown).hasSize(Board.FINISHED_RUNS_KEPT + 1).doesNotContain("r0", "r1", "r2").contains("r3", "live");
    assertThat(meters.get("lanes.tasks").tag("state", "waiting").gauge().value())
        .isEqualTo(2.0 * (Board.FINISHED_RUNS_KEPT + 1));
  }

  @Test
  void theLogReadBackOnATakeover_isShownButCountedByNoMeter() {
    board.replayed(started("r1"));
    board.replayed(update("r1", "core", TaskState.OFFERED, 2, "", "evicted from the merge queue: conflict in a"));
    board.replayed(usage("r1", "core", "0.25"));
    assertThat(meters.get("lanes.evictions").counter().count()).isZero();
    assertThat(board.state().queue().get(0).evictions()).extracting(Board.Eviction::why)
        .containsExactly("conflict in a");
    assertThat(board.state().cost().totalUsd()).isEqualTo(0.25);

    board.recorded(update("r1", "core", TaskState.RUNNING, 2, "w1", "granted"));
    board.recorded(update("r1", "core", TaskState.OFFERED, 3, "", "evicted from the merge queue: conflict in b"));
    assertThat(meters.get("lanes.evictions").counter().count()).isEqualTo(1);
  }

  @Test
  void cost_isTheLedgersExactSum_withTodayByTheBoardsClock() {
    board.recorded(started("r1"));
    board.recorded(usage("r1", "core", "0.1"));
    board.recorded(usage("r1", "docs", "0.2"));
    assertThat(board.state().cost().totalUsd()).isEqualTo(0.3);
    assertThat(board.state().cost().today()).isEqualTo(0.3);
    clock.advance(Duration.ofDays(1));
    assertThat(board.state().cost().today()).isZero();
    assertThat(board.state().cost().byPlan()).containsEntry("plan", 0.3);
    assertThat(meters.get("lanes.cost.usd").tag("plan", "plan").gauge().value()).isEqualTo(0.3);
  }

  private Board.TaskView task(String run, String task) {
    return board.state().runs().stream().filter(r -> r.run().equals(run)).flatMap(r -> r.tasks().stream())
        .filter(t -> t.task().equals(task)).findFirst().orElseThrow();
  }

  private static RunStarted started(String run) {
    AgentSpec agent = new AgentSpec(List.of("sh", "-c", "true"), 60_000);
    Plan plan = new Plan("plan", Optional.empty(), "lanes/x", List.of(
        new Plan.Task("core", "core", "p", List.of(Claim.parse("core/")), List.of(), List.of(), agent,
            Optional.empty()),
        new Plan.Task("docs", "Write the docs", "p", List.of(Claim.parse("docs/")), List.of("core"), List.of(), agent,
            Optional.empty())));
    return new RunStarted(run, "plan", "lanes/x", "0".repeat(40), List.of("core", "docs"), Optional.of(plan),
        Optional.of("2026-12-03T09:00:00Z"), Optional.empty());
  }

  private static TaskUpdate update(String run, String task, TaskState state, int epoch, String worker, String detail) {
    return new TaskUpdate(run, task, state, epoch, worker, detail, Optional.empty(), Optional.empty());
  }

  private static UsageRecorded usage(String run, String task, String usd) {
    return new UsageRecorded(run, "plan", task, 1, 1, "w1", "sonnet", new BigDecimal(usd), 10, 20, 3, false,
        "2026-12-03T09:00:00Z");
  }
}
