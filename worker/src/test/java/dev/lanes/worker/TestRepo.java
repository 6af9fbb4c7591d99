package dev.lanes.worker;

import dev.lanes.bus.Bus;
import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskRef;
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
 * The user's repository that a worker fetches from and pushes to (a {@link GitRepo}), and what the worker's tests need
 * besides: the offers a lead would publish for work on it, and a recorder of what appears on a topic.
 */
public final class TestRepo extends GitRepo {
  private TestRepo(Path dir) {
    super(dir);
  }

  /** A new repository on branch {@code main} with one commit holding {@code files}. */
  public static TestRepo withFiles(Path dir, Map<String, String> files) {
    return new TestRepo(GitRepo.withFiles(dir, files).dir());
  }

  /** A repository with a typical small layout: {@code core/file.txt}, {@code docs/README.md}. */
  public static TestRepo sample(Path dir) {
    return new TestRepo(GitRepo.sample(dir).dir());
  }

  /**
   * An offer of epoch 1 of {@code task} in run {@code run}, starting from {@code main}, owning {@code core/} and
   * {@code out/}, with no required capability and no verify command.
   */
  public TaskOffered offer(String run, String task, List<String> agent) {
    return offer(run, task, agent, Duration.ofSeconds(30), Optional.empty(), List.of());
  }

  public TaskOffered offer(String run, String task, List<String> agent, Duration timeout, Optional<String> verify,
      List<String> requires) {
    return offer(run, task, "Do " + task, "Please do " + task, agent, timeout, verify, requires, rev("main"));
  }

  public static TaskOffered offer(String run, String task, String title, String prompt, List<String> agent,
      Duration timeout, Optional<String> verify, List<String> requires, String baseCommit) {
    return new TaskOffered(run, "sample", task, 1, title, prompt, List.of("core/", "out/"), requires,
        new AgentSpec(agent, timeout.toMillis()), verify, baseCommit, TaskRef.branch(run, task, 1), Optional.empty());
  }

  /** Writes a file of the working tree. */
  /** Everything published on one topic of a bus, in order, for tests that play the other side. */
  public static final class Recorder implements AutoCloseable {
    private static final Duration PATIENCE = Duration.ofSeconds(20);
    private final List<Message> seen = new CopyOnWriteArrayList<>();
    private final Bus.Subscription subscription;

    public Recorder(Bus bus, String topic) {
      subscription = bus.subscribe(topic, Bus.Start.NOW, seen::add);
    }

    public <T extends Message> List<T> all(Class<T> type) {
      return seen.stream().filter(type::isInstance).map(type::cast).toList();
    }

    public <T extends Message> List<T> all(Class<T> type, Predicate<T> which) {
      return all(type).stream().filter(which).toList();
    }

    /** The first message of the type that matches, once there is one. */
    public <T extends Message> T awaitFirst(Class<T> type, Predicate<T> which) {
      Awaitility.await().atMost(PATIENCE).until(() -> all(type).stream().anyMatch(which));
      return all(type, which).get(0);
    }

    @Override
    public void close() {
      subscription.close();
    }
  }
}
