package dev.lanes.bus;

import dev.lanes.protocol.Json;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.ProtocolException;
import dev.lanes.protocol.Topics;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * An in-process bus for fast unit tests. Messages still go through the JSON codec, and each subscription delivers on
 * a thread of its own in publish order, so code that works here meets the same threading and encoding as on Kafka.
 * Never a substitute for the Kafka path in integration tests.
 */
public final class MemoryBus implements Bus {
  private final Map<String, List<byte[]>> logs = new ConcurrentHashMap<>();
  private final List<Sub> subs = new CopyOnWriteArrayList<>();

  @Override
  public synchronized CompletableFuture<Void> publish(Message message) {
    String topic = Topics.of(message);
    byte[] bytes = Json.encode(message);
    logs.computeIfAbsent(topic, t -> new ArrayList<>()).add(bytes);
    for (Sub sub : subs) {
      if (sub.topic.equals(topic)) {
        sub.deliver(bytes);
      }
    }
    return CompletableFuture.completedFuture(null);
  }

  @Override
  public synchronized Subscription subscribe(String topic, Start start, Listener listener) {
    Sub sub = new Sub(topic, listener);
    if (start == Start.BEGINNING) {
      logs.getOrDefault(topic, List.of()).forEach(sub::deliver);
    }
    subs.add(sub);
    return sub;
  }

  @Override
  public void createTopics() {}

  @Override
  public void close() {
    subs.forEach(Sub::close);
  }

  private final class Sub implements Subscription {
    final String topic;
    final Listener listener;
    final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "memory-bus");
      t.setDaemon(true);
      return t;
    });

    Sub(String topic, Listener listener) {
      this.topic = topic;
      this.listener = listener;
    }

    void deliver(byte[] bytes) {
      thread.execute(() -> {
        try {
          listener.onMessage(Json.decode(bytes));
        } catch (ProtocolException e) {
          listener.onInvalid(topic, e);
        }
      });
    }

    @Override
    public void close() {
      synchronized (MemoryBus.this) {
        subs.remove(this);
      }
      thread.shutdown();
      try {
        thread.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
