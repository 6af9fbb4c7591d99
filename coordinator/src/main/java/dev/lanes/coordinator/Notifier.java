package dev.lanes.coordinator;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.lanes.process.ChildProcess;
import dev.lanes.process.Environment;
import dev.lanes.process.ProcessException;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.Redactor;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pushes each {@link Notice} out to a person: to a command ({@code --notify-command}, the notice as JSON on its
 * standard input) and to a webhook ({@code --webhook}, the same JSON POSTed), once per notice id and at a bounded rate.
 *
 * <p>The lead calls {@link #offer} on its loop thread, so offering never waits on the outside world: it decides on the
 * spot whether the notice is new (a bounded Caffeine cache of ids already offered) and whether the rate allows it (a
 * token bucket on the lead's clock), and hands it to one sender thread through a bounded queue. A command that hangs is
 * ended at its time limit on that thread and the lead goes on meanwhile. What the rate or a full queue holds back is
 * not dropped: it is folded into one "N more items" notice, sent as soon as the bucket has a token again.
 *
 * <p>What leaves goes through the {@link Redactor}, and nothing the command or the receiver prints is logged but a
 * short redacted tail when it fails. The command runs with the base environment plus what a desktop notifier or a
 * proxy needs and the {@code LANES_NOTIFY_*} variables, never the lead's credentials. The webhook's address is logged
 * as its scheme, host and port only: a Slack-style webhook's path is itself a secret.
 */
public final class Notifier implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Notifier.class);
  /** Ids remembered; a lead with more open items than this has bigger problems than a second notification. */
  static final int REMEMBERED = 10_000;
  private static final int QUEUE_CAPACITY = 64;
  /** How many held-back notices the "more" notice names one by one; it counts all of them. */
  private static final int FOLD_NAMED = 10;
  private static final int TITLE_CHARS = 200;
  private static final int DETAIL_CHARS = 4000;
  private static final int TAIL_CHARS = 300;
  private static final Path DISCARD = Path.of("/dev/null");
  /** What a notifier needs of the lead's environment besides {@link Environment#BASE}; the lead's keys are not in it. */
  static final List<String> PASSED = List.of("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS",
      "XDG_RUNTIME_DIR", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
      "LANES_NOTIFY_*");

  /** What became of an offered notice. */
  public enum Outcome {
    /** On its way. */
    QUEUED,
    /** A notice with this id was offered before: not sent again. */
    DUPLICATE,
    /** Over the rate: it will be counted in the next "more" notice. */
    FOLDED,
    /** Nothing to send to, or the notifier is closed. */
    OFF
  }

  /**
   * Where notices go and how often.
   *
   * @param command the argv of {@code --notify-command}, empty for none
   * @param webhook the URL of {@code --webhook}
   * @param timeout how long a command or a webhook call may take; a command is ended after it
   * @param burst how many notices may go at once
   * @param refill how long the bucket takes to earn one more notice, up to {@code burst}
   */
  public record Settings(List<String> command, Optional<URI> webhook, Duration timeout, int burst, Duration refill) {
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
    public static final int DEFAULT_BURST = 5;
    public static final Duration DEFAULT_REFILL = Duration.ofSeconds(10);
    public static final Settings NONE = new Settings(List.of(), Optional.empty(), DEFAULT_TIMEOUT, DEFAULT_BURST,
        DEFAULT_REFILL);
    private static final int MAX_CHARS = 4096;

    public Settings {
      command = List.copyOf(command);
      if (!command.isEmpty() && command.get(0).isEmpty()) {
        throw new IllegalArgumentException("--notify-command: " + command + " names no program");
      }
      webhook.ifPresent(Settings::checkWebhook);
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("notify timeout: " + timeout + " must be longer than zero");
      }
      if (burst < 1) {
        throw new IllegalArgumentException("notify burst: " + burst + " must be at least 1");
      }
      if (refill.toMillis() < 1) {
        throw new IllegalArgumentException("notify refill: " + refill + " must be at least a millisecond");
      }
    }

    /**
     * The settings of {@code --notify-command TEXT} and {@code --webhook URL} as given on a command line, with the
     * default timeout and rate. The command is split into argv at white space, with '...' and "..." keeping spaces
     * inside one argument and a backslash taking the next character as it is; nothing else is special (no variables,
     * no globs, no shell), so {@code "curl -sS -H 'Content-Type: application/json' --data-binary @- URL"} is five
     * arguments and the notice reaches curl's standard input.
     *
     * @throws IllegalArgumentException naming the option, the value and the rule it breaks
     */
    public static Settings parse(Optional<String> command, Optional<String> webhook) {
      return new Settings(command.map(Settings::argv).orElse(List.of()), webhook.map(Settings::url),
          DEFAULT_TIMEOUT, DEFAULT_BURST, DEFAULT_REFILL);
    }

    /** Whether there is anywhere to send a notice. */
    public boolean enabled() {
      return !command.isEmpty() || webhook.isPresent();
    }

    /** This with another rate: {@code burst} at once, then one per {@code refill}. */
    public Settings withRate(int burst, Duration refill) {
      return new Settings(command, webhook, timeout, burst, refill);
    }

    /** This with another time limit for a command or a webhook call. */
    public Settings withTimeout(Duration timeout) {
      return new Settings(command, webhook, timeout, burst, refill);
    }

    static List<String> argv(String text) {
      String shown = '"' + text + '"';
      if (text.length() > MAX_CHARS) {
        throw new IllegalArgumentException("--notify-command: " + text.length() + " characters is more than the "
            + MAX_CHARS + " allowed");
      }
      if (text.chars().anyMatch(c -> c == 0)) {
        throw new IllegalArgumentException("--notify-command: " + shown + " holds a NUL character, which no argument"
            + " can carry");
      }
      List<String> argv = new ArrayList<>();
      StringBuilder word = null;
      char quote = 0;
      for (int i = 0; i < text.length(); i++) {
        char c = text.charAt(i);
        if (quote == 0 && Character.isWhitespace(c)) {
          if (word != null) {
            argv.add(word.toString());
            word = null;
          }
          continue;
        }
        word = word == null ? new StringBuilder() : word;
        if (quote == '\'' && c != '\'' || quote == '"' && c != '"' && c != '\\') {
          word.append(c);
        } else if (c == '\\') {
          if (++i == text.length()) {
            throw new IllegalArgumentException("--notify-command: " + shown + " ends in a backslash that escapes"
                + " nothing");
          }
          word.append(text.charAt(i));
        } else if (c == '\'' || c == '"') {
          quote = quote == 0 ? c : 0;
        } else {
          word.append(c);
        }
      }
      if (quote != 0) {
        throw new IllegalArgumentException("--notify-command: " + shown + " has a " + quote + " quote that is not"
            + " closed");
      }
      if (word != null) {
        argv.add(word.toString());
      }
      if (argv.isEmpty() || argv.get(0).isEmpty()) {
        throw new IllegalArgumentException("--notify-command: " + shown + " names no program");
      }
      return List.copyOf(argv);
    }

    static URI url(String text) {
      if (text.length() > MAX_CHARS) {
        throw new IllegalArgumentException("--webhook: " + text.length() + " characters is more than the "
            + MAX_CHARS + " allowed");
      }
      try {
        URI uri = new URI(text.strip());
        checkWebhook(uri);
        return uri;
      } catch (URISyntaxException e) {
        throw new IllegalArgumentException("--webhook: \"" + masked(text) + "\" is not a URL: " + e.getReason());
      }
    }

    /** Only a plain http or https address with a host: no file:, no jar:, nothing a client would read locally. */
    private static void checkWebhook(URI uri) {
      String shown = "--webhook: \"" + masked(uri.toString()) + "\"";
      String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      if (!scheme.equals("http") && !scheme.equals("https")) {
        throw new IllegalArgumentException(shown + " must be an http:// or https:// URL");
      }
      if (uri.getRawUserInfo() != null) {
        throw new IllegalArgumentException(shown + " must not carry a user or password before the host (Lanes would"
            + " not send them); put a token in the path or query as the receiver asks");
      }
      if (uri.getHost() == null || uri.getHost().isEmpty()) {
        throw new IllegalArgumentException(shown + " must name a host");
      }
    }

    /** A URL as it may be shown: a password before the host is not repeated back onto the terminal. */
    private static String masked(String url) {
      return url.replaceFirst("^([A-Za-z][A-Za-z0-9+.-]*://)[^/@?#]*@", "$1***@");
    }
  }

  private final Settings settings;
  private final Clock clock;
  private final Supplier<Redactor> redactor;
  private final Path dir;
  private final Cache<String, Boolean> offered = Caffeine.newBuilder().maximumSize(REMEMBERED)
      .executor(Runnable::run).build();
  private final BlockingQueue<Notice> queue = new ArrayBlockingQueue<>(QUEUE_CAPACITY);
  private final Bucket bucket;
  /** Held back by the rate, oldest first: the first {@link #FOLD_NAMED} of them, and how many in all. */
  private final List<Notice> folded = new ArrayList<>();
  private int foldedCount;
  private final Optional<HttpClient> http;
  private final Thread sender;
  /** No notice is taken any more; what is queued still goes out, for a while ({@link #close}). */
  private volatile boolean closing;
  private volatile boolean closed;
  /** Notices queued or being handed to the command or webhook now; guarded by {@code this}. */
  private int pending;

  private Notifier(Settings settings, Clock clock, Supplier<Redactor> redactor, Path dir) {
    this.settings = settings;
    this.clock = clock;
    this.redactor = redactor;
    this.dir = dir;
    this.bucket = new Bucket(clock, settings.burst(), settings.refill());
    this.http = settings.webhook().map(u -> HttpClient.newBuilder().connectTimeout(settings.timeout())
        .followRedirects(HttpClient.Redirect.NEVER).build());
    this.sender = new Thread(this::send, "lanes-notify");
    sender.setDaemon(true);
  }

  /**
   * A notifier that runs commands in {@code dir} (where a relative program name is looked up), reads the rate on
   * {@code clock} and redacts with this process's {@link Redactor}. With nothing to send to it starts no thread and
   * every offer is {@link Outcome#OFF}.
   */
  public static Notifier start(Settings settings, Clock clock, Path dir) {
    Notifier n = new Notifier(settings, clock, Redactor::process, dir.toAbsolutePath());
    if (settings.enabled()) {
      n.sender.start();
    }
    return n;
  }

  /** Hands a notice to the sender unless its id was offered before or the rate holds it back; never waits. */
  public synchronized Outcome offer(Notice notice) {
    if (closing || !settings.enabled()) {
      return Outcome.OFF;
    }
    if (offered.asMap().putIfAbsent(notice.id(), Boolean.TRUE) != null) {
      return Outcome.DUPLICATE;
    }
    flushFolded();
    if (foldedCount == 0 && bucket.take() && queue.offer(notice)) {
      pending++;
      return Outcome.QUEUED;
    }
    if (folded.size() < FOLD_NAMED) {
      folded.add(notice);
    }
    foldedCount++;
    return Outcome.FOLDED;
  }

  /**
   * Sends the "more" notice for what the rate held back, if the bucket has a token again. The sender thread calls this
   * about once a second; a test on a clock of its own calls it after moving the clock.
   */
  public synchronized void tick() {
    if (!closed) {
      flushFolded();
    }
  }

  private void flushFolded() {
    if (foldedCount > 0 && bucket.take() && queue.offer(more())) {
      pending++;
      folded.clear();
      foldedCount = 0;
    }
  }

  /** One notice standing for every one held back: how many, and the first few by kind and title. */
  private Notice more() {
    StringBuilder detail = new StringBuilder();
    for (Notice n : folded) {
      detail.append(n.kind()).append(": ").append(n.title()).append('\n');
    }
    if (foldedCount > folded.size()) {
      detail.append("and ").append(foldedCount - folded.size()).append(" more\n");
    }
    String items = foldedCount == 1 ? "1 more item" : foldedCount + " more items";
    return new Notice("more-" + folded.get(0).id() + "-" + foldedCount, "more", Optional.empty(), Optional.empty(),
        items + " need you (held back by the notification rate; the dashboard and lanes status list them all)",
        detail.toString().strip(), List.of(), clock.instant());
  }

  private void send() {
    while (!closed) {
      try {
        Notice n = queue.poll(1, TimeUnit.SECONDS);
        if (n != null) {
          try {
            deliver(n);
          } finally {
            synchronized (this) {
              pending--;
              notifyAll();
            }
          }
        }
        tick();
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        LOG.warn("notify: {}", e.toString()); // one bad notice must not end the thread that sends the others
      }
    }
  }

  private void deliver(Notice n) throws InterruptedException {
    byte[] json = json(n);
    if (!settings.command().isEmpty()) {
      run(n, json);
    }
    if (http.isPresent()) {
      post(n, json);
    }
  }

  private void run(Notice n, byte[] json) {
    String program = settings.command().get(0);
    try {
      // Output goes nowhere but the last lines the result keeps: a chatty command is not held in memory whole.
      ChildProcess.Result r = ChildProcess.runIsolated(settings.command(), json, dir,
          Environment.allowing(PASSED), settings.timeout(), Optional.of(DISCARD), line -> {});
      if (r.timedOut()) {
        LOG.warn("notify-command {} for {}: ended after its time limit of {}: {}", program, n.id(),
            settings.timeout(), tail(r.output()));
      } else if (!r.ok()) {
        LOG.warn("notify-command {} for {}: exit {}: {}", program, n.id(), r.exit(), tail(r.output()));
      }
    } catch (ProcessException e) {
      LOG.warn("notify-command for {}: {}", n.id(), redactor.get().redact(e.getMessage()));
    }
  }

  private void post(Notice n, byte[] json) throws InterruptedException {
    URI url = settings.webhook().orElseThrow();
    String where = url.getScheme() + "://" + url.getHost() + (url.getPort() < 0 ? "" : ":" + url.getPort());
    HttpRequest request = HttpRequest.newBuilder(url).timeout(settings.timeout())
        .header("Content-Type", "application/json").header("User-Agent", "lanes")
        .POST(HttpRequest.BodyPublishers.ofByteArray(json)).build();
    try {
      HttpResponse<InputStream> response = http.orElseThrow().send(request, HttpResponse.BodyHandlers.ofInputStream());
      try (InputStream body = response.body()) {
        // Read a little of what it says, and only on failure; a receiver that streams forever is not read to its end.
        if (response.statusCode() / 100 != 2) {
          String said = new String(body.readNBytes(TAIL_CHARS * 4), StandardCharsets.UTF_8);
          LOG.warn("webhook {} for {}: HTTP {}: {}", where, n.id(), response.statusCode(), tail(said));
        }
      }
    } catch (IOException e) {
      LOG.warn("webhook {} for {}: {}", where, n.id(), e.getClass().getSimpleName());
    }
  }

  /** The last few hundred characters of what a command or a receiver said, redacted, on one line. */
  private String tail(String output) {
    String s = output.strip();
    s = s.length() <= TAIL_CHARS ? s : "..." + s.substring(s.length() - TAIL_CHARS);
    return redactor.get().redact(s).replace('\n', ' ');
  }

  /** The notice as one line of JSON, its texts cut to a size any receiver takes, redacted. */
  byte[] json(Notice n) {
    ObjectNode o = Json.mapper().createObjectNode();
    o.put("id", n.id());
    o.put("kind", n.kind());
    o.put("run", n.run().orElse(null));
    o.put("task", n.task().orElse(null));
    o.put("title", cut(n.title(), TITLE_CHARS));
    o.put("detail", cut(n.detail(), DETAIL_CHARS));
    n.actions().forEach(o.putArray("actions")::add);
    o.put("at", n.at().toString());
    try {
      return redactor.get().redactJson(Json.mapper().writeValueAsBytes(o));
    } catch (JsonProcessingException e) {
      throw new LeadException("notice " + n.id() + ": cannot encode: " + e.getMessage(), e);
    }
  }

  private static String cut(String text, int chars) {
    return text.length() <= chars ? text : text.substring(0, chars) + " [lanes: " + (text.length() - chars)
        + " more characters cut]";
  }

  /**
   * Takes no more notices, gives what is queued as long as one delivery may take ({@code timeout}) to go out, so that
   * the item that ended a {@code lanes run} (a budget reached) is still told; then stops, and what is left (still
   * queued, or held back by the rate) is counted in a warning, not sent.
   */
  @Override
  public void close() {
    int left;
    synchronized (this) {
      if (closing) {
        return;
      }
      closing = true;
      long deadline = System.nanoTime() + settings.timeout().toNanos();
      try {
        while (sender.isAlive() && pending > 0) {
          long wait = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
          if (wait <= 0) {
            break;
          }
          wait(wait);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      closed = true;
      left = queue.size() + foldedCount;
    }
    sender.interrupt();
    try {
      sender.join(settings.timeout().plusSeconds(5).toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (left > 0) {
      LOG.warn("notify: {} notices not sent: the lead stopped first", left);
    }
  }

  /** A token bucket on the lead's clock: {@code burst} tokens, one more earned every {@code refill}. */
  static final class Bucket {
    private final Clock clock;
    private final int burst;
    private final long refillMillis;
    private double tokens;
    private long last;

    Bucket(Clock clock, int burst, Duration refill) {
      this.clock = clock;
      this.burst = burst;
      this.refillMillis = refill.toMillis();
      this.tokens = burst;
      this.last = clock.millis();
    }

    boolean take() {
      long now = clock.millis();
      tokens = Math.min(burst, tokens + Math.max(0, now - last) / (double) refillMillis);
      last = now;
      if (tokens < 1) {
        return false;
      }
      tokens--;
      return true;
    }
  }
}
