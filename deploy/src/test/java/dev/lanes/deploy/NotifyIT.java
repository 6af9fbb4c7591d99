package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lanes.protocol.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lanes run --notify-command} with a real worker, a real scripted agent and a real notify command: a child
 * process that appends each notification, a line of JSON, to a file; the fake {@code claude} that the build puts on
 * this test's PATH reports a fixed cost per run. The run's end is the point after which nothing
 * more can be notified about it, so "once" is read from the file then.
 */
class NotifyIT {
  @org.junit.jupiter.api.extension.RegisterExtension static final ClassBroker BROKER = new ClassBroker();

  @TempDir Path dir;

  @Test
  void anAgentThatSleepsPastStuckAfterIsNotifiedOnce() throws IOException {
    Path repo = LanesRunIT.repo(dir);
    Path notes = dir.resolve("notes.jsonl");
    Path plan = Files.writeString(dir.resolve("stuck.yaml"), """
        name: stuck
        agent:
          command: [sh, -c, 'sleep 9; echo done > done.txt']
        tasks:
          - {id: slow, prompt: Take your time., owns: [done.txt]}
        """);

    LanesRunIT.Run run = LanesRunIT.run(BROKER.broker(), plan, repo, "--workers", "1", "--stuck-after", "2s",
        "--notify-command", "sh -c 'cat >> \"$0\"; echo >> \"$0\"' " + notes);

    assertThat(run.exit()).as(run.output()).isZero();
    List<JsonNode> sent = notes(notes);
    assertThat(sent).as(Files.readString(notes)).singleElement().satisfies(n -> {
      assertThat(n.path("kind").asText()).isEqualTo("stuck");
      assertThat(n.path("task").asText()).isEqualTo("slow");
      assertThat(n.path("run").asText()).startsWith("stuck-");
      assertThat(n.path("title").asText()).startsWith("The agent of slow on w1 made no progress for");
      assertThat(n.path("actions").toString()).contains("cancel-task");
    });
  }

  @Test
  void aRunThatReachesItsBudgetIsNotifiedOnce() throws IOException {
    Path notes = dir.resolve("notes.jsonl");
    // A chain at $0.30 an attempt (the fake claude on this test's PATH): the second attempt crosses $0.50, and the
    // third task waits; no later report of the paused run may notify again.
    Path repo = dir.resolve("repo");
    Path plan = ClaudeRunIT.capped(dir, repo);

    LanesRunIT.Run run = LanesRunIT.run(BROKER.broker(), plan, repo, "--workers", "1",
        "--notify-command", "sh -c 'cat >> \"$0\"; echo >> \"$0\"' " + notes);

    assertThat(run.exit()).as(run.output()).isEqualTo(1);
    assertThat(run.out()).contains("The budget stopped run capped-");
    List<JsonNode> sent = notes(notes);
    assertThat(sent).as(Files.readString(notes)).singleElement().satisfies(n -> {
      assertThat(n.path("kind").asText()).isEqualTo("budget");
      assertThat(n.path("run").asText()).startsWith("capped-");
      assertThat(n.path("detail").asText()).contains("spent $0.60 of the run's budget of $0.50");
      assertThat(n.path("actions").toString()).contains("raise-budget");
    });
  }

  @Test
  void aNotifyCommandThatNamesNoProgramIsBadInput() throws IOException {
    Path plan = Files.writeString(dir.resolve("p.yaml"), "name: p\nagent: {command: [\"true\"]}\ntasks:\n"
        + "  - {id: a, prompt: p, owns: [a.txt]}\n");
    LanesRunIT.Run run = LanesRunIT.run(BROKER.broker(), plan, LanesRunIT.repo(dir), "--notify-command", "''",
        "--stuck-after", "2s");

    assertThat(run.exit()).as(run.output()).isEqualTo(2);
    assertThat(run.err()).contains("--notify-command");
  }

  private static List<JsonNode> notes(Path file) throws IOException {
    List<JsonNode> out = new ArrayList<>();
    if (Files.exists(file)) {
      for (String line : Files.readAllLines(file)) {
        if (!line.isBlank()) {
          out.add(Json.mapper().readTree(line));
        }
      }
    }
    return out;
  }
}
