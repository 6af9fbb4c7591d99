package dev.lanes.coordinator;

import dev.lanes.bus.Bus;
import dev.lanes.bus.EmbeddedBroker;
import dev.lanes.bus.KafkaBus;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.Topics;
import dev.lanes.protocol.WorkerStatus;
import dev.lanes.testkit.GitRepo;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import org.awaitility.Awaitility;

/**
 * A real broker and a real repository for a test that plays the workers of a lead under test: it hears every topic
 * but the dead letters from the start, announces workers, claims offers and reports results as a worker would.
 */
final class PlayedWorkers implements AutoCloseable {
  static final Duration PATIENCE = Duration.ofSeconds(30);

  private final EmbeddedBroker broker;
  private final KafkaBus bus;
  private final GitRepo repo;
  private final List<Message> seen = new CopyOnWriteArrayList<>();

  PlayedWorkers(Path dir, String client) {
    broker = EmbeddedBroker.start(dir.resolve("kafka"));
    bus = KafkaBus.connect(broker.bootstrapServers(), client);
    repo = GitRepo.sample(dir.resolve("repo"));
    bus.createTopics();
    for (String topic : Topics.all()) {
      if (!topic.equals(Topics.DEAD)) {
        bus.subscribe(topic, Bus.Start.BEGINNING, seen::add);
      }
    }
  }

  KafkaBus bus() {
    return bus;
  }

  GitRepo repo() {
    return repo;
  }

  /** Waits for {@code lead} to hold its role, then announces workers w1 and w2 (4 slots each) and waits for both. */
  void announce(Lead lead) {
    lead.awaitActive(PATIENCE);
    for (String worker : List.of("w1", "w2")) {
      bus.publish(new WorkerStatus(worker, "host", List.of(), 4, 0));
    }
    Awaitility.await().atMost(PATIENCE).until(() -> lead.knows("w1") && lead.knows("w2"));
  }

  /** Claims attempt {@code epoch} of {@code task} for {@code worker} once it is offered; returns the offer. */
  TaskOffered grant(Lead.RunHandle run, String task, String worker, int epoch) {
    TaskOffered offer = await(TaskOffered.class, o -> o.run().equals(run.id()) && o.task().equals(task)
        && o.epoch() == epoch);
    bus.publish(new ClaimRequested(run.id(), task, epoch, worker));
    await(ClaimGranted.class, g -> g.task().equals(task) && g.epoch() == epoch && g.worker().equals(worker));
    return offer;
  }

  /** The worker's report that the offer's agent exited with 1. */
  static TaskResult failed(TaskOffered offer, String worker) {
    return new TaskResult(offer.run(), offer.task(), offer.epoch(), worker, TaskResult.Outcome.AGENT_FAILED,
        offer.branch(), Optional.empty(), List.of(), 1, -1, "", "", 1, Optional.of("agent exited with 1"),
        Optional.empty());
  }

  /** Commits {@code files} onto the offer's base on its branch, and reports that it passed. */
  TaskResult passed(TaskOffered offer, String worker, Map<String, String> files) {
    String commit = repo.commitOnto(offer.baseCommit(), offer.branch(), files);
    return new TaskResult(offer.run(), offer.task(), offer.epoch(), worker, TaskResult.Outcome.PASSED, offer.branch(),
        Optional.of(commit), List.copyOf(files.keySet()), 0, 0, "", "", 1, Optional.empty(), Optional.empty());
  }

  TaskUpdate awaitUpdate(Predicate<TaskUpdate> which) {
    return await(TaskUpdate.class, which);
  }

  /** Every message of {@code type} heard so far, in the order heard. */
  <T extends Message> List<T> all(Class<T> type) {
    return seen.stream().filter(type::isInstance).map(type::cast).toList();
  }

  /** The first message of {@code type} that {@code which} accepts, once heard. */
  <T extends Message> T await(Class<T> type, Predicate<T> which) {
    Awaitility.await().atMost(PATIENCE).until(() -> all(type).stream().anyMatch(which));
    return all(type).stream().filter(which).findFirst().orElseThrow();
  }

  @Override
  public void close() {
    bus.close();
    broker.close();
  }
}
