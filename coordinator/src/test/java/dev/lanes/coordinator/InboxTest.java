package dev.lanes.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.protocol.RunBudget;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.testkit.MovableClock;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The inbox's rules, fed the decisions a lead records: which item each opens, each once, and what settles it. */
class InboxTest {
  private final MovableClock clock = new MovableClock(Instant.parse("2026-12-03T06:00:00Z"));
  private final Inbox inbox = new Inbox(clock, Duration.ofMinutes(10));
  private final List<Inbox.Change> told = new ArrayList<>();

  @BeforeEach
  void listen() {
    inbox.listen(told::add);
  }

  @Test
  void recorded_eachParkedKindOpensItsItem() {
    inbox.recorded(update("a", TaskState.PARKED, 1, Run.ASKS + "Long or UUID?", ""));
    inbox.recorded(update("b", TaskState.PARKED, 3, Run.SENT_BACK + "2 times; last: evicted from the merge queue:"
        + " verify failed on the merged tree: exit 1; it conflicts with the landing of a", "FAILED test Foo"));
    inbox.recorded(update("c", TaskState.PARKED, 2, "agent exited with 1; no attempt left: 2 of 2 used", ""));
    inbox.recorded(update("d", TaskState.FAILED, 1, "ownership violation found by the lead in commit 1234 from w1"
        + " (not retried): x.txt (added; outside the task's claims)", ""));
    inbox.recorded(update("e", TaskState.FAILED, 1, "agent exited with 1", ""));

    assertThat(inbox.items()).extracting(Inbox.Item::kind, i -> i.task().orElseThrow(), Inbox.Item::id)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("question", "a", "question:r/a/1"),
            org.assertj.core.groups.Tuple.tuple("parked", "b", "parked:r/b/3"),
            org.assertj.core.groups.Tuple.tuple("needs-human", "c", "needs-human:r/c/2"),
            org.assertj.core.groups.Tuple.tuple("violation", "d", "violation:r/d/1"));
    assertThat(inbox.items().get(0).detail()).isEqualTo("Long or UUID?");
    assertThat(inbox.items().get(1).detail()).contains("it conflicts with the landing of a").endsWith("FAILED test Foo");
    assertThat(inbox.items().get(3).actions()).doesNotContain("approve");
    assertThat(inbox.holds("r")).isTrue();
  }

  @Test
  void recorded_theSameDecisionTwiceIsOneItem_andANewStateSettlesIt() {
    TaskUpdate parked = update("a", TaskState.PARKED, 1, Run.ASKS + "Long or UUID?", "");
    inbox.recorded(parked);
    inbox.recorded(parked);
    inbox.recorded(update("a", TaskState.PARKED, 1, Run.REJECTED + "1 from w1: not the current attempt", ""));
    assertThat(told).hasSize(1);

    inbox.recorded(update("a", TaskState.OFFERED, 2, "answered by http (attempt 2)", ""));

    assertThat(inbox.items()).isEmpty();
    assertThat(told).extracting(Inbox.Change::added).containsExactly(true, false);
    assertThat(inbox.holds("r")).isFalse();
  }

  @Test
  void stuck_isSettledByProgressOrByTheAttemptEnding_andAReplayTellsNobody() {
    inbox.stuck("r", "a", 1, "w1", Duration.ofMinutes(10), "agent: Bash: sleep 3600");
    inbox.recorded(update("a", TaskState.RUNNING, 1, "agent: Bash: sleep 3600", ""));
    assertThat(inbox.items()).singleElement().satisfies(i -> {
      assertThat(i.title()).isEqualTo("The agent of a on w1 made no progress for 10m");
      assertThat(i.detail()).isEqualTo("last heard: agent: Bash: sleep 3600");
    });
    inbox.recorded(update("a", TaskState.OFFERED, 2, "attempt 2 of 3 after: the lease of w1 ran out", ""));
    assertThat(inbox.items()).isEmpty();

    inbox.replaying(true);
    inbox.recorded(update("b", TaskState.PARKED, 1, Run.ASKS + "?", ""));
    inbox.replaying(false);
    assertThat(inbox.items()).hasSize(1);
    assertThat(told).as("what a replay brings back was told when it happened").hasSize(2);
  }

  @Test
  void budget_eachPauseIsAnItem_settledWhenTheRunGoesOn_andARunsEndSettlesAll() {
    inbox.recorded(budget(Optional.of(RunBudget.BUDGET), "2026-12-03T06:00:00Z"));
    inbox.recorded(budget(Optional.of(RunBudget.BUDGET), "2026-12-03T06:00:01Z"));
    assertThat(inbox.items()).singleElement().satisfies(i -> {
      assertThat(i.kind()).isEqualTo("budget");
      assertThat(i.actions()).containsExactly("raise-budget", "cancel-run");
    });
    inbox.recorded(budget(Optional.empty(), "2026-12-03T06:01:00Z"));
    assertThat(inbox.items()).isEmpty();
    inbox.recorded(budget(Optional.of(RunBudget.BUDGET), "2026-12-03T06:02:00Z"));
    inbox.recorded(update("a", TaskState.PARKED, 1, Run.ASKS + "?", ""));

    inbox.recorded(new RunFinished("r", "lanes/t", List.of(), List.of("a")));

    assertThat(inbox.items()).isEmpty();
    assertThat(told.stream().filter(Inbox.Change::added).map(c -> c.item().id())).as("a second pause is new")
        .containsExactly("budget:r@2026-12-03T06:00:00Z", "budget:r@2026-12-03T06:02:00Z", "question:r/a/1");
  }

  @Test
  void workerLost_isOneItemUntilTheWorkerIsHeardFrom() {
    inbox.workerLost("w1", "the lease of w1 ran out (no heartbeat for 120s) while it ran attempt 1 of r/a");
    inbox.workerLost("w1", "the lease of w1 ran out (no heartbeat for 120s) while it ran attempt 1 of r/b");
    assertThat(inbox.items()).singleElement().satisfies(i -> {
      assertThat(i.kind()).isEqualTo("worker-lost");
      assertThat(i.run()).isEmpty();
      assertThat(i.view()).containsEntry("run", null);
    });

    inbox.workerBack("w1");

    assertThat(inbox.items()).isEmpty();
    assertThat(told).extracting(Inbox.Change::added).containsExactly(true, false);
  }

  @Test
  void dismiss_clearsALostWorkerOrAStuckAgent_butNotAnItemOnlyAnActionSettles() {
    inbox.workerLost("w1", "the lease of w1 ran out");
    inbox.stuck("r", "a", 1, "w2", Duration.ofMinutes(10), "");
    inbox.recorded(update("b", TaskState.PARKED, 1, Run.ASKS + "Long or UUID?", ""));

    assertThat(inbox.dismiss("worker-lost:w1").kind()).isEqualTo("worker-lost");
    assertThat(inbox.dismiss("stuck:r/a/1").kind()).isEqualTo("stuck");
    assertThatThrownBy(() -> inbox.dismiss("question:r/b/1")).isInstanceOfSatisfying(Action.Refused.class, e -> {
      assertThat(e.why()).isEqualTo(Action.Refused.Why.CONFLICT);
      assertThat(e.getMessage()).isEqualTo("id: \"question:r/b/1\" is a question item, which leaves when it is"
          + " settled (answer, retry, cancel-task), not dismissed");
    });
    assertThatThrownBy(() -> inbox.dismiss("worker-lost:w1")).isInstanceOfSatisfying(Action.Refused.class,
        e -> assertThat(e.why()).isEqualTo(Action.Refused.Why.NOT_FOUND));

    assertThat(inbox.items()).extracting(Inbox.Item::id).containsExactly("question:r/b/1");
    assertThat(told).extracting(Inbox.Change::added).containsExactly(true, true, true, false, false);
  }

  @Test
  void workerLost_keepsOnlyTheNewestItems_soAFleetOfShortLivedWorkersCannotGrowTheInbox() {
    for (int i = 0; i < Inbox.WORKER_LOST_KEPT + 5; i++) {
      inbox.workerLost("w" + i, "the lease ran out");
    }
    assertThat(inbox.items()).hasSize(Inbox.WORKER_LOST_KEPT);
    assertThat(inbox.items().get(0).id()).isEqualTo("worker-lost:w5");
    assertThat(inbox.items().get(Inbox.WORKER_LOST_KEPT - 1).id()).isEqualTo("worker-lost:w" + (Inbox.WORKER_LOST_KEPT
        + 4));
  }

  @Test
  void reading_keepsTheItemsOfFinishedRuns() {
    Inbox reader = Inbox.reading(clock);
    reader.recorded(update("a", TaskState.PARKED, 1, Run.ASKS + "?", ""));
    reader.recorded(new RunFinished("r", "lanes/t", List.of(), List.of("a")));

    assertThat(reader.items()).hasSize(1);
    assertThat(reader.items().get(0).view()).containsEntry("run", "r").containsEntry("at", "2026-12-03T06:00:00Z");
  }

  private static TaskUpdate update(String task, TaskState state, int epoch, String detail, String context) {
    return new TaskUpdate("r", task, state, epoch, "w1", detail, Optional.empty(), Optional.empty(),
        context.isEmpty() ? Optional.empty() : Optional.of(context), Optional.empty());
  }

  private static RunBudget budget(Optional<String> paused, String at) {
    return new RunBudget("r", Optional.of(new BigDecimal("1.00")), new BigDecimal("1.20"), paused,
        paused.isPresent() ? "spent $1.20 of $1.00" : "raised to $5.00", "lead", Optional.empty(), at);
  }
}
