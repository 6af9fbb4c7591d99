package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** What is taken out of text, JSON and streams, and what is left alone. */
class RedactorTest {
  private static final String KEY = "sk-ant-api03-canary-1b9d6bcd";
  private static final String TOKEN = "ghp_canaryToken0123456789";
  private static final Redactor REDACTOR = Redactor.of(Map.of("ANTHROPIC_API_KEY", KEY, "MY_SERVICE_TOKEN", TOKEN,
      "PATH", "/usr/local/bin:/usr/bin", "HOME", "/home/someone"));

  @Test
  void secretValueIsReplacedByItsName() {
    assertThat(REDACTOR.redact("key=" + KEY + " and again " + KEY + "."))
        .isEqualTo("key=[redacted:ANTHROPIC_API_KEY] and again [redacted:ANTHROPIC_API_KEY].");
  }

  @Test
  void everyOccurrenceOfManySecretsIsFoundWhereverItStands() {
    java.util.Map<String, String> many = new java.util.TreeMap<>();
    for (int i = 0; i < 40; i++) {
      many.put("KEY_" + i, "secret-" + i + "-" + Integer.toHexString(i * 7919 + 1000));
    }
    Redactor redactor = Redactor.of(many);
    String first = many.get("KEY_0");
    String last = many.get("KEY_39");
    // At the very start, back to back, alone, and at the very end; a text too short to hold any.
    assertThat(redactor.redact(first + many.get("KEY_17") + " x " + last))
        .isEqualTo("[redacted:KEY_0][redacted:KEY_17] x [redacted:KEY_39]");
    assertThat(redactor.redact(last)).isEqualTo("[redacted:KEY_39]");
    assertThat(redactor.redact("ab")).isEqualTo("ab");
    assertThat(redactor.redact(first.substring(0, first.length() - 1))).isEqualTo(first.substring(0,
        first.length() - 1));
  }

  @ParameterizedTest
  @ValueSource(strings = {"db_password", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "Credentials_File", "monkey"})
  void namesWithASecretWordAreSecrets(String name) {
    assertThat(Redactor.isSecret(name, "long enough value")).isTrue();
  }

  @Test
  void otherNamesAreNotSecretsAndTheirValuesStay() {
    assertThat(Redactor.isSecret("PATH", "/usr/local/bin:/usr/bin")).isFalse();
    assertThat(REDACTOR.redact("PATH=/usr/local/bin:/usr/bin HOME=/home/someone"))
        .isEqualTo("PATH=/usr/local/bin:/usr/bin HOME=/home/someone");
  }

  @Test
  void aNameAloneIsNotRedactedAndTheMarkerHoldsNothingOfTheValue() {
    String env = "MY_SERVICE_TOKEN=" + TOKEN;

    String out = REDACTOR.redact(env);

    assertThat(out).isEqualTo("MY_SERVICE_TOKEN=[redacted:MY_SERVICE_TOKEN]");
    for (int i = 0; i + 4 <= TOKEN.length(); i++) {
      assertThat(out).as("no 4 characters of the value").doesNotContain(TOKEN.substring(i, i + 4));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "1", "true", "short12"})
  void valuesTooShortToBeSecretsAreLeftAlone(String value) {
    Redactor r = Redactor.of(Map.of("API_KEY", value));

    assertThat(r.isEmpty()).isTrue();
    assertThat(r.redact("port 1 is true and short12")).isEqualTo("port 1 is true and short12");
  }

