package dev.lanes.process;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The allow-list on its own: which of a parent's variables a child gets. */
class EnvironmentTest {
  private static final Map<String, String> PARENT = Map.ofEntries(
      Map.entry("PATH", "/usr/bin:/bin"), Map.entry("HOME", "/home/me"), Map.entry("USER", "me"),
      Map.entry("LANG", "C.UTF-8"), Map.entry("LC_ALL", "C"), Map.entry("LC_TIME", "C"), Map.entry("TERM", "xterm"),
      Map.entry("TMPDIR", "/tmp"), Map.entry("SHELL", "/bin/sh"),
      Map.entry("ANTHROPIC_API_KEY", "sk-ant-canary"), Map.entry("ANTHROPIC_BASE_URL", "http://proxy"),
      Map.entry("CLAUDE_CODE_USE_BEDROCK", "1"), Map.entry("MY_SERVICE_TOKEN", "canary-token"),
      Map.entry("LANES_LOG", "debug"), Map.entry("GIT_DIR", "/elsewhere/.git"), Map.entry("LCX", "not a locale"),
      Map.entry("PATHS", "not PATH"));

  @Test
  void baseAllowsOnlyTheBaseNames() {
    Map<String, String> child = Environment.allowing(List.of()).resolve(PARENT);

    assertThat(child).containsOnlyKeys("PATH", "HOME", "USER", "LANG", "LC_ALL", "LC_TIME", "TERM", "TMPDIR", "SHELL");
  }

  @Test
  void aPrefixPatternAllowsItsFamilyAndANameOnlyItself() {
    Map<String, String> child = Environment.allowing(List.of("ANTHROPIC_*", "CLAUDE_CODE_*", "MY_SERVICE_TOKEN"))
        .resolve(PARENT);

    assertThat(child).containsEntry("ANTHROPIC_API_KEY", "sk-ant-canary").containsKey("ANTHROPIC_BASE_URL")
        .containsKey("CLAUDE_CODE_USE_BEDROCK").containsEntry("MY_SERVICE_TOKEN", "canary-token")
        .doesNotContainKeys("LCX", "PATHS", "LANES_LOG", "GIT_DIR");
  }

  @Test
  void setVariablesReplaceTheParentsAndLanesVariablesComeOnlyFromThere() {
    Map<String, String> child = Environment.allowing(List.of())
        .with(Map.of("PATH", "/opt/fake:/usr/bin", "LANES_TASK", "core")).resolve(PARENT);

    assertThat(child).containsEntry("PATH", "/opt/fake:/usr/bin").containsEntry("LANES_TASK", "core")
        .doesNotContainKey("LANES_LOG");
  }

  @Test
  void theParentsGitLocationNeverPassesEvenWhenInheritedOrAllowed() {
    assertThat(Environment.inherited().resolve(PARENT)).doesNotContainKey("GIT_DIR").containsKey("MY_SERVICE_TOKEN");
    assertThat(Environment.allowing(List.of("GIT_DIR")).resolve(PARENT)).doesNotContainKey("GIT_DIR");
  }

  @Test
  void allowAddsToWhatWasAllowed() {
    Environment env = Environment.allowing(List.of("ANTHROPIC_*")).allow(List.of("MY_SERVICE_TOKEN"));

    assertThat(env.allows("ANTHROPIC_API_KEY")).isTrue();
    assertThat(env.allows("MY_SERVICE_TOKEN")).isTrue();
    assertThat(env.allows("MY_SERVICE_TOKEN_2")).isFalse();
    assertThat(env.toString()).doesNotContain("sk-ant");
  }
}
