package dev.lanes.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lanes.protocol.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A real headless Chromium (Debian's {@code chromium}) driven over the Chrome DevTools Protocol: the JDK's WebSocket
 * client speaks to the page's debugging endpoint, so no WebDriver and no Selenium are needed. The test reads the page
 * by evaluating JavaScript in it, clicks with real mouse events at an element's place on the screen, types with key
 * input, and takes screenshots. It runs as root, hence {@code --no-sandbox}; its profile lives in the test's directory.
 */
final class Chromium implements AutoCloseable {
  static final int WIDTH = 1366;
  static final int HEIGHT = 900;
  private static final Duration CALL = Duration.ofSeconds(30);

  private final Process process;
  private final WebSocket socket;
  private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
  private final AtomicInteger ids = new AtomicInteger();

  private Chromium(Process process, WebSocket socket) {
    this.process = process;
    this.socket = socket;
  }

  /** Whether Debian's chromium is on the PATH. */
  static boolean installed() {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
      if (Files.isExecutable(Path.of(dir.isEmpty() ? "." : dir, "chromium"))) {
        return true;
      }
    }
    return false;
  }

  /** Starts a browser on about:blank with a profile in {@code dir} and connects to its one page. */
  static Chromium start(Path dir) throws IOException, InterruptedException {
    Path profile = Files.createDirectories(dir.resolve("chromium-profile"));
    ProcessBuilder builder = new ProcessBuilder("chromium", "--headless", "--no-sandbox", "--disable-gpu",
        "--hide-scrollbars", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
        "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", "--user-data-dir=" + profile,
        "--window-size=" + WIDTH + "," + HEIGHT, "about:blank")
        .redirectErrorStream(true).redirectOutput(dir.resolve("chromium.log").toFile());
    // Its singleton socket and lock go into the test's directory, not the machine's /tmp.
    builder.environment().put("TMPDIR", Files.createDirectories(dir.resolve("chromium-tmp")).toString());
    Process p = builder.start();
    try {
      Path active = profile.resolve("DevToolsActivePort");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!Files.exists(active) || Files.readAllLines(active).size() < 2) {
        if (System.nanoTime() > deadline || !p.isAlive()) {
          throw new IllegalStateException("chromium did not open its debugging port; see " + dir.resolve("chromium.log"));
        }
        Thread.sleep(50);
      }
      int port = Integer.parseInt(Files.readAllLines(active).get(0).strip());
      HttpClient http = HttpClient.newHttpClient();
      String list = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/json/list")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      String page = null;
      for (JsonNode target : Json.mapper().readTree(list)) {
        if (target.path("type").asText().equals("page")) {
          page = target.get("webSocketDebuggerUrl").asText();
        }
      }
      if (page == null) {
        throw new IllegalStateException("chromium has no page to drive: " + list);
      }
      Listener listener = new Listener();
      WebSocket socket = http.newWebSocketBuilder().buildAsync(URI.create(page), listener).get(30, TimeUnit.SECONDS);
      Chromium c = new Chromium(p, socket);
      listener.owner = c;
      c.call("Page.enable", Map.of());
      c.call("Emulation.setDeviceMetricsOverride", Map.of("width", WIDTH, "height", HEIGHT, "deviceScaleFactor", 1,
          "mobile", false));
      return c;
    } catch (IOException | InterruptedException | RuntimeException e) {
      end(p);
      throw e;
    } catch (Exception e) {
      end(p);
      throw new IllegalStateException("could not connect to chromium: " + e, e);
    }
  }

  /** Loads {@code url} in the page and waits until its document and scripts have loaded. */
  void open(String url) {
    call("Page.navigate", Map.of("url", url));
    await("document loaded", () -> eval("document.readyState").asText().equals("complete"));
  }

  /** The value of a JavaScript expression in the page (a promise is awaited), as JSON. */
  JsonNode eval(String expression) {
    JsonNode r = call("Runtime.evaluate", Map.of("expression", expression, "returnByValue", true,
        "awaitPromise", true));
    if (r.has("exceptionDetails")) {
      throw new IllegalStateException("the page threw on " + expression + ": " + r.get("exceptionDetails"));
    }
    return r.path("result").path("value");
  }

  /** The text of the first element {@code selector} finds, or null when there is none. */
  String text(String selector) {
    JsonNode v = eval("(function(){const e=document.querySelector(" + quote(selector) + ");return e?e.innerText:null})()");
    return v.isNull() || v.isMissingNode() ? null : v.asText();
  }

  /** How many elements {@code selector} finds. */
  int count(String selector) {
    return eval("document.querySelectorAll(" + quote(selector) + ").length").asInt();
  }

  /** Clicks the middle of the first element {@code selector} finds, with the mouse, as a person would. */
  void click(String selector) {
    JsonNode box = eval("(function(){const e=document.querySelector(" + quote(selector) + ");if(!e)return null;"
        + "e.scrollIntoView({block:'center'});const r=e.getBoundingClientRect();"
        + "return {x:r.left+r.width/2,y:r.top+r.height/2}})()");
    if (box.isNull() || box.isMissingNode()) {
      throw new IllegalStateException("nothing on the page matches " + selector);
    }
    double x = box.get("x").asDouble();
    double y = box.get("y").asDouble();
    call("Input.dispatchMouseEvent", Map.of("type", "mouseMoved", "x", x, "y", y));
    call("Input.dispatchMouseEvent", Map.of("type", "mousePressed", "x", x, "y", y, "button", "left", "clickCount", 1));
    call("Input.dispatchMouseEvent", Map.of("type", "mouseReleased", "x", x, "y", y, "button", "left",
        "clickCount", 1));
  }

  /** Types {@code text} into the element {@code selector} finds, after clicking it. */
  void type(String selector, String text) {
    click(selector);
    call("Input.insertText", Map.of("text", text));
  }

  /** Saves what the page shows, at the browser's window size, as a PNG. */
  void screenshot(Path file) throws IOException {
    JsonNode r = call("Page.captureScreenshot", Map.of("format", "png"));
    Files.createDirectories(file.toAbsolutePath().getParent());
    Files.write(file, Base64.getDecoder().decode(r.get("data").asText()));
  }

  /** Waits up to 30 s for {@code condition} about the page, re-read every 100 ms. */
  void await(String what, java.util.function.BooleanSupplier condition) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the page did not show " + what + " within 30 s; it shows:\n"
            + eval("document.body ? document.body.innerText : ''").asText());
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting for " + what);
      }
    }
  }

  /** Waits until the page's text passes {@code test}. */
  void awaitText(String what, Predicate<String> test) {
    await(what, () -> test.test(eval("document.body ? document.body.innerText : ''").asText()));
  }

  JsonNode call(String method, Map<String, Object> params) {
    int id = ids.incrementAndGet();
    ObjectNode message = Json.mapper().createObjectNode();
    message.put("id", id);
    message.put("method", method);
    message.set("params", Json.mapper().valueToTree(params));
    CompletableFuture<JsonNode> answer = new CompletableFuture<>();
    pending.put(id, answer);
    try {
      socket.sendText(Json.mapper().writeValueAsString(message), true).get(CALL.toSeconds(), TimeUnit.SECONDS);
      JsonNode reply = answer.get(CALL.toSeconds(), TimeUnit.SECONDS);
      if (reply.has("error")) {
        throw new IllegalStateException(method + ": " + reply.get("error"));
      }
      return reply.path("result");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted calling " + method);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException(method + " got no answer: " + e, e);
    } finally {
      pending.remove(id);
    }
  }

  private static String quote(String s) {
    try {
      return Json.mapper().writeValueAsString(s);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    try {
      call("Browser.close", Map.of()); // it removes what it made, which it does not when it is only signalled
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (RuntimeException e) {
      // it may close the connection before it answers; what is left is ended below
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    socket.abort();
    end(process);
  }

  /** Ends the browser and the helper processes it started (renderers, GPU, zygote). */
  private static void end(Process p) {
    List<ProcessHandle> all = new ArrayList<>(p.descendants().toList());
    p.destroy();
    all.forEach(ProcessHandle::destroy);
    try {
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    all.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
  }

  /** Puts the browser's answers together (a large one comes in pieces) and hands each to the call that waits. */
  private static final class Listener implements WebSocket.Listener {
    private final StringBuilder text = new StringBuilder();
    private volatile Chromium owner;

    @Override
    public CompletionStage<?> onText(WebSocket socket, CharSequence data, boolean last) {
      text.append(data);
      if (last) {
        try {
          JsonNode message = Json.mapper().readTree(text.toString());
          if (message.has("id") && owner != null) {
            CompletableFuture<JsonNode> f = owner.pending.get(message.get("id").asInt());
            if (f != null) {
              f.complete(message);
            }
          }
        } catch (IOException e) {
          // not JSON: the protocol sends nothing else, so this is a broken frame and its call times out
        }
        text.setLength(0);
      }
      socket.request(1);
      return null;
    }
  }
}
