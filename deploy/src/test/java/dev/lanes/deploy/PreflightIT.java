package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.testkit.GitRepo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lanes run} as a process of its own, refused before anything starts: every mistake of a newcomer's first plan
 * is reported at once, and the refused run leaves no run directory, mirror or broker behind (its temporary directory
 * is one of the test's, so whatever it made there would show).
 */
class PreflightIT {
  @TempDir Path dir;

  @Test
  void aRunOnTheCheckedOutBranchIsRefusedWithEveryWarningAndLeavesNothingBehind() throws Exception {
    GitRepo repo = GitRepo.sample(dir.resolve("repo"));
    repo.write("core/file.txt", "edited, not committed\n");
    Path plan = Files.writeString(dir.resolve("plan.yaml"), "name: first\ntarget: main\nverify: ./tests.sh\n"
        + "agent: {command: [no-such-agent-program, '{prompt}']}\ntasks:\n"
        + "  - id: core\n    prompt: do it\n    owns: [core/]\n");
    Path tmp = Files.createDirectories(dir.resolve("tmp"));
    String base = repo.rev("main").substring(0, 12);

    int code;
    try (ProcessCluster lanes = new ProcessCluster(dir)) {
      lanes.environment(Map.of("JAVA_TOOL_OPTIONS", "-Djava.io.tmpdir=" + tmp));
      code = lanes.run("run", Duration.ofMinutes(2), "run", plan.toString(), "--repo", repo.dir().toString());
    }

    String output = Files.readString(dir.resolve("run.log"));
    assertThat(code).as(output).isEqualTo(2);
    assertThat(output).contains(
        "warning: the working tree of " + repo.dir() + " has changes that are not committed: M core/file.txt;"
            + " agents start from commit " + base + " and will not see them",
        "warning: task core: agent runs no-such-agent-program, which is not on this machine's PATH",
        "warning: task core: verify runs ./tests.sh, which is not in the base commit " + base,
        "lanes: target: \"main\" is the branch checked out in " + repo.dir());
    assertThat(output).doesNotContain("Starting an embedded Kafka broker");
    try (Stream<Path> left = Files.list(tmp)) {
      assertThat(left).as("what the refused run left in its temporary directory").isEmpty();
    }
    assertThat(repo.dir().resolve(".git/lanes")).doesNotExist();
    assertThat(repo.git("for-each-ref", "--format=%(refname)").strip()).isEqualTo("refs/heads/main");
    assertThat(repo.read("core/file.txt")).isEqualTo("edited, not committed\n");
  }
}
