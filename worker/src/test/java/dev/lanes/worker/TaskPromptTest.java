package dev.lanes.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.TaskOffered;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class TaskPromptTest {
  private static final String BASE = "0123456789abcdef0123456789abcdef01234567";

  @Test
  void build_startsWithTheTasksPromptThenItsRules() {
    String prompt = TaskPrompt.build(offer("Rename userId to accountId in core.\n", List.of("core/", "**/*.md"),
        Optional.of("./mvnw -q -pl core test")));

    assertThat(prompt).startsWith("Rename userId to accountId in core.\n\n## How Lanes runs this task\n");
    assertThat(prompt).contains("\n- core/\n- **/*.md\n")
        .contains("Changes to any other file are rejected")
        .contains("exits 0:\n    ./mvnw -q -pl core test\n")
        .contains(".lanes/findings.json")
        .contains("\"follow-ups\"", "\"needs\"", "\"questions\"", "\"notes\"");
  }

  @Test
  void build_withoutVerifySaysSo() {
    assertThat(TaskPrompt.build(offer("p", List.of("core/"), Optional.empty())))
        .contains("No verify command is set for this task").doesNotContain("exits 0");
  }

  @Test
  void build_multiLineVerifyStaysIndented() {
    assertThat(TaskPrompt.build(offer("p", List.of("core/"), Optional.of("make\nmake test\n"))))
        .contains("exits 0:\n    make\n    make test\n\n");
  }

  @Test
  void build_theSchemaItShowsIsOneFindingsAccepts() {
    String prompt = TaskPrompt.build(offer("p", List.of("core/"), Optional.empty()));
    Matcher example = Pattern.compile("\n    (\\{\"follow-ups\".*?})\n(?!     )", Pattern.DOTALL).matcher(prompt);

    assertThat(example.find()).as(prompt).isTrue();
    List<Findings.Item> items = Findings.parse(example.group(1).getBytes(StandardCharsets.UTF_8));
    assertThat(items).extracting(Findings.Item::kind)
        .containsExactly("follow-up", "needs-paths", "question", "note");
  }

  private static TaskOffered offer(String prompt, List<String> owns, Optional<String> verify) {
    return new TaskOffered("r1", "plan", "core", 1, "Rename", prompt, owns, List.of(),
        new AgentSpec(List.of("true"), 60_000), verify, BASE, "lanes-work/r1/core/e1", Optional.empty());
  }
}
