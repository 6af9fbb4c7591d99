package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class AgentUsageTest {
  private static AgentUsage usage(double cost, int turns, long in, long out, String model) {
    return new AgentUsage(cost, turns, "s-1", "success", false, Optional.of(in), Optional.of(out), Optional.of(model));
  }

  @Test
  void problem_noneForAnHonestReport() {
    assertThat(usage(0.35, 4, 12_000, 800, "claude-sonnet-4-5").problem()).isEmpty();
    assertThat(new AgentUsage(0, 0, "", AgentUsage.UNFINISHED, true).problem()).isEmpty();
  }

  @Test
  void problem_refusesACostThatIsNegativeNotANumberOrMoreThanAnAttemptCanSpend() {
    assertThat(usage(-0.01, 1, 1, 1, "m").problem()).contains(
        "usage.costUsd: -0.01 is not an amount of dollars from 0 to 1000 (what one attempt can cost)");
    assertThat(usage(Double.NaN, 1, 1, 1, "m").problem()).hasValueSatisfying(p -> assertThat(p).startsWith(
        "usage.costUsd: NaN "));
    assertThat(usage(Double.POSITIVE_INFINITY, 1, 1, 1, "m").problem()).hasValueSatisfying(p -> assertThat(p)
        .startsWith("usage.costUsd: Infinity "));
    assertThat(usage(1e9, 1, 1, 1, "m").problem()).hasValueSatisfying(p -> assertThat(p).startsWith(
        "usage.costUsd: 1.0E9 "));
  }

  @Test
  void problem_refusesImpossibleTurnsAndTokensAndUnprintableNames() {
    assertThat(usage(1, -1, 1, 1, "m").problem()).contains("usage.turns: -1 is not a number of turns from 0 to 1000000");
    assertThat(usage(1, 1, -5, 1, "m").problem()).contains(
        "usage.inputTokens: -5 is not a number of tokens from 0 to 10000000000");
    assertThat(usage(1, 1, 1, Long.MAX_VALUE, "m").problem()).hasValueSatisfying(p -> assertThat(p).startsWith(
        "usage.outputTokens: " + Long.MAX_VALUE));
    assertThat(usage(1, 1, 1, 1, "evil\u001b[2J").problem()).hasValueSatisfying(p -> assertThat(p)
        .startsWith("usage.model: \"evil?[2J\"").contains("printable"));
    assertThat(usage(1, 1, 1, 1, "m".repeat(201)).problem()).hasValueSatisfying(p -> assertThat(p)
        .contains("(201 characters)"));
  }

  @Test
  void decode_ofAResultFromAWorkerThatCountedNoTokens() {
    String json = "{\"costUsd\":0.5,\"turns\":2,\"sessionId\":\"s\",\"subtype\":\"success\",\"isError\":false}";
    AgentUsage usage = Json.mapper().convertValue(Json.mapper().valueToTree(
        new java.util.LinkedHashMap<>(java.util.Map.of("costUsd", 0.5, "turns", 2, "sessionId", "s", "subtype",
            "success", "isError", false))), AgentUsage.class);
    assertThat(usage).isEqualTo(new AgentUsage(0.5, 2, "s", "success", false));
    assertThat(json).doesNotContain("inputTokens");
  }
}
