package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TaskRefTest {
  private static final String RUN = "r-1";

  /** Task ids that spell the other records' namespaces: each task keeps a key of its own on the compacted log. */
  @Test
  void key_noTaskIdTakesTheKeyOfAnotherEventRecord() {
    Plan plan = new Plan("p", Optional.empty(), "lanes/p", List.of());
    List<String> keys = new ArrayList<>(List.of(
        new RunStarted(RUN, "p", "lanes/p", "c0ffee", List.of(), Optional.empty()).key(),
        new PlanRevised(RUN, plan, "why").key(),
        new PlanRejected(RUN, "p", List.of("no")).key()));
    for (String task : List.of("plan", "rejected", "task", "run", "r-1", "core")) {
      keys.add(new TaskUpdate(RUN, task, TaskState.OFFERED, 1, "", "", Optional.empty(), Optional.empty()).key());
    }
    Set<String> distinct = new HashSet<>(keys);

    assertThat(distinct).hasSameSizeAs(keys);
    assertThat(new RunFinished(RUN, "lanes/p", List.of(), List.of()).key())
        .as("a run's end replaces its start").isEqualTo(keys.get(0));
    assertThat(keys).allSatisfy(k -> assertThat(k).satisfiesAnyOf(
        key -> assertThat(key).isEqualTo(RUN), key -> assertThat(key).startsWith(RUN + "/")));
  }
}
