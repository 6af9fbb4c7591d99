package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** What {@code lanes bench dispatch} refuses before it starts a broker. */
class DispatchBenchTest {
  @Test
  void moreTasksThanOneRunCanRecordAreRefusedUpFront_namingTheMostThatFits() {
    StringWriter err = new StringWriter();

    int code = Main.execute(new PrintWriter(new StringWriter()), new PrintWriter(err), "bench", "dispatch", "--tasks",
        "30000");

    assertThat(code).isEqualTo(2);
    Matcher most = Pattern.compile("--tasks: 30000 no-op tasks are more than one run can record \\(its plan is recorded"
        + " whole, in one record\\); at most (\\d+)").matcher(err.toString());
    assertThat(most.find()).as(err.toString()).isTrue();
    int fits = Integer.parseInt(most.group(1));
    // The most named is exact: it fits, one more does not.
    DispatchBench.checkFits(fits, 50);
    assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> DispatchBench.checkFits(fits + 1, 50)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theMachinesShareSaysHowBusyItWasAndHowMuchItsHostStole() {
    // Ticks busy, idle, stolen: 600 of 1,000 busy, 100 stolen.
    assertThat(DispatchBench.machineShare(new long[] {1000, 5000, 200}, new long[] {1600, 5300, 300}))
        .isEqualTo("; the machine: 60% busy, 10% stolen by its host");
    assertThat(DispatchBench.machineShare(new long[0], new long[] {1, 2, 3})).isEmpty();
    assertThat(DispatchBench.machineShare(new long[] {1, 2, 3}, new long[] {1, 2, 3})).isEmpty();
    // On Linux, as here, the readings exist and only grow.
    long[] first = DispatchBench.machineTicks();
    assertThat(first).hasSize(3);
    assertThat(DispatchBench.machineTicks()[0]).isGreaterThanOrEqualTo(first[0]);
  }

  @Test
  void theJitHasSettledOnlyAfterThreePlansInARowEachCompilingForUnderATwentiethOfItsTime() {
    long[] compiledMs = {1_000};
    long[] nanos = {0};
    StringWriter said = new StringWriter();
    PrintWriter out = new PrintWriter(said, true);
    DispatchBench.JitMeter jit = new DispatchBench.JitMeter(() -> compiledMs[0], () -> nanos[0]);
    // Plans of one second: 900, 40, 40 ms compiled (one plan busy breaks the row), then 40, 40, 49.
    int tasks = 0;
    for (long ms : new long[] {900, 40, 40, 900, 40, 40}) {
      compiledMs[0] += ms;
      nanos[0] += 1_000_000_000L;
      jit.planDone(tasks += 2000, out);
      assertThat(jit.settled()).as("after %d ms", ms).isFalse();
    }
    compiledMs[0] += 49;
    nanos[0] += 1_000_000_000L;
    jit.planDone(tasks += 2000, out);
    assertThat(jit.settled()).isTrue();
    assertThat(jit).hasToString("the JIT compiled for 2.0 s of it, 5% of the last plan's time: settled");
    // Every 15 s it says how far it is; past three minutes it is out of time and says it never settled.
    assertThat(said.toString()).isEmpty();
    compiledMs[0] += 100_000;
    nanos[0] += 170_000_000_000L;
    jit.planDone(tasks += 2000, out);
    assertThat(said.toString()).isEqualTo("  warming up: 16000 tasks in 177 s so far, the JIT compiling for 59% of the"
        + " last plan's time\n");
    assertThat(jit.settled()).isFalse();
    assertThat(jit.outOfTime()).isFalse();
    nanos[0] += 4_000_000_000L;
    assertThat(jit.outOfTime()).isTrue();
    assertThat(jit.toString()).endsWith(", 59% of the last plan's time: NOT settled within 3m");
    // A JVM that does not say how long its JIT compiles: nothing to wait for but the plans in a row.
    DispatchBench.JitMeter silent = new DispatchBench.JitMeter(() -> -1, () -> 0);
    for (int plan = 1; plan <= 3; plan++) {
      assertThat(silent.settled()).isFalse();
      silent.planDone(2000 * plan, out);
    }
    assertThat(silent.settled()).isTrue();
    assertThat(silent).hasToString("this JVM does not say how long its JIT compiles");
  }
}