  @Test
  void valueOfExactlyTheMinimumLengthIsASecret() {
    assertThat(Redactor.of(Map.of("API_KEY", "12345678")).redact("a12345678b")).isEqualTo("a[redacted:API_KEY]b");
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2, 3, 4, 5})
  void base64OfTheSecretIsFoundAtEachAlignment(int prefix) {
    String text = "x".repeat(prefix) + "export KEY=" + KEY + "\n";
    String standard = Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
    String urlSafe = Base64.getUrlEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));

    for (String encoded : List.of(standard, urlSafe)) {
      String out = REDACTOR.redact("encoded: " + encoded);

      assertThat(out).contains("[redacted:ANTHROPIC_API_KEY]");
      assertThat(decodable(out, KEY)).as("what is left does not decode to the key: " + out).isFalse();
    }
  }

  @Test
  void base64OfTheSecretAloneIsFound() {
    String encoded = Base64.getEncoder().encodeToString(TOKEN.getBytes(StandardCharsets.UTF_8));

    assertThat(REDACTOR.redact(encoded)).startsWith("[redacted:MY_SERVICE_TOKEN]").hasSizeLessThan(32);
  }

  @Test
  void overlappingSecretsAreBothRedactedWhole() {
    Redactor r = Redactor.of(Map.of("A_KEY", "abcdefgh1234", "B_KEY", "1234ijklmnop"));

    assertThat(r.redact("<abcdefgh1234ijklmnop>")).isEqualTo("<[redacted:A_KEY][redacted:B_KEY]>");
    assertThat(r.redact("<1234ijklmnop abcdefgh1234>")).isEqualTo("<[redacted:B_KEY] [redacted:A_KEY]>");
  }

  @Test
  void aSecretInsideAnotherIsCoveredByTheLongerOne() {
    Redactor r = Redactor.of(Map.of("OUTER_TOKEN", "prefix-inner-secret-suffix", "INNER_TOKEN", "inner-secret"));

    assertThat(r.redact("[prefix-inner-secret-suffix] (inner-secret)"))
        .isEqualTo("[[redacted:OUTER_TOKEN]] ([redacted:INNER_TOKEN])");
  }

  @Test
  void aSecretRepeatingItselfIsOneStretch() {
    Redactor r = Redactor.of(Map.of("PIN_PASSWORD", "aaaaaaaa"));

    assertThat(r.redact("xaaaaaaaaaaay")).isEqualTo("x[redacted:PIN_PASSWORD]y");
  }

  @Test
  void twoNamesForOneValueAlwaysGiveTheSameName() {
    Redactor r = Redactor.of(Map.of("Z_TOKEN", "same-value-123", "A_TOKEN", "same-value-123"));

    assertThat(r.redact("same-value-123")).isEqualTo("[redacted:A_TOKEN]");
  }

  @Test
  void nonAsciiSecretsAreFoundAndTheRestOfTheTextKept() {
    Redactor r = Redactor.of(Map.of("DB_PASSWORD", "pässwörd-ünïcode"));

    assertThat(r.redact("été pässwörd-ünïcode ✓")).isEqualTo("été [redacted:DB_PASSWORD] ✓");
  }

  @Test
  void jsonKeepsItsShapeAndLosesTheSecretInEveryForm() throws IOException {
    String quoted = "say \"" + KEY + "\"\nnow";
    String value = "he said: " + TOKEN + " / " + Base64.getEncoder().encodeToString(("k=" + KEY).getBytes(
        StandardCharsets.UTF_8));
    Finding finding = new Finding("r", "t", 1, "w", "note", quoted + " | " + value, List.of(KEY));

    byte[] json = Json.mapper().writeValueAsBytes(finding);
    byte[] out = REDACTOR.redactJson(json);

    String text = new String(out, StandardCharsets.UTF_8);
    assertThat(text).doesNotContain(KEY).doesNotContain(TOKEN).contains("[redacted:ANTHROPIC_API_KEY]")
        .contains("[redacted:MY_SERVICE_TOKEN]");
    Finding back = (Finding) Json.decode(out);
    assertThat(back.paths()).containsExactly("[redacted:ANTHROPIC_API_KEY]");
    assertThat(back.text()).startsWith("say \"[redacted:ANTHROPIC_API_KEY]\"\nnow | he said: ");
  }

  @Test
  void jsonEscapedFormOfASecretIsFound() {
    Redactor r = Redactor.of(Map.of("ODD_SECRET", "quote\"and\\back\nslash"));
    String json = "{\"v\":\"x quote\\\"and\\\\back\\nslash y\"}";

    assertThat(new String(r.redactJson(json.getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8))
        .isEqualTo("{\"v\":\"x [redacted:ODD_SECRET] y\"}");
    assertThat(r.redact("log: " + json)).isEqualTo("log: {\"v\":\"x [redacted:ODD_SECRET] y\"}");
  }

  @Test
  void jsonNamesNumbersAndEscapesAreNotBroken() {
    Redactor r = Redactor.of(Map.of("NUM_TOKEN", "1764000000", "FIELD_KEY", "durationMs", "N_KEY", "nsecret-value"));
    String json = "{\"durationMs\":17640000001,\"text\":\"a\\\\nsecret-value and \\nsecret-value\"}";

    String out = new String(r.redactJson(json.getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8);

    // the backslash before "nsecret" is escaped itself, so the n starts the value; after a lone backslash it is \n
    assertThat(out).isEqualTo("{\"durationMs\":17640000001,\"text\":\"a\\\\[redacted:N_KEY] and \\nsecret-value\"}");
  }

  @Test
  void jsonWithoutSecretsIsReturnedAsItIs() {
    byte[] json = "{\"a\":\"b\"}".getBytes(StandardCharsets.UTF_8);

    assertThat(REDACTOR.redactJson(json)).isSameAs(json);
    assertThat(Redactor.of(Map.of()).redactJson(json)).isSameAs(json);
  }

  @Test
  void encodeRedactsWhatThisProcessRemembers() {
    String canary = "canary-remembered-7c1e55";
    Redactor.remember(Map.of("REDACTOR_TEST_TOKEN", canary, "REDACTOR_TEST_PLAIN", "not-a-secret-name"));
    Message m = new Finding("r", "t", 1, "w", "note", "leaked " + canary + " and not-a-secret-name", List.of());

    String wire = new String(Json.encode(m), StandardCharsets.UTF_8);

    assertThat(wire).doesNotContain(canary).contains("[redacted:REDACTOR_TEST_TOKEN]").contains("not-a-secret-name");
    assertThat(((Finding) Json.decode(Json.encode(m))).text()).startsWith("leaked [redacted:REDACTOR_TEST_TOKEN]");
  }

  @Test
  void streamRedactsEachLineAndASecretWrittenInPieces() throws IOException {
    ByteArrayOutputStream sink = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(Redactor.redacting(sink, () -> REDACTOR), true, StandardCharsets.UTF_8);

    out.println("one " + KEY);
    out.print("two " + TOKEN.substring(0, 6));
    out.flush();
    String sofar = sink.toString(StandardCharsets.UTF_8);
    out.print(TOKEN.substring(6) + " end");
    out.flush();
    out.close();

    assertThat(sofar).isEqualTo("one [redacted:ANTHROPIC_API_KEY]\ntwo ");
    assertThat(sink.toString(StandardCharsets.UTF_8))
        .isEqualTo("one [redacted:ANTHROPIC_API_KEY]\ntwo [redacted:MY_SERVICE_TOKEN] end");
  }

  @Test
  void streamWritesThroughOnFlushWhatCannotStartASecret() throws IOException {
    ByteArrayOutputStream sink = new ByteArrayOutputStream();
    OutputStream out = Redactor.redacting(sink, () -> REDACTOR);

    out.write("waiting for the lead role...".getBytes(StandardCharsets.UTF_8));
    out.flush();

    assertThat(sink.toString(StandardCharsets.UTF_8)).isEqualTo("waiting for the lead role...");
  }

  /** Whether some base64 decoding of a stretch of {@code text} holds {@code secret}. */
  private static boolean decodable(String text, String secret) {
    for (String part : text.split("[^A-Za-z0-9+/=_-]+")) {
      for (int skip = 0; skip < 4 && skip < part.length(); skip++) {
        String chunk = part.substring(skip);
        chunk = chunk.substring(0, chunk.length() - chunk.length() % 4);
        for (Base64.Decoder d : List.of(Base64.getDecoder(), Base64.getUrlDecoder())) {
          Optional<byte[]> decoded = decode(d, chunk);
          if (decoded.isPresent() && new String(decoded.get(), StandardCharsets.ISO_8859_1).contains(secret)) {
            return true;
          }
        }
      }
    }
    return false;
  }

  private static Optional<byte[]> decode(Base64.Decoder d, String s) {
    try {
      return Optional.of(d.decode(s));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }
}
