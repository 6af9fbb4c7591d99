package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JsonTest {
  private static final ClaimRequested CLAIM = new ClaimRequested("r-7f3a91", "core", 1, "w-build-02");

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static ObjectNode claimJson() throws IOException {
    return (ObjectNode) Json.mapper().readTree(Json.encode(CLAIM));
  }

  private static byte[] bytes(ObjectNode node) throws IOException {
    return Json.mapper().writeValueAsBytes(node);
  }

  @Test
  void decode_emptyBytes() {
    assertThatThrownBy(() -> Json.decode(new byte[0]))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("empty");
  }

  @Test
  void decode_null() {
    assertThatThrownBy(() -> Json.decode(null))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("empty");
  }

  @Test
  void decode_whitespaceOnly() {
    assertThatThrownBy(() -> Json.decode(utf8("  \n")))
        .isInstanceOf(ProtocolException.class)
        .hasMessageStartingWith("message: ");
  }

  @ParameterizedTest
  @ValueSource(strings = {"{", "{\"type\": \"claim-requested\",", "not json", "{\"type\": claim-requested}"})
  void decode_malformedJson(String text) {
    assertThatThrownBy(() -> Json.decode(utf8(text)))
        .isInstanceOf(ProtocolException.class)
        .hasMessageStartingWith("message: not a valid Lanes message");
  }

  /** A record holds one message; text after it means the producer wrote something else than it meant to. */
  @Test
  void decode_trailingGarbageAfterTheMessage() {
    byte[] valid = Json.encode(CLAIM);
    byte[] withTrailer = utf8(new String(valid, StandardCharsets.UTF_8) + " {\"type\": \"heartbeat\"}");
    assertThatThrownBy(() -> Json.decode(withTrailer))
        .isInstanceOf(ProtocolException.class)
        .hasMessageStartingWith("message: ");
  }

  @Test
  void decode_unknownType() {
    assertThatThrownBy(() -> Json.decode(utf8("{\"type\": \"task-exploded\", \"run\": \"r\"}")))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("task-exploded")
        .hasMessageContaining("claim-requested"); // the known type ids are listed
  }

  @Test
  void decode_missingType() throws IOException {
    ObjectNode json = claimJson();
    json.remove("type");
    assertThatThrownBy(() -> Json.decode(bytes(json)))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("missing type id property 'type'");
  }

  @ParameterizedTest
  @ValueSource(strings = {"[]", "[1, 2]", "[{\"type\": \"claim-requested\"}]"})
  void decode_jsonArray(String text) {
    assertThatThrownBy(() -> Json.decode(utf8(text))).isInstanceOf(ProtocolException.class);
  }

  /**
   * Jackson also accepts a type id wrapped in an array ({@code ["claim-requested", {...}]}) unless the codec looks
   * at the first token itself; a message is always a JSON object.
   */
  @Test
  void decode_typeWrappedInAnArray() throws IOException {
    ObjectNode body = claimJson();
    body.remove("type");
    String text = "[\"claim-requested\", " + Json.mapper().writeValueAsString(body) + "]";
    assertThatThrownBy(() -> Json.decode(utf8(text)))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("object");
  }

  @ParameterizedTest
  @ValueSource(strings = {"\"claim-requested\"", "42", "true"})
  void decode_jsonScalar(String text) {
    assertThatThrownBy(() -> Json.decode(utf8(text))).isInstanceOf(ProtocolException.class);
  }

  @Test
  void decode_jsonNull() {
    assertThatThrownBy(() -> Json.decode(utf8("null")))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("JSON null is not a message");
  }

  @Test
  void decode_oversizedRecord() throws IOException {
    // A well-formed message, so that only its size can be the reason it is refused.
    ObjectNode json = (ObjectNode) Json.mapper().readTree(MessageGoldenTest.golden("heartbeat"));
    json.put("detail", "x".repeat(Json.MAX_MESSAGE_BYTES));
    byte[] bytes = bytes(json);
    assertThat(bytes.length).isGreaterThan(Json.MAX_MESSAGE_BYTES);

    assertThatThrownBy(() -> Json.decode(bytes))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining(String.valueOf(bytes.length))
        .hasMessageContaining("larger than the limit of " + Json.MAX_MESSAGE_BYTES);
  }

  @Test
  void decode_recordOfExactlyTheLimitIsAccepted() throws IOException {
    ObjectNode json = (ObjectNode) Json.mapper().readTree(MessageGoldenTest.golden("heartbeat"));
    json.put("detail", "");
    int padding = Json.MAX_MESSAGE_BYTES - bytes(json).length;
    json.put("detail", "x".repeat(padding));
    byte[] bytes = bytes(json);
    assertThat(bytes).hasSize(Json.MAX_MESSAGE_BYTES);

    assertThat(((Heartbeat) Json.decode(bytes)).detail()).hasSize(padding);
  }

  @Test
  void decode_ignoresUnknownFields() throws IOException {
    ObjectNode json = claimJson();
    json.put("priority", 5);
    json.putObject("added-later").put("nested", true).putArray("list").add("a");
    json.putNull("alsoNew");

    assertThat(Json.decode(bytes(json))).isEqualTo(CLAIM);
  }

  @Test
  void decode_missingOptionalFieldIsEmpty() throws IOException {
    ObjectNode json = (ObjectNode) Json.mapper().readTree(MessageGoldenTest.golden("task-result"));
    json.remove("error");
    json.remove("commit");

    TaskResult result = (TaskResult) Json.decode(bytes(json));
    assertThat(result.error()).isEmpty();
    assertThat(result.commit()).isEmpty();
  }

  @Test
  void decode_taskOfferedFromAnOlderLeadWithoutPreferred() throws IOException {
    ObjectNode json = (ObjectNode) Json.mapper().readTree(MessageGoldenTest.golden("task-offered"));
    json.remove("preferred");
    TaskOffered offer = (TaskOffered) Json.decode(bytes(json));
    assertThat(offer.preferred()).isEmpty();
    assertThat(offer.task()).isEqualTo("core");
  }

  @Test
  void decode_missingPrimitiveField() throws IOException {
    ObjectNode json = claimJson();
    json.remove("epoch");
    assertThatThrownBy(() -> Json.decode(bytes(json)))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("int");
  }

  @Test
  void decode_missingListField() throws IOException {
    ObjectNode json = (ObjectNode) Json.mapper().readTree(MessageGoldenTest.golden("worker-status"));
    json.remove("capabilities");
    assertThatThrownBy(() -> Json.decode(bytes(json)))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("capabilities");
  }

  @Test
  void decode_missingRequiredString() throws IOException {
    ObjectNode json = claimJson();
    json.remove("worker");
    assertThatThrownBy(() -> Json.decode(bytes(json)))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("worker");
  }

  @Test
  void decode_unknownEnumValue() throws IOException {
    ObjectNode json = (ObjectNode) Json.mapper().readTree(MessageGoldenTest.golden("task-result"));
    json.put("outcome", "EXPLODED");
    assertThatThrownBy(() -> Json.decode(bytes(json)))
        .isInstanceOf(ProtocolException.class)
        .hasMessageContaining("EXPLODED");
  }

  @Test
  void encode_writesTheTypeName() throws IOException {
    assertThat(Json.mapper().readTree(Json.encode(CLAIM)).path("type").asText()).isEqualTo("claim-requested");
  }

  @Test
  void encode_emptyOptionalIsNull() throws IOException {
    TaskResult result = (TaskResult) Json.decode(MessageGoldenTest.golden("task-result"));
    assertThat(result.error()).isEmpty();
    assertThat(Json.mapper().readTree(Json.encode(result)).get("error").isNull()).isTrue();
  }
}
