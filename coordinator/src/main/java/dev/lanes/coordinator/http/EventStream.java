package dev.lanes.coordinator.http;

import dev.lanes.coordinator.Board;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * One client's stream of the board's changes ({@code GET /api/events}), as server-sent events: {@code id: N},
 * {@code event: KIND}, {@code data: JSON}. A client that reconnects with {@code Last-Event-ID} gets what it missed
 * from the board's ring first; one that missed more than the ring keeps gets a {@code reset} event and must read
 * {@code /api/state} again. A client that does not keep up (its connection's buffer full) is disconnected rather than
 * buffered for without bound; it reconnects with the last id it saw.
 */
final class EventStream implements Consumer<Board.Event> {
  /** A comment line this often keeps the connection from looking idle to the server and to proxies. */
  static final long KEEPALIVE_SECONDS = 15;
  /**
   * The most events handed over and not yet written: a channel thread that falls this far behind the lead has a
   * client that does not keep up, which is disconnected and reconnects with its last id, as when its buffer is full.
   */
  static final int MAX_PENDING = 10_000;

  private final Channel channel;
  private final Board board;
  private final AtomicInteger open;
  private ScheduledFuture<?> keepalive;
  /** Events handed over by the lead's loop, written by the channel's thread in one go and flushed once. */
  private final Queue<Board.Event> pending = new ConcurrentLinkedQueue<>();
  private final AtomicInteger pendingCount = new AtomicInteger();
  private final AtomicBoolean drainScheduled = new AtomicBoolean();

  private EventStream(Channel channel, Board board, AtomicInteger open) {
    this.channel = channel;
    this.board = board;
    this.open = open;
  }

  /** Starts a stream on {@code channel} from the event after {@code lastSeen}, or from now when absent. */
  static void start(Channel channel, Board board, Optional<Long> lastSeen, AtomicInteger open) {
    EventStream stream = new EventStream(channel, board, open);
    HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    head.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
    head.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
    head.headers().set("X-Accel-Buffering", "no");
    Responses.secure(head.headers());
    HttpUtil.setTransferEncodingChunked(head, true);
    channel.write(head);
    channel.closeFuture().addListener(f -> stream.stop());
    // On the channel's own thread: events the board hands over from now on queue behind what is written here.
    Optional<List<Board.Event>> missed = board.follow(lastSeen.orElse(Long.MAX_VALUE), stream);
    if (missed.isEmpty()) {
      stream.write("event: reset\ndata: " + Board.json(new Board.Reset("events after " + lastSeen.orElseThrow()
          + " are no longer kept; read /api/state again")) + "\n\n");
    } else {
      missed.get().forEach(e -> stream.write(frame(e)));
    }
    stream.write(": events of the lead\n\n");
    channel.flush();
    if (!channel.isActive()) {
      return;
    }
    stream.keepalive = channel.eventLoop().scheduleAtFixedRate(() -> stream.send(": keepalive\n\n"),
        KEEPALIVE_SECONDS, KEEPALIVE_SECONDS, TimeUnit.SECONDS);
  }

  static String frame(Board.Event e) {
    return "id: " + e.id() + "\nevent: " + e.kind() + "\ndata: " + e.json() + "\n\n";
  }

  /**
   * A change, on the lead's loop: queued for the channel's thread, never waited for. A burst of changes wakes that
   * thread once and leaves in one flush, not one wake-up and one write to the socket each.
   */
  @Override
  public void accept(Board.Event event) {
    if (!channel.isActive()) {
      return;
    }
    if (!channel.isWritable() || pendingCount.incrementAndGet() > MAX_PENDING) {
      channel.close(); // it reconnects with its last id and reads what it missed, or is told to reset
      return;
    }
    pending.add(event);
    if (drainScheduled.compareAndSet(false, true)) {
      channel.eventLoop().execute(this::drain);
    }
  }

  /** On the channel's thread: writes every queued event (their JSON made here, not on the loop) and flushes once. */
  private void drain() {
    drainScheduled.set(false);
    boolean wrote = false;
    for (Board.Event e = pending.poll(); e != null; e = pending.poll()) {
      pendingCount.decrementAndGet();
      write(frame(e));
      wrote = true;
    }
    if (wrote) {
      channel.flush();
    }
  }

  private void send(String text) {
    channel.writeAndFlush(new DefaultHttpContent(Unpooled.copiedBuffer(text, StandardCharsets.UTF_8)));
  }

  private void write(String text) {
    channel.write(new DefaultHttpContent(Unpooled.copiedBuffer(text, StandardCharsets.UTF_8)));
  }

  private void stop() {
    board.unfollow(this);
    if (keepalive != null) {
      keepalive.cancel(false);
    }
    open.decrementAndGet();
  }
}
