package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The Java rules against git's own: {@code git check-ref-format --branch} decides each name here. */
class RefNameTest {
  @ParameterizedTest
  @ValueSource(strings = {
      "main", "lanes/x", "release/2026.12", "é/ü", "a@b", "a/@", "x.lock.y", "3f2c9ab4e1d07c5b8a6f90e2d4c1b7a853e6f012",
      "HEAD", "-x", "a..b", "a/.b", ".a", "a.lock", "a/b.lock/c", "x@{y", "@{", "a b", "a~1", "a^b", "a:b", "a?b",
      "a*b", "a[b", "a\\b", "a\tb", "a\u007fb", "../../hooks-x", "a/", "/a", "a//b", "a.", ""})
  void broken_agreesWithGit(String name) throws Exception {
    assertThat(RefName.broken(name).isEmpty()).as("\"%s\": %s", name, RefName.broken(name))
        .isEqualTo(gitAccepts(name));
  }

  @ParameterizedTest
  @ValueSource(strings = {"../../hooks-x", "-x", "a..b", "topic.lock", "x@{y"})
  void broken_namesTheRule(String name) {
    assertThat(RefName.broken(name)).hasValueSatisfying(why -> assertThat(why).isNotBlank());
  }

  /** Stricter than git: {@code @} alone (git's --branch reads it as the current branch) and very long names. */
  @ParameterizedTest
  @ValueSource(ints = {1, RefName.MAX_LENGTH + 1})
  void broken_beyondGit(int length) {
    String name = length == 1 ? "@" : "a".repeat(length);

    assertThat(RefName.broken(name)).isPresent();
    assertThat(RefName.broken("a".repeat(RefName.MAX_LENGTH))).isEmpty();
  }

  private static boolean gitAccepts(String name) throws IOException, InterruptedException {
    Process git = new ProcessBuilder(List.of("git", "check-ref-format", "--branch", name))
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    assertThat(git.waitFor(10, TimeUnit.SECONDS)).isTrue();
    return git.exitValue() == 0;
  }
}
