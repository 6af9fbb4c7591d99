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
}
