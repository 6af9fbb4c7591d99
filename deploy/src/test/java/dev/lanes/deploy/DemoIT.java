package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/** {@code lanes demo} on the embedded broker, as a new user runs it. */
class DemoIT {
  @Test
  void demoLandsEveryTaskAndTheResultPassesItsCheck() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), "demo");

    assertThat(exit).as(out + "\n" + err).isEqualTo(0);
    assertThat(out.toString())
        .contains("4 of 4 tasks landed on lanes/demo")
        .contains("check passed: core api web docs")
        .containsPattern("docs +offered");
  }
}
