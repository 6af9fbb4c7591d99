package dev.lanes.bus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.Claim;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.PlanRevised;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.Topics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The events topic after the broker's cleaner has compacted it: what a lead that takes over replays. Each run's
 * records must keep keys of their own, whatever its tasks are called, or compaction keeps one and drops the other.
 */
class EventLogCompactionIT {
  private static final String RUN = "r-compacted";
  private static final AgentSpec AGENT = new AgentSpec(List.of("true"), 60_000);

  @TempDir Path dir;
  private EmbeddedBroker broker;
  private KafkaBus bus;

  @BeforeEach
  void start() throws Exception {
    broker = EmbeddedBroker.start(dir);
    bus = KafkaBus.connect(broker.bootstrapServers(), "compaction-test");
    bus.createTopics();
    // A segment rolls at the first record after 100 ms, and the cleaner looks for work every 100 ms.
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", broker.bootstrapServers()))) {
      alter(admin, new ConfigResource(ConfigResource.Type.TOPIC, Topics.EVENTS),
          Map.of("segment.ms", "100", "min.cleanable.dirty.ratio", "0.01"));
      alter(admin, new ConfigResource(ConfigResource.Type.BROKER, ""), Map.of("log.cleaner.backoff.ms", "100"));
    }
  }

  @AfterEach
  void stop() {
    bus.close();
    broker.close();
  }

  /**
   * A run whose tasks are called {@code plan}, {@code run} and {@code task}, with a revision recorded after their
   * updates. Under the old keys ({@code <run>/<task>}) the update of task {@code plan} shared the key of the revision,
   * and this test lost it.
   */
  @Test
  void replay_keepsTheLatestRecordOfEveryTaskAndOfThePlanAfterCompaction() {
    Plan plan = new Plan("p", Optional.empty(), "lanes/p", List.of(task("plan"), task("run"), task("task")));
    bus.publish(new RunStarted(RUN, "p", "lanes/p", "c0ffee", List.of("plan", "run", "task"), Optional.of(plan)));
    bus.publish(update("plan", TaskState.OFFERED, "offered"));
    bus.publish(update("plan", TaskState.RUNNING, "granted to w1"));
    bus.publish(update("run", TaskState.OFFERED, "offered"));
    bus.publish(update("task", TaskState.OFFERED, "offered"));
    bus.publish(new PlanRevised(RUN, plan.withTasks(List.of(task("plan"), task("run"), task("task"), task("more"))),
        "follow-up more"));

    // Compaction has run over those records once the superseded update of task plan is gone.
    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(300)).until(() -> {
      bus.publish(new TaskUpdate("filler", "f", TaskState.WAITING, 0, "", "roll", Optional.empty(), Optional.empty()))
          .get(10, TimeUnit.SECONDS);
      return replay().stream().noneMatch(m -> m instanceof TaskUpdate u && u.detail().equals("offered")
          && u.task().equals("plan"));
    });

    List<Message> mine = replay().stream().filter(m -> !(m instanceof TaskUpdate u && u.run().equals("filler")))
        .toList();
    assertThat(mine).hasSize(5);
    assertThat(mine).filteredOn(m -> m instanceof RunStarted).hasSize(1);
    assertThat(mine).filteredOn(m -> m instanceof PlanRevised).singleElement()
        .satisfies(r -> assertThat(((PlanRevised) r).definition().tasks()).hasSize(4));
    assertThat(mine).filteredOn(m -> m instanceof TaskUpdate).map(m -> (TaskUpdate) m)
        .extracting(u -> u.task() + " " + u.state())
        .containsExactly("plan RUNNING", "run OFFERED", "task OFFERED");
  }

  private List<Message> replay() {
    List<Message> all = new ArrayList<>();
    bus.replay(Topics.EVENTS, all::add);
    return all;
  }

  private static TaskUpdate update(String task, TaskState state, String detail) {
    return new TaskUpdate(RUN, task, state, 1, state == TaskState.RUNNING ? "w1" : "", detail, Optional.of("c0ffee"),
        Optional.empty());
  }

  private static Plan.Task task(String id) {
    return new Plan.Task(id, id, "do " + id, List.of(Claim.parse(id + "/")), List.of(), List.of(), AGENT,
        Optional.empty());
  }

  private static void alter(Admin admin, ConfigResource resource, Map<String, String> configs) throws Exception {
    Collection<AlterConfigOp> ops = new ArrayList<>();
    configs.forEach((k, v) -> ops.add(new AlterConfigOp(new ConfigEntry(k, v), AlterConfigOp.OpType.SET)));
    admin.incrementalAlterConfigs(Map.of(resource, ops)).all().get(30, TimeUnit.SECONDS);
  }
}
