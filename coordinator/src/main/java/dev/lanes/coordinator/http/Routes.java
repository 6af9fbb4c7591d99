package dev.lanes.coordinator.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.lanes.coordinator.Action;
import dev.lanes.coordinator.Board;
import dev.lanes.coordinator.Lead;
import dev.lanes.protocol.Json;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every route the server has, in one table ({@link #table}): the API, the actions, {@code /metrics} and the
 * dashboard's files. A route under {@code /api/} or {@code /metrics} is guarded (the token is checked before the
 * route is even looked up, so an unknown path there is a 401 too, not a hint of what exists); the dashboard's files
 * carry no data and are not.
 */
final class Routes {
  /** A run id or task id in a path: what the lead admits as one (lower-case letters, digits and '-'). */
  private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,99}");
  private static final Pattern LAST_ID = Pattern.compile("[0-9]{1,18}");
  /** The longest id an inbox item can have: a kind, a run id and a task id (100 each) and an attempt. */
  private static final int MAX_ITEM_ID = 300;

  /** What a route does with a request whose path matched; {@code params} are the path's {@code {…}} parts. */
  interface Serve {
    void serve(ChannelHandlerContext ctx, FullHttpRequest request, List<String> params, boolean keepAlive);
  }

  /**
   * One route.
   *
   * @param template the path, with {@code {name}} for each part taken from it
   * @param guarded whether the token is needed
   */
  record Route(String method, String template, boolean guarded, Pattern pattern, Serve serve) {
    static Route of(String method, String template, boolean guarded, Serve serve) {
      return new Route(method, template, guarded,
          Pattern.compile(template.replaceAll("\\{[a-z]+}", "([^/]+)")), serve);
    }

    /** The path with each {@code {name}} filled in with a valid id, for tests that walk the table. */
    String example() {
      return template.replaceAll("\\{[a-z]+}", "x1");
    }
  }

  private final Lead lead;
  private final Board board;
  private final HttpServer.Options options;
  private final Executor actions;
  private final AtomicInteger streams;
  private final Static files;
  private final List<Route> table;

  Routes(Lead lead, HttpServer.Options options, Executor actions, AtomicInteger streams) {
    this.lead = lead;
    this.board = lead.board();
    this.options = options;
    this.actions = actions;
    this.streams = streams;
    this.files = new Static(options.dashboard());
    List<Route> all = new ArrayList<>(List.of(
        Route.of("GET", "/api/state", true, (ctx, req, p, keep) ->
            Responses.send(ctx, Responses.full(HttpResponseStatus.OK, Responses.JSON, board.state().jsonBytes(), true),
                keep)),
        Route.of("GET", "/api/events", true, (ctx, req, p, keep) -> events(ctx, req)),
        Route.of("GET", "/api/runs/{run}/tasks/{task}/log", true, this::log),
        Route.of("POST", "/api/runs/{run}/cancel", true, act(Action.Kind.CANCEL_RUN, Set.of())),
        Route.of("POST", "/api/runs/{run}/pause", true, act(Action.Kind.PAUSE, Set.of())),
        Route.of("POST", "/api/runs/{run}/resume", true, act(Action.Kind.RESUME, Set.of())),
        Route.of("POST", "/api/runs/{run}/budget", true, act(Action.Kind.RAISE_BUDGET, Set.of("usd"))),
        Route.of("POST", "/api/runs/{run}/tasks/{task}/cancel", true, act(Action.Kind.CANCEL_TASK, Set.of())),
        Route.of("POST", "/api/runs/{run}/tasks/{task}/retry", true, act(Action.Kind.RETRY, Set.of())),
        Route.of("POST", "/api/runs/{run}/tasks/{task}/answer", true, act(Action.Kind.ANSWER, Set.of("text"))),
        Route.of("POST", "/api/runs/{run}/tasks/{task}/approve", true, act(Action.Kind.APPROVE, Set.of())),
        Route.of("POST", "/api/inbox/dismiss", true, this::dismiss),
        Route.of("GET", "/metrics", !options.metricsPublic(), (ctx, req, p, keep) ->
            Responses.send(ctx, Responses.full(HttpResponseStatus.OK, "text/plain; version=0.0.4; charset=utf-8",
                lead.meters().scrape().getBytes(StandardCharsets.UTF_8), true), keep)),
        Route.of("GET", "/", false, (ctx, req, p, keep) -> file(ctx, "index.html", keep)),
        Route.of("GET", "/{file}", false, (ctx, req, p, keep) -> file(ctx, p.get(0), keep))));
    this.table = List.copyOf(all);
  }

  /** Every route, in the order they are tried. */
  List<Route> table() {
    return table;
  }

  /** Whether a path needs the token whatever its method or route: all of {@code /api/} and {@code /metrics}. */
  boolean guarded(String path) {
    return path.equals("/api") || path.startsWith("/api/") || path.equals("/metrics") && !options.metricsPublic()
        || path.startsWith("/metrics/");
  }

  private void events(ChannelHandlerContext ctx, FullHttpRequest request) {
    Optional<Long> last;
    String header = request.headers().get("Last-Event-ID");
    if (header == null || header.isBlank()) {
      last = Optional.empty();
    } else if (LAST_ID.matcher(header.strip()).matches()) {
      last = Optional.of(Long.parseLong(header.strip()));
    } else {
      throw new HttpError(HttpResponseStatus.BAD_REQUEST, "Last-Event-ID: \"" + cut(header)
          + "\" is not an event number (digits, as the id: lines of this stream)");
    }
    if (streams.incrementAndGet() > options.maxEventStreams()) {
      streams.decrementAndGet();
      throw new HttpError(HttpResponseStatus.SERVICE_UNAVAILABLE, "events: " + options.maxEventStreams()
          + " event streams are open, the most this lead serves; close one");
    }
    EventStream.start(ctx.channel(), board, last, streams);
  }

  private void log(ChannelHandlerContext ctx, FullHttpRequest request, List<String> params, boolean keep) {
    String run = id("run", params.get(0));
    String task = id("task", params.get(1));
    if (!board.knows(run)) {
      throw new HttpError(HttpResponseStatus.NOT_FOUND, "run: \"" + run + "\" is not a run this lead shows");
    }
    Board.TaskLog log = board.log(run, task).orElseThrow(() -> new HttpError(HttpResponseStatus.NOT_FOUND,
        "task: \"" + task + "\" is not a task of run " + run));
    Responses.send(ctx, Responses.json(HttpResponseStatus.OK, Board.json(log)), keep);
  }

  private void file(ChannelHandlerContext ctx, String name, boolean keep) {
    Static.File file = files.file(name).orElseThrow(() -> new HttpError(HttpResponseStatus.NOT_FOUND,
        "path: /" + cut(name) + " is not a file of the dashboard"));
    Responses.send(ctx, Responses.full(HttpResponseStatus.OK, file.type(), file.bytes(), false), keep);
  }

  /**
   * An action route: the body is read and checked here, the action taken on a thread of its own (the lead's loop may
   * be busy) and answered with the decision recorded, or the refusal.
   */
  private Serve act(Action.Kind kind, Set<String> fields) {
    return (ctx, request, params, keep) -> {
      String run = id("run", params.get(0));
      Optional<String> task = kind.onTask() ? Optional.of(id("task", params.get(1))) : Optional.empty();
      JsonNode body = body(request.content(), fields);
      Optional<String> text = field(body, "text").map(n -> {
        if (!n.isTextual()) {
          throw new HttpError(HttpResponseStatus.BAD_REQUEST, "text: " + cut(n.toString()) + " is not a string");
        }
        return n.textValue();
      });
      Optional<Double> usd = field(body, "usd").map(n -> {
        if (!n.isNumber()) {
          throw new HttpError(HttpResponseStatus.BAD_REQUEST, "usd: " + cut(n.toString())
              + " is not a number of dollars");
        }
        return n.doubleValue();
      });
      Action action;
      try {
        action = new Action(kind, run, task, text, usd, "http");
      } catch (Action.Refused e) {
        throw new HttpError(status(e.why()), e.getMessage());
      }
      onLead(ctx, keep, action.describe(), () -> lead.act(action));
    };
  }

  /** {@code POST /api/inbox/dismiss}, body {@code {"id":"worker-lost:w1"}}: clears an item a person has seen. */
  private void dismiss(ChannelHandlerContext ctx, FullHttpRequest request, List<String> params, boolean keep) {
    JsonNode id = field(body(request.content(), Set.of("id")), "id").orElseThrow(() -> new HttpError(
        HttpResponseStatus.BAD_REQUEST, "id: missing; dismiss names the item, as the inbox lists it"));
    if (!id.isTextual() || id.textValue().isBlank() || id.textValue().length() > MAX_ITEM_ID) {
      throw new HttpError(HttpResponseStatus.BAD_REQUEST, "id: " + cut(id.toString()) + " is not an item's id");
    }
    onLead(ctx, keep, "dismiss " + cut(id.textValue()), () -> lead.dismiss(id.textValue(), "http").view());
  }

  /**
   * Runs {@code call} against the lead on a thread of the action pool (the lead's loop may be busy) and answers with
   * what it returns as JSON, or the refusal with its status.
   */
  private void onLead(ChannelHandlerContext ctx, boolean keep, String what, java.util.function.Supplier<?> call) {
    try {
      CompletableFuture.supplyAsync(call, actions).whenComplete((done, failure) -> {
        if (failure == null) {
          Responses.send(ctx, Responses.json(HttpResponseStatus.OK, Board.json(done)), keep);
        } else {
          Throwable cause = failure instanceof java.util.concurrent.CompletionException ? failure.getCause()
              : failure;
          Responses.send(ctx, cause instanceof Action.Refused r ? Responses.error(status(r.why()), r.getMessage())
              : Responses.error(HttpResponseStatus.INTERNAL_SERVER_ERROR, what + ": the lead failed: "
                  + cause.getMessage()), keep);
        }
      });
    } catch (RejectedExecutionException e) {
      throw new HttpError(HttpResponseStatus.SERVICE_UNAVAILABLE, what
          + ": too many actions are waiting for the lead; try again");
    }
  }

  static HttpResponseStatus status(Action.Refused.Why why) {
    switch (why) {
      case NOT_FOUND:
        return HttpResponseStatus.NOT_FOUND;
      case CONFLICT:
        return HttpResponseStatus.CONFLICT;
      case NOT_AVAILABLE:
        return HttpResponseStatus.NOT_IMPLEMENTED;
      default:
        return HttpResponseStatus.BAD_REQUEST;
    }
  }

  /** The body as a JSON object with only {@code fields} in it; an empty body is an empty object. */
  static JsonNode body(ByteBuf content, Set<String> fields) {
    if (content.readableBytes() == 0) {
      return Json.mapper().createObjectNode();
    }
    String text = content.toString(StandardCharsets.UTF_8);
    JsonNode node;
    try {
      node = Json.mapper().readTree(text);
    } catch (JsonProcessingException e) {
      throw new HttpError(HttpResponseStatus.BAD_REQUEST, "body: not JSON: " + e.getOriginalMessage()
          + Optional.ofNullable(e.getLocation()).map(l -> " at line " + l.getLineNr() + ", column "
              + l.getColumnNr()).orElse(""));
    }
    if (node == null || !node.isObject()) {
      throw new HttpError(HttpResponseStatus.BAD_REQUEST, "body: " + cut(text) + " is not a JSON object"
          + (fields.isEmpty() ? "" : " with " + String.join(", ", fields)));
    }
    for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!fields.contains(name)) {
        throw new HttpError(HttpResponseStatus.BAD_REQUEST, cut(name) + ": not a field this action takes"
            + (fields.isEmpty() ? " (it takes none)" : " (it takes " + String.join(", ", fields) + ")"));
      }
    }
    return node;
  }

  private static Optional<JsonNode> field(JsonNode body, String name) {
    return Optional.ofNullable(body.get(name));
  }

  private static String id(String field, String value) {
    if (!ID.matcher(value).matches()) {
      throw new HttpError(HttpResponseStatus.BAD_REQUEST, field + ": \"" + cut(value) + "\" is not a " + field
          + " id: lower-case letters, digits and '-', at most 100");
    }
    return value;
  }

  /** Echoes of what a client sent stay short. */
  static String cut(String text) {
    return text.length() <= 80 ? text : text.substring(0, 80) + "...";
  }

  /** The route for a request: matched by path, then by method. */
  Match match(String method, String path) {
    List<String> allowed = new ArrayList<>();
    for (Route route : table) {
      Matcher m = route.pattern().matcher(path);
      if (!m.matches()) {
        continue;
      }
      if (!route.method().equals(method)) {
        allowed.add(route.method());
        continue;
      }
      List<String> params = new ArrayList<>();
      for (int i = 1; i <= m.groupCount(); i++) {
        params.add(m.group(i));
      }
      return new Match(Optional.of(route), params, allowed);
    }
    return new Match(Optional.empty(), List.of(), allowed);
  }

  /** What a request matched: a route, or none (404), or a path whose routes take other methods (405). */
  record Match(Optional<Route> route, List<String> params, List<String> allowed) {}

  /** An error answered as JSON: {@code {"status":N,"error":"..."}}. */
  static final class HttpError extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient HttpResponseStatus status;

    HttpError(HttpResponseStatus status, String message) {
      super(message);
      this.status = status;
    }

    HttpResponseStatus status() {
      return status;
    }
  }

  static String header(FullHttpRequest request) {
    return request.headers().get(HttpHeaderNames.AUTHORIZATION);
  }
}
