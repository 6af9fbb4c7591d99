package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SetupBenchTest {
  private static final Pattern LAST =
      Pattern.compile("setup n=(\\d+) lanes_ms_p50=(\\d+\\.\\d) git_ms_p50=(\\d+\\.\\d) ratio=(\\d+\\.\\d\\d)");

  @Test
  void benchPrintsItsFiguresAndTheSummaryAsTheLastLine() {
    StringWriter out = new StringWriter();

    int code = Main.execute(new PrintWriter(out), new PrintWriter(new StringWriter()),
        "bench", "setup", "--files", "60", "--iterations", "3", "--warmup", "1");

    assertThat(code).isZero();
    List<String> lines = out.toString().lines().toList();
    Matcher last = LAST.matcher(lines.get(lines.size() - 1));
    assertThat(last.matches()).as(out.toString()).isTrue();
    assertThat(last.group(1)).isEqualTo("3");
    assertThat(Double.parseDouble(last.group(2))).isPositive();
    assertThat(Double.parseDouble(last.group(3))).isPositive();
    assertThat(lines).anyMatch(l -> l.startsWith("generated 60 files in "))
        .anyMatch(l -> l.contains("lanes setup") && l.contains("p50"))
        .anyMatch(l -> l.contains("git worktree add -b") && l.contains("p50"));
  }

  @Test
  void generatedTreeIsDeepAndHasTheRequestedFiles(@TempDir Path dir) throws IOException {
    SetupBench.Tree tree = SetupBench.generate(dir, 500);

    try (Stream<Path> files = Files.walk(dir)) {
      assertThat(files.filter(Files::isRegularFile).count()).isEqualTo(500);
    }
    assertThat(tree.depth()).isGreaterThanOrEqualTo(8);
    assertThat(tree.directories()).isGreaterThan(50);
  }
}
