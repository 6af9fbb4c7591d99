package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The sealed interface, Jackson's subtype list and the topic routing must all know every message type. */
class MessageTypesTest {

  private static List<JsonSubTypes.Type> jacksonSubtypes() {
    return List.of(Message.class.getAnnotation(JsonSubTypes.class).value());
  }

  static Stream<Class<?>> permitted() {
    return Arrays.stream(Message.class.getPermittedSubclasses());
  }

  @Test
  void sealedPermitsAndJacksonSubtypesListTheSameClasses() {
    assertThat(jacksonSubtypes())
        .extracting(JsonSubTypes.Type::value)
        .doesNotHaveDuplicates()
        .containsExactlyInAnyOrder(Message.class.getPermittedSubclasses());
  }

  @Test
  void jacksonTypeNamesAreUniqueAndWellFormed() {
    assertThat(jacksonSubtypes())
        .extracting(JsonSubTypes.Type::name)
        .doesNotHaveDuplicates()
        .allSatisfy(name -> assertThat(name).matches("[a-z]+(-[a-z]+)*"));
  }

  @Test
  void everyMessageIsARecord() {
    assertThat(permitted()).allSatisfy(type -> assertThat(type.isRecord()).as(type.getName()).isTrue());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("permitted")
  void topicsOf_routesEveryMessageType(Class<?> type) {
    Message message = Json.decode(MessageGoldenTest.golden(MessageGoldenTest.typeNames().get(type)));
    assertThat(message).isInstanceOf(type);

    assertThatCode(() -> Topics.of(message)).doesNotThrowAnyException();
    assertThat(Topics.of(message)).isIn(Topics.all());
  }

  @Test
  void topicsOf_sendsEachSideItsOwnTraffic() {
    // Workers read WORK and the lead reads REPORTS: a message on the wrong one is never seen by its reader.
    assertThat(Topics.of(MessageGoldenTest.samples().get("task-offered"))).isEqualTo(Topics.WORK);
    assertThat(Topics.of(MessageGoldenTest.samples().get("claim-granted"))).isEqualTo(Topics.WORK);
    assertThat(Topics.of(MessageGoldenTest.samples().get("claim-requested"))).isEqualTo(Topics.REPORTS);
    assertThat(Topics.of(MessageGoldenTest.samples().get("task-result"))).isEqualTo(Topics.REPORTS);
    assertThat(Topics.of(MessageGoldenTest.samples().get("run-finished"))).isEqualTo(Topics.EVENTS);
  }

  @Test
  void topicsAll_listsFourDistinctTopics() {
    assertThat(Topics.all()).containsExactly(Topics.WORK, Topics.REPORTS, Topics.EVENTS, Topics.DEAD).doesNotHaveDuplicates();
  }
}
