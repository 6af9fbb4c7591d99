package dev.lanes.git;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Paths as git stores them, bytes, turned into text only when they are valid UTF-8. Git allows any bytes but NUL and
 * {@code /} in a name; Lanes' claims and rules are about text, so a name that is not UTF-8 is never decoded with a
 * replacement character (which a claim might then cover) but reported with its bytes escaped.
 */
public final class GitPaths {
  private GitPaths() {}

  /** The bytes as UTF-8, or empty when they are not valid UTF-8. */
  public static Optional<String> decode(byte[] bytes) {
    try {
      return Optional.of(StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString());
    } catch (CharacterCodingException e) {
      return Optional.empty();
    }
  }

  /** Whether a name holds a control character: one with a newline or a terminal escape would forge what people read. */
  public static boolean hasControl(String text) {
    return text.chars().anyMatch(c -> c < 0x20 || c == 0x7f);
  }

  /** The bytes as printable ASCII, every other byte (and the backslash) as {@code \xNN}. */
  public static String escape(byte[] bytes) {
    StringBuilder out = new StringBuilder(bytes.length);
    for (byte b : bytes) {
      int c = b & 0xff;
      if (c >= 0x20 && c < 0x7f && c != '\\') {
        out.append((char) c);
      } else {
        out.append(String.format("\\x%02x", c));
      }
    }
    return out.toString();
  }
}
