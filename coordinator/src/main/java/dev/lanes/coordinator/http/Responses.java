package dev.lanes.coordinator.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;

/** Writing responses: every one with the security headers, every error as JSON naming what was wrong. */
final class Responses {
  static final String JSON = "application/json; charset=utf-8";

  private Responses() {}

  /** The headers every response carries: the page loads only its own files and is never framed or sniffed. */
  static void secure(HttpHeaders headers) {
    headers.set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none';"
        + " form-action 'none'");
    headers.set("X-Content-Type-Options", "nosniff");
    headers.set("X-Frame-Options", "DENY");
    headers.set("Referrer-Policy", "no-referrer");
  }

  static FullHttpResponse full(HttpResponseStatus status, String contentType, byte[] body, boolean api) {
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
        Unpooled.wrappedBuffer(body));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
    response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
    response.headers().set(HttpHeaderNames.CACHE_CONTROL, api ? "no-store" : "no-cache");
    secure(response.headers());
    return response;
  }

  static FullHttpResponse json(HttpResponseStatus status, String json) {
    return full(status, JSON, json.getBytes(StandardCharsets.UTF_8), true);
  }

  static FullHttpResponse error(HttpResponseStatus status, String message) {
    return json(status, dev.lanes.coordinator.Board.json(new Problem(status.code(), message)));
  }

  /** The body of every error: {@code {"status":400,"error":"usd: -1 must be a positive number of dollars"}}. */
  record Problem(int status, String error) {}

  /** Sends {@code response}, then closes the connection unless the request asked to keep it and it may be kept. */
  static void send(ChannelHandlerContext ctx, HttpResponse response, boolean keepAlive) {
    if (keepAlive) {
      response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
      ctx.writeAndFlush(response);
    } else {
      response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }
  }

  /** An error after which the connection cannot be trusted to be in step (a request it could not read whole). */
  static void errorAndClose(ChannelHandlerContext ctx, HttpResponseStatus status, String message) {
    send(ctx, error(status, message), false);
  }
}
