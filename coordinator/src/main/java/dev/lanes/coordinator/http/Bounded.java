package dev.lanes.coordinator.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;

/** Gathers a request's body up to a limit; a larger one is answered 413 in JSON, as every error is, and closed. */
final class Bounded extends HttpObjectAggregator {
  private final int max;

  Bounded(int max) {
    super(max);
    this.max = max;
  }

  @Override
  protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
    Responses.errorAndClose(ctx, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "body: more than " + max
        + " bytes; at most " + max);
  }
}
