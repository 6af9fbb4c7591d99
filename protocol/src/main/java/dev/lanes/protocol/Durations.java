package dev.lanes.protocol;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations as people write them in plans and on the command line: {@code 500ms}, {@code 8s}, {@code 30m}, {@code 2h}. */
public final class Durations {
  private static final Pattern FORM = Pattern.compile("(\\d{1,9})(ms|s|m|h)");

  private Durations() {}

  public static Duration parse(String field, String text) {
    Matcher m = FORM.matcher(text == null ? "" : text.trim());
    if (!m.matches()) {
      throw new ProtocolException(
          field + ": \"" + text + "\" is not a duration (a whole number and a unit: 500ms, 8s, 30m, 2h)");
    }
    long n = Long.parseLong(m.group(1));
    switch (m.group(2)) {
      case "ms":
        return Duration.ofMillis(n);
      case "s":
        return Duration.ofSeconds(n);
      case "m":
        return Duration.ofMinutes(n);
      default:
        return Duration.ofHours(n);
    }
  }

  /**
   * A duration on the command line where a bare number once meant seconds ({@code --timeout 30}): that form is still
   * read as seconds; anything else as {@link #parse}.
   */
  public static Duration parseOrSeconds(String field, String text) {
    return text != null && text.trim().matches("\\d{1,9}") ? Duration.ofSeconds(Long.parseLong(text.trim()))
        : parse(field, text);
  }

  /** The shortest exact form: 90s prints as {@code 90s}, 1800s as {@code 30m}. */
  public static String format(Duration d) {
    long ms = d.toMillis();
    if (ms % 3_600_000 == 0 && ms > 0) {
      return ms / 3_600_000 + "h";
    } else if (ms % 60_000 == 0 && ms > 0) {
      return ms / 60_000 + "m";
    } else if (ms % 1000 == 0) {
      return ms / 1000 + "s";
    }
    return ms + "ms";
  }
}
