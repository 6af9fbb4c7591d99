package dev.lanes.coordinator.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.coordinator.Board;
import dev.lanes.coordinator.BoardFeed;
import dev.lanes.testkit.MovableClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * One client's change stream on a channel whose thread runs only when the test says ({@link EmbeddedChannel}): what the
 * lead's loop hands over waits for that thread, a burst leaves in one flush, and a client whose thread falls too far
 * behind is disconnected rather than buffered for without bound.
 */
class EventStreamTest {
  private final Board board = new Board("lead-1", new MovableClock(Instant.parse("2026-12-03T09:00:00Z")), 4,
      new SimpleMeterRegistry());
  private final AtomicInteger flushes = new AtomicInteger();
  private final AtomicInteger open = new AtomicInteger(1);
  private EmbeddedChannel channel;

  @BeforeEach
  void start() {
    channel = new EmbeddedChannel(new ChannelOutboundHandlerAdapter() {
      @Override
      public void flush(ChannelHandlerContext ctx) {
        flushes.incrementAndGet();
        ctx.flush();
      }
    });
    EventStream.start(channel, board, Optional.empty(), open);
    assertThat(channel.<Object>readOutbound()).isInstanceOf(HttpResponse.class);
    assertThat(frames()).containsExactly(": events of the lead\n\n");
    flushes.set(0);
  }

  @Test
  void aBurstOfChanges_waitsForTheChannelsThread_andLeavesInOrderInOneFlush() {
    for (int i = 0; i < 3; i++) {
      BoardFeed.inboxChanged(board, Map.of("id", "item-" + i), true);
    }
    assertThat(frames()).as("nothing is written on the lead's loop").isEmpty();

    channel.runPendingTasks();

    List<String> frames = frames();
    assertThat(frames).hasSize(3);
    for (int i = 0; i < 3; i++) {
      assertThat(frames.get(i)).startsWith("id: " + (i + 1) + "\nevent: inbox\ndata: ").contains("item-" + i);
    }
    assertThat(flushes).hasValue(1);
  }

  @Test
  void aClientWhoseThreadFallsTooFarBehind_isDisconnected_andItsPlaceFreed() {
    for (int i = 0; i < EventStream.MAX_PENDING; i++) {
      BoardFeed.inboxChanged(board, Map.of("id", "item-" + i), true);
    }
    assertThat(channel.isOpen()).isTrue();

    BoardFeed.inboxChanged(board, Map.of("id", "one too many"), true);

    assertThat(channel.isOpen()).isFalse();
    channel.runPendingTasks();
    assertThat(open).hasValue(0);
  }

  private List<String> frames() {
    List<String> out = new ArrayList<>();
    for (Object m = channel.readOutbound(); m != null; m = channel.readOutbound()) {
      if (m instanceof HttpContent c) {
        out.add(c.content().toString(StandardCharsets.UTF_8));
        c.release();
      }
    }
    return out;
  }
}
