package dev.lanes.worker;

import dev.lanes.process.ChildProcess;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.ClaudeAgent;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentAdapterTest {
  private static final AgentAdapter.Request REQUEST =
      new AgentAdapter.Request("- rename userId\n- keep the JSON name", "core", Path.of("/w/core-e1"));
  private static final ClaudeAgent ALL_OPTIONS = new ClaudeAgent(List.of("Read", "Edit", "Bash(./mvnw *)"),
      Optional.of(40), Optional.of(2.5), Optional.of("sonnet"));

  @Test
  void of_picksTheAdapterOfTheSpec() {
    assertThat(AgentAdapter.of(new AgentSpec(List.of("sh", "-c", "true"), 1000))).isInstanceOf(CommandAdapter.class);
    assertThat(AgentAdapter.of(AgentSpec.claude(ClaudeAgent.defaults(), 1000))).isInstanceOf(ClaudeAdapter.class);
  }

  @Test
  void claude_argvWithEveryOption() {
    assertThat(new ClaudeAdapter(ALL_OPTIONS).argv(REQUEST)).containsExactly(
        "claude", "-p", "--output-format", "stream-json", "--verbose",
        "--allowedTools", "Read,Edit,Bash(./mvnw *)",
        "--max-turns", "40",
        "--max-budget-usd", "2.5",
        "--model", "sonnet",
        "--", "- rename userId\n- keep the JSON name");
  }

  @Test
  void claude_argvWithoutOptions() {
    assertThat(new ClaudeAdapter(ClaudeAgent.defaults()).argv(REQUEST)).containsExactly(
        "claude", "-p", "--output-format", "stream-json", "--verbose", "--", "- rename userId\n- keep the JSON name");
  }

  @Test
  void claude_budgetIsAPlainNumber() {
    ClaudeAgent small = new ClaudeAgent(List.of(), Optional.empty(), Optional.of(0.0001), Optional.empty());
    ClaudeAgent whole = new ClaudeAgent(List.of(), Optional.empty(), Optional.of(3.0), Optional.empty());

    assertThat(new ClaudeAdapter(small).argv(REQUEST)).containsSubsequence("--max-budget-usd", "0.0001");
    assertThat(new ClaudeAdapter(whole).argv(REQUEST)).containsSubsequence("--max-budget-usd", "3");
  }

  @Test
  void claude_describe() {
    assertThat(new ClaudeAdapter(ALL_OPTIONS).describe()).isEqualTo("claude (sonnet, at most 40 turns, budget $2.50)");
    assertThat(new ClaudeAdapter(ClaudeAgent.defaults()).describe()).isEqualTo("claude");
  }

  @Test
  void command_argvReplacesPlaceholdersInsideElements() {
    CommandAdapter adapter = new CommandAdapter(List.of("agent", "--task={task}", "{prompt}", "in {worktree}/x"));

    assertThat(adapter.argv(REQUEST))
        .containsExactly("agent", "--task=core", "- rename userId\n- keep the JSON name", "in /w/core-e1/x");
  }

  @Test
  void command_substituteTakesReplacementsLiterally() {
    assertThat(CommandAdapter.substitute("a{prompt}b{task}c{nope}", Map.of("prompt", "$1 \\ $", "task", "{prompt}")))
        .isEqualTo("a$1 \\ $b{prompt}c{nope}");
  }

  @Test
  void command_describeShowsAShortTemplateOnly() {
    assertThat(new CommandAdapter(List.of("aider", "--yes", "{prompt}")).describe()).isEqualTo("aider --yes {prompt}");
    assertThat(new CommandAdapter(List.of("sh", "-c", "x".repeat(80))).describe()).isEmpty();
  }

  @Test
  void command_watchUnderstandsNothing() {
    AgentAdapter.Watch watch = new CommandAdapter(List.of("true")).watch(REQUEST, p -> {}, new ChildProcess.Stop());
    watch.line("{\"type\":\"result\",\"subtype\":\"error_max_turns\",\"is_error\":true}");

    assertThat(watch.usage()).isEmpty();
    assertThat(watch.tail("last words")).isEqualTo("last words");
  }

  /**
   * The adapter's command line against the real Claude Code CLI, when one is installed (on the PATH, or named by
   * {@code -Dlanes.test.claude=PATH}): every option is known to it, and without credentials it still prints a stream
   * that ends in a result. The run gets an empty home and no credentials from the environment, so it spends nothing.
   */
  @Test
  void claude_realCliAcceptsTheArgv(@TempDir Path dir) throws IOException, InterruptedException {
    Optional<Path> claude = realClaude();
    Assumptions.assumeTrue(claude.isPresent(), "no claude CLI installed");
    List<String> argv = new ArrayList<>(new ClaudeAdapter(new ClaudeAgent(List.of("Read", "Edit", "Bash(./mvnw *)"),
        Optional.of(1), Optional.of(0.01), Optional.of("haiku")))
        .argv(new AgentAdapter.Request("- Reply with the word OK.", "core", dir)));
    argv.set(0, claude.get().toString());
    ProcessBuilder builder = new ProcessBuilder(argv).directory(dir.toFile()).redirectErrorStream(true)
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    List.of("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK",
        "CLAUDE_CODE_USE_VERTEX").forEach(builder.environment()::remove);
    builder.environment().put("HOME", Files.createDirectories(dir.resolve("home")).toString());
    builder.environment().put("CLAUDE_CONFIG_DIR", dir.resolve("home/.claude").toString());
    Process process = builder.start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();

    assertThat(output).doesNotContain("unknown option", "requires --verbose", "Input must be provided");
    ClaudeStream stream = new ClaudeStream(dir);
    output.lines().forEach(stream::accept);
    assertThat(stream.result()).as(output).isPresent();
    assertThat(stream.malformed()).as(output).isZero();
  }

  private static Optional<Path> realClaude() {
    String named = System.getProperty("lanes.test.claude", "");
    if (!named.isEmpty()) {
      return Optional.of(Path.of(named));
    }
    for (String entry : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      Path p = Path.of(entry.isEmpty() ? "." : entry).resolve("claude");
      if (Files.isExecutable(p) && !Files.isDirectory(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }
}
