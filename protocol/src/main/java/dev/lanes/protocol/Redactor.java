package dev.lanes.protocol;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * The one place where secrets are taken out of what leaves a process: every message it publishes ({@link Json#encode}
 * calls {@link #redactJson}) and everything it prints or logs (its standard output and error, wrapped once at start-up
 * by {@link #redacting}). Each occurrence of a secret's value becomes {@code [redacted:NAME]}.
 *
 * <p>A secret is an environment variable whose name contains KEY, TOKEN, SECRET, PASSWORD or CREDENTIAL (in any letter
 * case) and whose value has at least {@value #MIN_LENGTH} characters: shorter values ({@code 1}, {@code true}) would
 * take ordinary words out of every message and protect nothing. A value is found as written, JSON-escaped (as it sits
 * inside a JSON string), and base64-encoded at each of the three alignments it can have inside a longer encoded text
 * (standard and URL-safe alphabets): those are what an agent that prints {@code env}, echoes a key or encodes a file
 * produces. Other encodings (hex, URL escapes, base64 wrapped across lines, a value reversed) are not recognised:
 * this is a net under accidents, not a defence against an agent that was given a key and means to leak it. Keeping keys
 * out of agents is the environment's allow-list's job.
 *
 * <p>Matching works on the UTF-8 bytes, in one pass that looks every form up by its first four bytes ({@link Forms});
 * only when something is found is the text mapped one to one onto Latin-1 characters to be rewritten. Occurrences
 * that overlap are merged into one redacted stretch, naming each secret that extends it; a secret inside a longer one
 * is covered by the longer one's marker. In JSON only the contents of string values are touched, at escape boundaries,
 * so that a redacted message still parses and keeps its shape.
 */
public final class Redactor {
  /** Values shorter than this are not treated as secrets. */
  public static final int MIN_LENGTH = 8;
  private static final List<String> SECRET_WORDS = List.of("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL");
  private static final Redactor NONE = new Redactor(Map.of());
  private static final Map<String, String> remembered = new TreeMap<>();
  private static volatile Redactor process;

  /** The forms searched in text and in JSON, longest first, each with the name of its secret (as bytes in Latin-1). */
  private final Forms text;
  private final Forms json;
  private final int longest;

  /** A form as text of one Latin-1 character per byte, the same bytes as an array, and its secret's name. */
  private record Form(String bytes, byte[] raw, String name) {
    Form(String bytes, String name) {
      this(bytes, bytes.getBytes(StandardCharsets.ISO_8859_1), name);
    }

    /** Whether this form occurs in {@code in} at {@code at}. */
    boolean at(byte[] in, int at) {
      return in.length - at >= raw.length && Arrays.equals(in, at, at + raw.length, raw, 0, raw.length);
    }
  }

  /**
   * Forms indexed by their first {@value #PREFIX} bytes, so that one pass over a text finds every occurrence of every
   * form: at each position a bit of {@link #filter} says whether any form can start there, and only then are the forms
   * with that prefix compared. Searching for each form in turn cost a pass per form, seven forms per secret: with the
   * handful of secrets a daemon on a secured broker holds, a tenth of the lead's time in {@code lanes bench dispatch}.
   */
  private static final class Forms {
    private final List<Form> all;
    private final Map<Integer, List<Form>> byPrefix = new java.util.HashMap<>();
    private final long[] filter = new long[1 << 10];

    Forms(List<Form> all) {
      this.all = all;
      for (Form f : all) {
        int prefix = prefix(f.bytes, 0);
        byPrefix.computeIfAbsent(prefix, k -> new ArrayList<>()).add(f);
        filter[slot(prefix) >>> 6] |= 1L << slot(prefix);
      }
    }

    boolean isEmpty() {
      return all.isEmpty();
    }

    /**
     * Where the forms occur in {@code in}; overlapping occurrences included. On bytes rather than on a string: the scan
     * runs over everything a daemon publishes, and a byte read costs less than a string's character wherever the JIT
     * has not inlined {@code charAt} (the launcher leaves most code to C1).
     */
    List<Hit> find(byte[] in) {
      List<Hit> hits = new ArrayList<>();
      if (in.length < PREFIX) {
        return hits;
      }
      int prefix = (in[0] & 0xff) << 24 | (in[1] & 0xff) << 16 | (in[2] & 0xff) << 8 | in[3] & 0xff;
      for (int at = 0; ; at++) {
        int slot = slot(prefix);
        if ((filter[slot >>> 6] & 1L << slot) != 0) {
          List<Form> candidates = byPrefix.get(prefix);
          if (candidates != null) {
            for (Form f : candidates) {
              if (f.at(in, at)) {
                hits.add(new Hit(at, at + f.bytes.length(), f.name));
              }
            }
          }
        }
        if (at + PREFIX >= in.length) {
          return hits;
        }
        prefix = prefix << 8 | in[at + PREFIX] & 0xff;
      }
    }

    /** The {@value #PREFIX} bytes of {@code s} from {@code at}, as one int. */
    private static int prefix(String s, int at) {
      return (s.charAt(at) & 0xff) << 24 | (s.charAt(at + 1) & 0xff) << 16 | (s.charAt(at + 2) & 0xff) << 8
          | s.charAt(at + 3) & 0xff;
    }

    /** One of the filter's 65,536 bits, from a multiplicative hash of the prefix. */
    private static int slot(int prefix) {
      return (prefix * 0x9E3779B1) >>> 16;
    }
  }

  /** The bytes a form is indexed by; every form is longer ({@link #MIN_LENGTH}). */
  private static final int PREFIX = 4;

  private Redactor(Map<String, String> secrets) {
    Map<String, String> textForms = new LinkedHashMap<>();
    Map<String, String> jsonForms = new LinkedHashMap<>();
    // Sorted by name, so that of two variables holding the same value the same one is always named.
    new TreeMap<>(secrets).forEach((name, value) -> {
      String plain = latin1(value.getBytes(StandardCharsets.UTF_8));
      String escaped = latin1(JsonStringEncoder.getInstance().quoteAsUTF8(value));
      textForms.putIfAbsent(plain, name);
      textForms.putIfAbsent(escaped, name);
      jsonForms.putIfAbsent(escaped, name);
      for (String encoded : base64(value.getBytes(StandardCharsets.UTF_8))) {
        textForms.putIfAbsent(encoded, name);
        jsonForms.putIfAbsent(encoded, name);
      }
    });
    this.text = forms(textForms);
    this.json = forms(jsonForms);
    this.longest = text.isEmpty() ? 0 : text.all.get(0).bytes.length();
  }

  /** A redactor for the secrets among {@code environment} (see the class comment for which they are). */
  public static Redactor of(Map<String, String> environment) {
    Map<String, String> secrets = new TreeMap<>();
    environment.forEach((name, value) -> {
      if (isSecret(name, value)) {
        secrets.put(name, value);
      }
    });
    return secrets.isEmpty() ? NONE : new Redactor(secrets);
  }

  /** Whether a variable by this name, holding this value, is treated as a secret. */
  public static boolean isSecret(String name, String value) {
    String upper = name.toUpperCase(Locale.ROOT);
    return value != null && value.length() >= MIN_LENGTH && SECRET_WORDS.stream().anyMatch(upper::contains);
  }

  /**
   * This process's redactor: the secrets in its environment, and those {@link #remember}ed since. What a daemon passes
   * to its children comes from its environment, so it is covered too.
   */
  public static Redactor process() {
    Redactor r = process;
    if (r == null) {
      synchronized (remembered) {
        if (process == null) {
          Map<String, String> all = new TreeMap<>(System.getenv());
          all.putAll(remembered);
          process = of(all);
        }
        r = process;
      }
    }
    return r;
  }

  /**
   * Adds the secrets among {@code variables} to this process's redactor: variables a daemon sets for its children
   * itself, or credentials it reads from a file rather than from its environment.
   */
  public static void remember(Map<String, String> variables) {
    synchronized (remembered) {
      variables.forEach((name, value) -> {
        if (isSecret(name, value)) {
          remembered.put(name, value);
        }
      });
      process = null;
    }
  }

  /** Whether there is nothing to redact. */
  public boolean isEmpty() {
    return text.isEmpty();
  }

  /** {@code text} with every form of every secret replaced. */
  public String redact(String text) {
    if (isEmpty()) {
      return text;
    }
    byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
    List<Hit> hits = this.text.find(utf8);
    return hits.isEmpty() ? text
        : new String(replace(latin1(utf8), hits).getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
  }

  /** {@code bytes} (any text, UTF-8 or not) with every form of every secret replaced. */
  public byte[] redact(byte[] bytes) {
    if (isEmpty()) {
      return bytes;
    }
    List<Hit> hits = text.find(bytes);
    return hits.isEmpty() ? bytes : replace(latin1(bytes), hits).getBytes(StandardCharsets.ISO_8859_1);
  }

  /**
   * One JSON document with the secrets in its string values replaced; names of fields, numbers and the document's shape
   * are left alone, so the result parses as the same kind of message. Returns {@code json} itself when nothing is found.
   */
  public byte[] redactJson(byte[] json) {
    if (isEmpty()) {
      return json;
    }
    List<Hit> hits = this.json.find(json);
    if (hits.isEmpty()) {
      return json;
    }
    String in = latin1(json);
    boolean[] inValue = valueContents(in);
    hits.removeIf(h -> !inside(inValue, h) || oddBackslashesBefore(in, h.start));
    String out = replace(in, hits);
    return out == in ? json : out.getBytes(StandardCharsets.ISO_8859_1);
  }

  /**
   * A stream that writes {@code out} redacted by the redactor {@code current} gives at the time. Output is held until
   * a line ends or the stream is flushed; on a flush, a last stretch that could be the start of a secret is held back
   * until more comes, so a secret printed in two pieces is still caught.
   */
  public static OutputStream redacting(OutputStream out, Supplier<Redactor> current) {
    return new RedactingStream(out, current);
  }

  private record Hit(int start, int end, String name) {}

  /** Replaces every hit, merging those that overlap; returns {@code in} itself when there are none. */
  private static String replace(String in, List<Hit> hits) {
    if (hits.isEmpty()) {
      return in;
    }
    hits.sort(Comparator.comparingInt(Hit::start).thenComparing(Hit::end, Comparator.reverseOrder()));
    StringBuilder out = new StringBuilder(in.length());
    int done = 0;
    String last = null;
    for (Hit h : hits) {
      if (h.start >= done) {
        out.append(in, done, h.start);
        last = null;
      } else if (h.end <= done) {
        continue; // inside what is already redacted
      }
      if (!h.name.equals(last)) {
        out.append("[redacted:").append(h.name).append(']');
        last = h.name;
      }
      done = h.end;
    }
    return out.append(in, done, in.length()).toString();
  }

  /** For each byte of a JSON document, whether it is inside the contents of a string that is a value, not a name. */
  private static boolean[] valueContents(String json) {
    boolean[] value = new boolean[json.length()];
    int i = 0;
    while (i < json.length()) {
      if (json.charAt(i) != '"') {
        i++;
        continue;
      }
      int start = ++i;
      while (i < json.length() && json.charAt(i) != '"') {
        i += json.charAt(i) == '\\' ? 2 : 1;
      }
      int end = Math.min(i, json.length());
      i++;
      int next = i;
      while (next < json.length() && Character.isWhitespace(json.charAt(next))) {
        next++;
      }
      if (next >= json.length() || json.charAt(next) != ':') {
        Arrays.fill(value, start, end, true);
      }
    }
    return value;
  }

  private static boolean inside(boolean[] value, Hit h) {
    for (int i = h.start; i < h.end; i++) {
      if (!value[i]) {
        return false;
      }
    }
    return true;
  }

  /** Whether a hit starts in the middle of an escape ({@code \n} read from its {@code n}). */
  private static boolean oddBackslashesBefore(String json, int at) {
    int n = 0;
    while (at - n - 1 >= 0 && json.charAt(at - n - 1) == '\\') {
      n++;
    }
    return n % 2 == 1;
  }

  /**
   * The base64 text that {@code value} always becomes when it is encoded at each offset modulo 3 inside a longer
   * input: the characters made only of its own bits, in the standard and the URL-safe alphabet.
   */
  private static List<String> base64(byte[] value) {
    List<String> forms = new ArrayList<>();
    for (int shift = 0; shift < 3; shift++) {
      byte[] shifted = new byte[shift + value.length];
      System.arraycopy(value, 0, shifted, shift, value.length);
      String encoded = Base64.getEncoder().withoutPadding().encodeToString(shifted);
      int from = (8 * shift + 5) / 6;
      int to = 8 * (shift + value.length) / 6;
      String core = encoded.substring(from, to);
      if (core.length() >= MIN_LENGTH) {
        forms.add(core);
        forms.add(core.replace('+', '-').replace('/', '_'));
      }
    }
    return forms;
  }

  private static Forms forms(Map<String, String> byBytes) {
    List<Form> forms = new ArrayList<>();
    byBytes.forEach((bytes, name) -> forms.add(new Form(bytes, name)));
    forms.sort(Comparator.comparingInt((Form f) -> f.bytes.length()).reversed());
    return new Forms(List.copyOf(forms));
  }

  private static String latin1(byte[] bytes) {
    return new String(bytes, StandardCharsets.ISO_8859_1);
  }

  /** How many bytes at the end of {@code buffer} could be the start of a form, and so must wait for what follows. */
  int heldBack(byte[] buffer, int length) {
    for (int k = Math.min(longest - 1, length); k > 0; k--) {
      String tail = new String(buffer, length - k, k, StandardCharsets.ISO_8859_1);
      for (Form f : text.all) {
        if (f.bytes.length() > k && f.bytes.startsWith(tail)) {
          return k;
        }
      }
    }
    return 0;
  }

  /** See {@link #redacting}. */
  private static final class RedactingStream extends OutputStream {
    private static final int MAX_HELD = 64 * 1024;
    private final OutputStream out;
    private final Supplier<Redactor> current;
    private byte[] buffer = new byte[256];
    private int length;

    RedactingStream(OutputStream out, Supplier<Redactor> current) {
      this.out = out;
      this.current = current;
    }

    @Override
    public synchronized void write(int b) throws IOException {
      append(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
      append(b, off, len);
    }

    private void append(byte[] b, int off, int len) throws IOException {
      if (length + len > buffer.length) {
        buffer = Arrays.copyOf(buffer, Math.max(length + len, 2 * buffer.length));
      }
      System.arraycopy(b, off, buffer, length, len);
      length += len;
      int lineEnd = lastNewline();
      if (lineEnd >= 0) {
        release(lineEnd + 1);
      } else if (length > MAX_HELD) {
        release(length - current.get().heldBack(buffer, length));
      }
    }

    private int lastNewline() {
      for (int i = length - 1; i >= 0; i--) {
        if (buffer[i] == '\n') {
          return i;
        }
      }
      return -1;
    }

    /** Writes the first {@code n} buffered bytes, redacted, and keeps the rest. */
    private void release(int n) throws IOException {
      if (n <= 0) {
        return;
      }
      out.write(current.get().redact(Arrays.copyOf(buffer, n)));
      System.arraycopy(buffer, n, buffer, 0, length - n);
      length -= n;
    }

    @Override
    public synchronized void flush() throws IOException {
      release(length - current.get().heldBack(buffer, length));
      out.flush();
    }

    @Override
    public synchronized void close() throws IOException {
      release(length);
      out.close();
    }
  }
}
