package dev.lanes.coordinator.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.timeout.IdleStateEvent;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every request, in this order: one the codec could not read (too long a line or headers, malformed) is refused and
 * its connection closed; a method other than GET and POST is 405; a guarded path without the right token is 401,
 * whatever route it names; then the route, or 404, or 405 naming the methods its path takes. Every error is JSON.
 */
final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
  private static final Logger LOG = LoggerFactory.getLogger(Handler.class);

  private final Routes routes;
  private final Token token;

  Handler(Routes routes, Token token, HttpServer.Options options) {
    this.routes = routes;
    this.token = token;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
    if (request.decoderResult().isFailure()) {
      refuseUnreadable(ctx, request.decoderResult().cause());
      return;
    }
    boolean keepAlive = HttpUtil.isKeepAlive(request);
    try {
      serve(ctx, request, keepAlive);
    } catch (Routes.HttpError e) {
      Responses.send(ctx, Responses.error(e.status(), e.getMessage()), keepAlive);
    }
  }

  private void serve(ChannelHandlerContext ctx, FullHttpRequest request, boolean keepAlive) {
    HttpMethod method = request.method();
    if (!method.equals(HttpMethod.GET) && !method.equals(HttpMethod.POST)) {
      FullHttpResponse response = Responses.error(HttpResponseStatus.METHOD_NOT_ALLOWED, "method: "
          + Routes.cut(method.name()) + " is not served here; only GET and POST");
      response.headers().set(HttpHeaderNames.ALLOW, "GET, POST");
      Responses.send(ctx, response, keepAlive);
      return;
    }
    // The raw path: an id or a file name that needed escaping is not one this server has.
    String path = new QueryStringDecoder(request.uri()).rawPath();
    if (routes.guarded(path) && !token.admits(Optional.ofNullable(Routes.header(request)))) {
      FullHttpResponse response = Responses.error(HttpResponseStatus.UNAUTHORIZED, "Authorization: "
          + (Routes.header(request) == null ? "missing" : "not the lead's token")
          + "; send Authorization: Bearer TOKEN, with the token of the dashboard line or the lead's " + Token.FILE);
      response.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
      Responses.send(ctx, response, keepAlive);
      return;
    }
    Routes.Match match = routes.match(method.name(), path);
    if (match.route().isPresent()) {
      match.route().get().serve().serve(ctx, request, match.params(), keepAlive);
    } else if (!match.allowed().isEmpty()) {
      FullHttpResponse response = Responses.error(HttpResponseStatus.METHOD_NOT_ALLOWED, "method: " + method.name()
          + " is not served on " + Routes.cut(path) + "; it takes " + String.join(", ", match.allowed()));
      response.headers().set(HttpHeaderNames.ALLOW, String.join(", ", match.allowed()));
      Responses.send(ctx, response, keepAlive);
    } else {
      Responses.send(ctx, Responses.error(HttpResponseStatus.NOT_FOUND, "path: " + Routes.cut(path)
          + " is not a route of this server"), keepAlive);
    }
  }

  private static void refuseUnreadable(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof TooLongHttpLineException) {
      Responses.errorAndClose(ctx, HttpResponseStatus.REQUEST_URI_TOO_LONG, "request line: longer than "
          + HttpServer.MAX_LINE + " bytes; at most " + HttpServer.MAX_LINE);
    } else if (cause instanceof TooLongHttpHeaderException || cause instanceof TooLongFrameException) {
      Responses.errorAndClose(ctx, HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers: more than "
          + HttpServer.MAX_HEADERS + " bytes; at most " + HttpServer.MAX_HEADERS);
    } else {
      Responses.errorAndClose(ctx, HttpResponseStatus.BAD_REQUEST, "request: not HTTP/1.1 this server can read ("
          + Routes.cut(String.valueOf(cause.getMessage())) + ")");
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
    if (event instanceof IdleStateEvent) {
      ctx.close(); // a connection that neither asks nor is told anything for the idle timeout
      return;
    }
    super.userEventTriggered(ctx, event);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    LOG.warn("HTTP request failed: {}", cause.toString());
    if (ctx.channel().isActive()) {
      Responses.errorAndClose(ctx, HttpResponseStatus.INTERNAL_SERVER_ERROR, "the server failed: "
          + Routes.cut(String.valueOf(cause.getMessage())));
    }
  }
}
