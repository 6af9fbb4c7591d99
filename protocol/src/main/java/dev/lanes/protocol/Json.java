package dev.lanes.protocol;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import java.io.IOException;

/** The one configured JSON codec for messages. Unknown fields are ignored so that fields can be added later. */
public final class Json {
  private static final ObjectMapper MAPPER =
      JsonMapper.builder()
          .addModule(new Jdk8Module())
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
          // A field that is not Optional is required: a message without it is invalid, never half-built with null.
          .enable(DeserializationFeature.FAIL_ON_NULL_CREATOR_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
          .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
          .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
          .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
          .build();

  /** Records larger than this are refused on the way in: no legitimate message comes near it. */
  public static final int MAX_MESSAGE_BYTES = 1 << 20;

  private Json() {}

  public static ObjectMapper mapper() {
    return MAPPER;
  }

  /**
   * The bytes of a message as it is published: its JSON with this process's secrets redacted ({@link Redactor}). Every
   * message that leaves a daemon is encoded here, so this is where redaction happens, before anything signs the bytes.
   */
  public static byte[] encode(Message message) {
    try {
      return Redactor.process().redactJson(MAPPER.writeValueAsBytes(message));
    } catch (JsonProcessingException e) {
      throw new ProtocolException("cannot encode " + message.getClass().getSimpleName() + ": " + e.getMessage(), e);
    }
  }

  /** Decodes one message; a ProtocolException says why bytes are not a valid message. */
  public static Message decode(byte[] bytes) {
    if (bytes == null || bytes.length == 0) {
      throw new ProtocolException("message: empty record");
    }
    if (bytes.length > MAX_MESSAGE_BYTES) {
      throw new ProtocolException(
          "message: " + bytes.length + " bytes is larger than the limit of " + MAX_MESSAGE_BYTES);
    }
    try (JsonParser parser = MAPPER.createParser(bytes)) {
      JsonToken first = parser.nextToken();
      if (first == JsonToken.VALUE_NULL) {
        throw new ProtocolException("message: JSON null is not a message");
      } else if (first != JsonToken.START_OBJECT) {
        throw new ProtocolException("message: expected a JSON object, got " + first);
      }
      return MAPPER.readValue(parser, Message.class);
    } catch (JsonProcessingException e) {
      throw new ProtocolException("message: not a valid Lanes message: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new ProtocolException("message: unreadable: " + e.getMessage(), e);
    }
  }
}
