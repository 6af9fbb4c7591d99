package dev.lanes.bus;

import dev.lanes.protocol.Message;
import dev.lanes.protocol.ProtocolException;
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
  private final Envelope envelope;
  private final Map<String, List<Envelope.Sealed>> logs = new ConcurrentHashMap<>();
  private final List<Sub> subs = new CopyOnWriteArrayList<>();

  private final Map<String, Group> groups = new ConcurrentHashMap<>();

  /** A bus whose parties share {@link Envelope#inProcess}'s keys. */
  public MemoryBus() {
    this(Envelope.inProcess());
  }

  /** A bus that seals and opens every message with {@code envelope}. */
  public MemoryBus(Envelope envelope) {
    this.envelope = envelope;
  }

  @Override
  public java.util.Optional<dev.lanes.protocol.EnrolmentRequested> enrolment(String id) {
    return envelope.enrolment(id);
  }

  /**
   * Puts a record on a topic as it is, headers and all, the way anyone who reaches a broker could: for tests of what
   * the envelope refuses.
   */
  public synchronized void publishRaw(Envelope.Sealed record) {
    logs.computeIfAbsent(record.topic(), t -> new ArrayList<>()).add(record);
    for (Sub sub : subs) {
      if (sub.topic.equals(record.topic())) {
        sub.deliver(record);
      }
    }
    groups.values().stream().filter(g -> g.topic.equals(record.topic())).forEach(Group::catchUp);
  }

  @Override
  public synchronized CompletableFuture<Void> publish(Message message) {
    try {
      publishRaw(envelope.seal(message));
    } catch (BusException e) {
      return CompletableFuture.failedFuture(e);
    }
    return CompletableFuture.completedFuture(null);
  }

  @Override
  public synchronized Subscription subscribeExclusive(String topic, String group, Listener listener,
      java.util.function.Consumer<Boolean> onActive) {
    Group g = groups.computeIfAbsent(group, name -> new Group(topic, 0));
    Member member = new Member(g, listener, onActive);
    g.members.add(member);
    g.promote();
    return member;
  }

  @Override
  public void replay(String topic, Listener listener) {
    List<Envelope.Sealed> copy;
    synchronized (this) {
      copy = List.copyOf(logs.getOrDefault(topic, List.of()));
    }
    for (Envelope.Sealed record : copy) {
      try {
        open(record).ifPresent(listener::onMessage);
      } catch (ProtocolException e) {
        listener.onInvalid(topic, e);
      }
    }
  }

  /** A consumer group: the first member is active and reads from the group's position on. */
  private final class Group {
    final String topic;
    final List<Member> members = new ArrayList<>();
    int position;
    Member active;

    Group(String topic, int position) {
      this.topic = topic;
      this.position = position;
    }

    void promote() {
      if (active == null && !members.isEmpty()) {
        active = members.get(0);
        Member m = active;
        m.sub.thread.execute(() -> m.onActive.accept(true));
        catchUp();
      }
    }

    void catchUp() {
      List<Envelope.Sealed> log = logs.getOrDefault(topic, List.of());
      while (active != null && position < log.size()) {
        active.sub.deliver(log.get(position++));
      }
    }
  }

  private final class Member implements Subscription {
    final Group group;
    final Sub sub;
    final java.util.function.Consumer<Boolean> onActive;

    Member(Group group, Listener listener, java.util.function.Consumer<Boolean> onActive) {
      this.group = group;
      this.sub = new Sub(group.topic, listener);
      this.onActive = onActive;
    }

    @Override
    public void close() {
      synchronized (MemoryBus.this) {
        group.members.remove(this);
        if (group.active == this) {
          group.active = null;
          sub.thread.execute(() -> onActive.accept(false));
          group.promote();
        }
      }
      sub.close();
    }
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

  private java.util.Optional<Message> open(Envelope.Sealed record) {
    return envelope.open(record.topic(), record.key(), record.value(), record.from().orElse(null),
        record.mac().orElse(null));
  }

  @Override
  public void createTopics() {}

  /** Dead letters are kept as {@code source: reason} lines, for tests to look at. */
  private final List<String> dead = new java.util.concurrent.CopyOnWriteArrayList<>();

  @Override
  public void deadLetter(String source, byte[] value, String reason) {
    dead.add(source + ": " + reason);
  }

  public List<String> deadLetters() {
    return List.copyOf(dead);
  }

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

    void deliver(Envelope.Sealed record) {
      thread.execute(() -> {
        try {
          open(record).ifPresent(listener::onMessage);
        } catch (ProtocolException e) {
          deadLetter(topic, record.value(), e.getMessage());
          listener.onInvalid(topic, e);
        } finally {
          listener.handled(); // every message is a batch of its own here, handled whatever became of it
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
