package dev.lanes.coordinator.git;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lock file of a target within one process; {@code TargetRunsIT} takes it from two processes, as two
 * {@code lanes run} do.
 */
class TargetLockTest {
  private static final Instant SINCE = Instant.parse("2026-12-03T02:40:01Z");

  @TempDir Path git;

  @Test
  void acquire_refusesAnotherRunNamingTheHolder() {
    Instant precise = SINCE.plusNanos(448_620_809);
    try (TargetLock held = TargetLock.acquire(git, TargetLock.Holder.of("r1", "lanes/x", precise, "lanes run"))) {
      assertThatThrownBy(() -> TargetLock.acquire(git, TargetLock.Holder.of("r2", "lanes/x", SINCE, "lead l-1")))
          .isInstanceOf(TargetLock.Held.class)
          .hasMessageStartingWith("target: \"lanes/x\" is held by run r1 (lanes run, pid "
              + ProcessHandle.current().pid() + " on ")
          .as("the time to the second, as people read it").hasMessageContaining("since 2026-12-03T02:40:01Z;");
      assertThat(TargetLock.holder(git, "lanes/x")).map(TargetLock.Holder::run).contains("r1");
      assertThat(TargetLock.holders(git)).extracting(TargetLock.Holder::run).containsExactly("r1");
    }
    assertThat(TargetLock.holder(git, "lanes/x")).as("let go").isEmpty();
    TargetLock.acquire(git, TargetLock.Holder.of("r2", "lanes/x", SINCE, "lead l-1")).close();
  }

  @Test
  void acquire_joinsTheHoldOfTheSameRunUntilTheLastLetsGo() {
    TargetLock command = TargetLock.acquire(git, TargetLock.Holder.of("r1", "lanes/x", SINCE, "lanes run"));
    TargetLock lead = TargetLock.acquire(git, TargetLock.Holder.of("r1", "lanes/x", SINCE, "lead l-1"));

    lead.close();
    assertThat(TargetLock.holder(git, "lanes/x")).as("the command still holds it").isPresent();
    command.close();
    assertThat(TargetLock.holder(git, "lanes/x")).isEmpty();
  }

  @Test
  void targetsAreHeldApart() {
    try (TargetLock x = TargetLock.acquire(git, TargetLock.Holder.of("r1", "lanes/x", SINCE, "lanes run"));
        TargetLock y = TargetLock.acquire(git, TargetLock.Holder.of("r2", "lanes/x/y", SINCE, "lanes run"))) {
      assertThat(TargetLock.holders(git)).extracting(TargetLock.Holder::target)
          .containsExactlyInAnyOrder("lanes/x", "lanes/x/y");
    }
  }
}
