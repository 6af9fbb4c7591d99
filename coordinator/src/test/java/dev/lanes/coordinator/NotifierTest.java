package dev.lanes.coordinator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.Redactor;
import dev.lanes.testkit.MovableClock;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Notices reach a real child process on its standard input and a real HTTP receiver on the loopback, once each and at
 * the rate allowed, with a command that hangs ended at its time limit while offering goes on.
 */
class NotifierTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final Instant T0 = Instant.parse("2026-12-03T09:00:00Z");

  @TempDir Path dir;
  private final MovableClock clock = new MovableClock(T0);
  private final List<AutoCloseable> started = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (int i = started.size() - 1; i >= 0; i--) {
      started.get(i).close(); // the notifier before the receiver it sends to
    }
  }

  @Test
  void commandReceivesEachNoticeAsOneJsonOnItsInput() throws IOException {
    Path out = dir.resolve("received");
    Notifier notifier = notifier(command(out));

    assertThat(notifier.offer(question("q-1"))).isEqualTo(Notifier.Outcome.QUEUED);
    assertThat(notifier.offer(question("q-2"))).isEqualTo(Notifier.Outcome.QUEUED);

    List<JsonNode> got = awaitLines(out, 2);
    JsonNode first = got.get(0);
    assertThat(first.get("id").asText()).isEqualTo("q-1");
    assertThat(first.get("kind").asText()).isEqualTo("question");
    assertThat(first.get("run").asText()).isEqualTo("demo-1");
    assertThat(first.get("task").asText()).isEqualTo("core");
    assertThat(first.get("title").asText()).isEqualTo("core asks: q-1?");
    assertThat(first.get("detail").asText()).isEqualTo("Which name, accountId or account_id?");
    assertThat(first.get("actions").toString()).isEqualTo("[\"answer\",\"cancel\"]");
    assertThat(first.get("at").asText()).isEqualTo("2026-12-03T09:00:00Z");
    assertThat(got.get(1).get("id").asText()).isEqualTo("q-2");
  }

  @Test
  void aNoticeQueuedWhenTheLeadStopsStillGoesOut_andNoneIsTakenAfter() throws IOException {
    Path out = dir.resolve("received");
    Path slow = script("slow.sh", "sleep 1\ncat >> \"$1\"\necho >> \"$1\"\n");
    Notifier notifier = notifier(Notifier.Settings.parse(Optional.of(slow + " " + out), Optional.empty()));

    assertThat(notifier.offer(question("budget"))).isEqualTo(Notifier.Outcome.QUEUED);
    assertThat(notifier.offer(question("after"))).isEqualTo(Notifier.Outcome.QUEUED);
    notifier.close();

    assertThat(Files.readAllLines(out)).as("close waited for both").hasSize(2);
    assertThat(notifier.offer(question("late"))).isEqualTo(Notifier.Outcome.OFF);
  }

  @Test
  void noticeWithAnIdOfferedBeforeIsNotSentAgain() throws IOException {
    Path out = dir.resolve("received");
    Notifier notifier = notifier(command(out));

    notifier.offer(question("q-1"));
    assertThat(notifier.offer(question("q-1"))).isEqualTo(Notifier.Outcome.DUPLICATE);
    notifier.offer(question("q-2"));

    // One sender, in order: once q-2 is there, a second q-1 would have been before it.
    assertThat(awaitLines(out, 2)).extracting(n -> n.get("id").asText()).containsExactly("q-1", "q-2");
  }

  @Test
  void noticesOverTheRateFoldIntoOneMoreNoticeOnceATokenIsEarned() throws IOException {
    Path out = dir.resolve("received");
    Notifier notifier = notifier(command(out).withRate(2, Duration.ofMinutes(1)));

    List<Notifier.Outcome> outcomes = new ArrayList<>();
    for (String id : List.of("a", "b", "c", "d", "e")) {
      outcomes.add(notifier.offer(question(id)));
    }
    assertThat(outcomes).containsExactly(Notifier.Outcome.QUEUED, Notifier.Outcome.QUEUED, Notifier.Outcome.FOLDED,
        Notifier.Outcome.FOLDED, Notifier.Outcome.FOLDED);
    assertThat(awaitLines(out, 2)).extracting(n -> n.get("id").asText()).containsExactly("a", "b");

    clock.advance(Duration.ofMinutes(1));
    notifier.tick();

    JsonNode more = awaitLines(out, 3).get(2);
    assertThat(more.get("kind").asText()).isEqualTo("more");
    assertThat(more.get("title").asText()).startsWith("3 more items need you");
    assertThat(more.get("detail").asText()).isEqualTo("question: core asks: c?\nquestion: core asks: d?\n"
        + "question: core asks: e?");
    assertThat(notifier.offer(question("f"))).as("the minute's token went to the more notice")
        .isEqualTo(Notifier.Outcome.FOLDED);
  }

  @Test
  void hangingCommandIsEndedAtItsTimeLimitWhileOfferingGoesOn() throws IOException {
    Path out = dir.resolve("received");
    Path pid = dir.resolve("hung.pid");
    Path script = script("hang.sh", "line=$(cat)\n"
        + "case \"$line\" in *'\"id\":\"hang\"'*) echo $$ > \"$2\"; exec sleep 300;; esac\n"
        + "printf '%s\\n' \"$line\" >> \"$1\"\n");
    Notifier notifier = notifier(Notifier.Settings.parse(Optional.of(script + " " + out + " " + pid),
        Optional.empty()).withTimeout(Duration.ofSeconds(1)));

    notifier.offer(question("hang"));
    await().atMost(WAIT).until(() -> Files.exists(pid) && !Files.readString(pid).isBlank());
    ProcessHandle hung = ProcessHandle.of(Long.parseLong(Files.readString(pid).strip())).orElseThrow();

    assertThat(notifier.offer(question("after"))).isEqualTo(Notifier.Outcome.QUEUED);
    assertThat(hung.isAlive()).as("offer returned while the command still hung").isTrue();

    assertThat(awaitLines(out, 1)).extracting(n -> n.get("id").asText()).containsExactly("after");
    await().atMost(WAIT).until(() -> !hung.isAlive());
  }

  @Test
  void webhookReceivesEachNoticeAsAJsonPost() throws IOException, InterruptedException {
    BlockingQueue<String> received = new LinkedBlockingQueue<>();
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/hooks/T0001/secret-path", exchange -> {
      try (InputStream body = exchange.getRequestBody()) {
        received.add(exchange.getRequestMethod() + " " + exchange.getRequestHeaders().getFirst("Content-Type") + " "
            + new String(body.readAllBytes(), StandardCharsets.UTF_8));
      }
      exchange.sendResponseHeaders(204, -1);
      exchange.close();
    });
    server.start();
    started.add(() -> server.stop(0));
    String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/hooks/T0001/secret-path";
    Notifier notifier = notifier(Notifier.Settings.parse(Optional.empty(), Optional.of(url)));

    notifier.offer(question("q-1"));

    String request = received.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertThat(request).startsWith("POST application/json {");
    JsonNode body = Json.mapper().readTree(request.substring(request.indexOf('{')));
    assertThat(body.get("id").asText()).isEqualTo("q-1");
    assertThat(body.get("title").asText()).isEqualTo("core asks: q-1?");
  }

  @Test
  void secretsInANoticeAreRedactedBeforeTheyLeave() throws IOException {
    Redactor.remember(Map.of("LANES_NOTIFIER_TEST_TOKEN", "tok-5f2a9c1e-notifier"));
    Path out = dir.resolve("received");
    Notifier notifier = notifier(command(out));

    notifier.offer(new Notice("leak", "question", Optional.of("demo-1"), Optional.of("core"),
        "uses tok-5f2a9c1e-notifier", "the key is tok-5f2a9c1e-notifier, right?", List.of("answer"), T0));

    String line = Files.readAllLines(awaitFile(out, 1)).get(0);
    assertThat(line).doesNotContain("tok-5f2a9c1e-notifier")
        .contains("the key is [redacted:LANES_NOTIFIER_TEST_TOKEN], right?");
  }

  @Test
  void longTextsAreCutToWhatAReceiverTakes() throws IOException {
    Path out = dir.resolve("received");
    Notifier notifier = notifier(command(out));

    notifier.offer(new Notice("long", "stuck", Optional.of("demo-1"), Optional.empty(), "t".repeat(1000),
        "d".repeat(100_000), List.of(), T0));

    JsonNode got = awaitLines(out, 1).get(0);
    assertThat(got.get("task").isNull()).isTrue();
    assertThat(got.get("title").asText()).startsWith("t".repeat(200) + " [lanes: 800 more characters cut]");
    assertThat(got.get("detail").asText()).hasSizeLessThan(4100).endsWith("[lanes: 96000 more characters cut]");
  }

  @Test
  void withNowhereToSendOrOnceClosedEveryOfferIsOff() {
    Notifier none = notifier(Notifier.Settings.NONE);
    assertThat(none.offer(question("q-1"))).isEqualTo(Notifier.Outcome.OFF);

    Notifier closed = notifier(command(dir.resolve("received")));
    closed.close();
    assertThat(closed.offer(question("q-1"))).isEqualTo(Notifier.Outcome.OFF);
  }

  @ParameterizedTest
  @ValueSource(strings = {"file:/etc/passwd", "file:///etc/passwd", "ftp://example.com/x", "jar:http://h/x.jar!/a",
      "javascript:alert(1)", "gopher://example.com", "//example.com/hook", "example.com/hook", "http:///no-host",
      "http:/relative"})
  void webhookThatIsNotAnHttpAddressIsRefusedWhenParsed(String url) {
    assertThatThrownBy(() -> Notifier.Settings.parse(Optional.empty(), Optional.of(url)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("--webhook: \"" + url + "\" must");
  }

  @Test
  void webhookThatIsNotAUrlIsRefusedWithTheReason() {
    assertThatThrownBy(() -> Notifier.Settings.parse(Optional.empty(), Optional.of("http://exa mple.com/x")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("--webhook: \"http://exa mple.com/x\" is not a URL: Illegal character");
  }

  @Test
  void webhookWithAPasswordIsRefusedWithoutShowingIt() {
    assertThatThrownBy(() -> Notifier.Settings.parse(Optional.empty(),
        Optional.of("https://bot:hunter2-pass@hooks.example.com/x")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("--webhook: \"https://***@hooks.example.com/x\" must not carry a user or password")
        .message().doesNotContain("hunter2");
  }

  @Test
  void commandIsSplitIntoArgvWithQuotesAndNothingElseSpecial() {
    assertThat(Notifier.Settings.argv("notify-send Lanes")).containsExactly("notify-send", "Lanes");
    assertThat(Notifier.Settings.argv(
        "curl -sS -H 'Content-Type: application/json' --data-binary @- https://h.example/x?a=1&b=2"))
        .containsExactly("curl", "-sS", "-H", "Content-Type: application/json", "--data-binary", "@-",
            "https://h.example/x?a=1&b=2");
    assertThat(Notifier.Settings.argv("  ntfy  publish \"lanes \\\"alerts\\\"\" a\\ b ''"))
        .containsExactly("ntfy", "publish", "lanes \"alerts\"", "a b", "");
    assertThat(Notifier.Settings.argv("echo $(touch pwned) `id` $HOME ~ *; rm -rf /"))
        .containsExactly("echo", "$(touch", "pwned)", "`id`", "$HOME", "~", "*;", "rm", "-rf", "/");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "   ", "''", "notify-send 'Lanes", "say \"hi", "end\\"})
  void commandThatCannotBeArgvIsRefusedWhenParsed(String command) {
    assertThatThrownBy(() -> Notifier.Settings.parse(Optional.of(command), Optional.empty()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("--notify-command: \"" + command + "\" ");
  }

  @Test
  void commandOfUnboundedLengthIsRefused() {
    assertThatThrownBy(() -> Notifier.Settings.parse(Optional.of("x".repeat(5000)), Optional.empty()))
        .hasMessage("--notify-command: 5000 characters is more than the 4096 allowed");
  }

  private Notifier notifier(Notifier.Settings settings) {
    Notifier n = Notifier.start(settings, clock, dir);
    started.add(n);
    return n;
  }

  /** A command that appends what it reads to {@code out}, one line per notice. */
  private Notifier.Settings command(Path out) {
    try {
      Path script = script("append.sh", "cat >> \"$1\"\necho >> \"$1\"\n");
      return Notifier.Settings.parse(Optional.of(script + " " + out), Optional.empty());
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private Path script(String name, String body) throws IOException {
    Path script = dir.resolve(name);
    Files.writeString(script, "#!/bin/sh\n" + body);
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
    return script;
  }

  private static Notice question(String id) {
    return new Notice(id, "question", Optional.of("demo-1"), Optional.of("core"), "core asks: " + id + "?",
        "Which name, accountId or account_id?", List.of("answer", "cancel"), T0);
  }

  private static Path awaitFile(Path out, int lines) {
    await().atMost(WAIT).until(() -> Files.exists(out) && Files.readAllLines(out).size() >= lines);
    return out;
  }

  private static List<JsonNode> awaitLines(Path out, int lines) throws IOException {
    awaitFile(out, lines);
    List<JsonNode> nodes = new ArrayList<>();
    for (String line : Files.readAllLines(out)) {
      nodes.add(Json.mapper().readTree(line));
    }
    assertThat(nodes).hasSize(lines);
    return nodes;
  }
}
