package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.util.Optional;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class UsdTest {
  @Test
  void of_keepsTheDecimalAReportWasWrittenIn() {
    assertThat(Usd.of(0.1).add(Usd.of(0.2))).isEqualTo(Usd.of(0.3));
    assertThat(IntStream.range(0, 1000).mapToObj(i -> Usd.of(0.0123)).reduce(Usd.ZERO, BigDecimal::add))
        .isEqualByComparingTo("12.3");
  }

  @ParameterizedTest
  @CsvSource({"1.2,$1.20", "0.0123,$0.0123", "5,$5.00", "0.000001,$0.000001", "1000000,$1000000.00"})
  void format_showsCentsAndEveryDigitThatIsNotZero(String usd, String shown) {
    assertThat(Usd.format(Usd.exact(new BigDecimal(usd)))).isEqualTo(shown);
  }

  @ParameterizedTest
  @CsvSource({"0", "-1", "1000000.01", "0.0000001", "1E+400"})
  void budgetProblem_namesTheFieldTheValueAndTheRule(String usd) {
    assertThat(Usd.budgetProblem("usd", new BigDecimal(usd))).hasValueSatisfying(p -> assertThat(p)
        .startsWith("usd: " + new BigDecimal(usd).toPlainString() + " is not a budget").contains("at most 1000000"));
  }

  @Test
  void budgetProblem_noneForAnAmountToTheMillionth() {
    assertThat(Usd.budgetProblem("usd", new BigDecimal("2.500001"))).isEqualTo(Optional.empty());
  }

  @Test
  void exact_refusesAnExponentThatWouldTakeTheProcess() {
    assertThatThrownBy(() -> Usd.exact(new BigDecimal("1E-999999999"))).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("exponent");
  }

  @Test
  void decode_ofARecordWithAnAbsurdExponentIsRefusedNotComputed() {
    String json = "{\"type\":\"budget-requested\",\"request\":\"b-1\",\"run\":\"r\",\"usd\":1e-999999999,"
        + "\"requester\":\"x\"}";
    BudgetRequested plain = (BudgetRequested) Json.decode(json.replace("1e-999999999", "2.5").getBytes());
    assertThat(plain.usd()).isEqualByComparingTo("2.5");
    String budget = "{\"type\":\"run-budget\",\"run\":\"r\",\"budgetUsd\":1e-999999999,\"spentUsd\":0,"
        + "\"paused\":null,\"detail\":\"\",\"by\":\"lead\",\"at\":\"2026-12-03T09:00:00Z\"}";
    assertThatThrownBy(() -> Json.decode(budget.getBytes())).isInstanceOf(ProtocolException.class);
  }
}
