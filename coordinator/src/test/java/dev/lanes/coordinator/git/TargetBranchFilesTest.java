package dev.lanes.coordinator.git;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.coordinator.LeadException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TargetBranchFilesTest {
  @TempDir Path repo;

  @Test
  void files_listsEveryFileOfTheCommitInSortedOrderAndNoDirectories() throws Exception {
    git("init", "-q", "-b", "main");
    write("README.md", "core/src/A.java", "core/src/deep/er/B.java", "core-x/c.txt", "core.txt", "docs/x.md");
    Files.createSymbolicLink(repo.resolve("link"), Path.of("README.md"));
    commit("first");
    String first = git("rev-parse", "HEAD");
    write("later/new.txt");
    git("rm", "-q", "docs/x.md");
    commit("second");

    try (TargetBranch target = TargetBranch.open(repo)) {
      List<String> files = target.files(first);

      assertThat(files).containsExactly(
          "README.md", "core-x/c.txt", "core.txt", "core/src/A.java", "core/src/deep/er/B.java", "docs/x.md", "link");
      assertThat(files).isSorted();
      assertThat(target.files("main")).contains("later/new.txt").doesNotContain("docs/x.md");
      assertThat(target.files(target.resolveBase(Optional.empty()))).isEqualTo(target.files("main"));
    }
  }

  @Test
  void files_ofAnUnknownCommitNamesIt() throws Exception {
    git("init", "-q", "-b", "main");
    write("a.txt");
    commit("first");

    try (TargetBranch target = TargetBranch.open(repo)) {
      assertThatThrownBy(() -> target.files("no-such-branch"))
          .isInstanceOf(LeadException.class)
          .hasMessageContaining("\"no-such-branch\"");
    }
  }

  private void write(String... paths) throws IOException {
    for (String path : paths) {
      Path file = repo.resolve(path);
      Files.createDirectories(file.getParent());
      Files.writeString(file, path + "\n");
    }
  }

  private void commit(String message) throws Exception {
    git("add", "-A");
    git("-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-q", "-m", message);
  }

  private String git(String... args) throws Exception {
    List<String> argv = new ArrayList<>(List.of("git"));
    argv.addAll(List.of(args));
    Process p = new ProcessBuilder(argv).directory(repo.toFile()).redirectErrorStream(true).start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertThat(p.waitFor()).as("git %s: %s", String.join(" ", args), out).isZero();
    return out;
  }
}
