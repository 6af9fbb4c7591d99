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
}
