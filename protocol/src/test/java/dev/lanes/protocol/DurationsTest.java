package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class DurationsTest {

  @ParameterizedTest
  @CsvSource({
    "500ms, 500",
    "0ms, 0",
    "8s, 8000",
    "90s, 90000",
    "30m, 1800000",
    "2h, 7200000",
    "999999999ms, 999999999",
  })
  void parse_eachUnit(String text, long millis) {
    assertThat(Durations.parse("agent.timeout", text)).isEqualTo(Duration.ofMillis(millis));
  }

  @Test
  void parse_ignoresSurroundingWhitespace() {
    assertThat(Durations.parse("agent.timeout", " 5s\n")).isEqualTo(Duration.ofSeconds(5));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "10", "1d", "-5s", "5 s", "5S", "1.5h", "s", "5sec", "1h30m", "PT5S", "1234567890s"})
  void parse_rejects(String text) {
    assertThatThrownBy(() -> Durations.parse("tasks[3].agent.timeout", text))
        .isInstanceOf(ProtocolException.class)
        .hasMessageStartingWith("tasks[3].agent.timeout: \"" + text + "\" is not a duration")
        .hasMessageContaining("500ms, 8s, 30m, 2h");
  }

  @Test
  void parse_null() {
    assertThatThrownBy(() -> Durations.parse("--lease", null))
        .isInstanceOf(ProtocolException.class)
        .hasMessageStartingWith("--lease: ");
  }

  @ParameterizedTest
  @CsvSource({
    "1, 1ms",
    "500, 500ms",
    "1500, 1500ms",
    "1000, 1s",
    "90000, 90s",
    "60000, 1m",
    "1800000, 30m",
    "5400000, 90m",
    "3600000, 1h",
    "7200000, 2h",
    "0, 0s",
  })
  void format_shortestExactForm(long millis, String text) {
    assertThat(Durations.format(Duration.ofMillis(millis))).isEqualTo(text);
  }

  @ParameterizedTest
  @ValueSource(strings = {"0ms", "1ms", "999ms", "1000ms", "61s", "60s", "59m", "60m", "3h", "86400s"})
  void format_parsesBackToTheSameDuration(String text) {
    Duration d = Durations.parse("f", text);
    assertThat(Durations.parse("f", Durations.format(d))).isEqualTo(d);
  }
}
