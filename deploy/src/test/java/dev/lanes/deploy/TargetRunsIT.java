package dev.lanes.deploy;

import static dev.lanes.deploy.LanesRunIT.git;
import static dev.lanes.deploy.LanesRunIT.lanes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One run per target, and what runs leave behind, with {@code lanes run} as a user runs it: real repositories, real
 * agents, and for the race a second {@code lanes run} in a process of its own, as two terminals would start them.
 */
class TargetRunsIT {
  @org.junit.jupiter.api.extension.RegisterExtension static final ClassBroker BROKER = new ClassBroker();
  private static final Path JAR = Path.of("target", "lanes.jar").toAbsolutePath();

  @TempDir Path dir;

  @Test
  void twoRunsOfOnePlanAtOnce_theSecondIsRefusedNamingTheFirstAndTheTargetChangesOnce() throws Exception {
    Path repo = LanesRunIT.repo(dir);
    Path gate = dir.resolve("gate");
    Path plan = write("twice.yaml", """
        name: twice
        agent:
          command: [sh, -c, 'while [ ! -f %s ]; do sleep 0.1; done; echo once >> a.txt']
          timeout: 2m
        tasks:
          - id: append
            prompt: Append a line.
            owns: [a.txt]
        """.formatted(gate));
    Path log = dir.resolve("first.log");
    Process first = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
        "-jar", JAR.toString(), "run", plan.toString(), "--repo", repo.toString(), "--workers", "1")
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(100))
          .until(() -> Files.readString(log).contains("running"));

      LanesRunIT.Run second = lanes("run", plan.toString(), "--repo", repo.toString());

      assertThat(second.exit()).as(second.output()).isEqualTo(2);
      assertThat(second.err()).contains("target: \"lanes/twice\" is held by run twice-")
          .contains("lanes run, pid " + first.pid() + " on ").contains(" since ");
      assertThat(second.out()).as("refused before a broker starts").doesNotContain("Starting");
      Files.createFile(gate);
      assertThat(first.waitFor(2, TimeUnit.MINUTES)).as("the first run ends").isTrue();
      assertThat(first.exitValue()).as(Files.readString(log)).isEqualTo(0);
    } finally {
      first.destroyForcibly();
    }
    assertThat(git(repo, "show", "lanes/twice:a.txt")).as("the change landed once").isEqualTo("once\n");
    assertThat(git(repo, "rev-list", "--count", "main..lanes/twice").strip()).isEqualTo("1");
    assertThat(workBranches(repo)).as("a run that landed leaves no task branches").isEmpty();
  }

  @Test
  void aSecondRunOnATargetAheadOfItsBaseNeedsContinueOrFresh() throws IOException {
    Path repo = LanesRunIT.repo(dir);
    Path plan = write("again.yaml", """
        name: again
        agent:
          command: [sh, -c, 'mkdir -p runs && echo done > "runs/$LANES_RUN.txt"']
        tasks:
          - id: write
            prompt: Write down the run.
            owns: [runs/]
        """);
    assertThat(run(plan, repo).exit()).isEqualTo(0);
    String firstTip = git(repo, "rev-parse", "lanes/again").strip();
    assertThat(workBranches(repo)).as("a run that landed leaves no task branches").isEmpty();

    LanesRunIT.Run refused = run(plan, repo);
    assertThat(refused.exit()).as(refused.output()).isEqualTo(2);
    assertThat(refused.err()).contains("\"lanes/again\" already exists, 1 commit(s) ahead of the base")
        .contains("--continue").contains("--fresh");
    assertThat(git(repo, "rev-parse", "lanes/again").strip()).as("nothing stacked").isEqualTo(firstTip);

    LanesRunIT.Run fresh = run(plan, repo, "--fresh");
    assertThat(fresh.exit()).as(fresh.output()).isEqualTo(0);
    assertThat(runsOnTarget(repo)).as("started again from the base").hasSize(1);
    assertThat(git(repo, "for-each-ref", "--format=%(objectname)", "refs/lanes/backup/lanes/again/").strip())
        .as("the old tip is kept").isEqualTo(firstTip);

    LanesRunIT.Run built = run(plan, repo, "--continue");
    assertThat(built.exit()).as(built.output()).isEqualTo(0);
    assertThat(runsOnTarget(repo)).as("built on the target").hasSize(2);

    assertThat(run(plan, repo, "--continue", "--fresh").exit()).as("one choice or the other").isEqualTo(2);
  }

  @Test
  void aFailedTaskIsOneCommandAwayAndGcRemovesWhatTheRunLeft() throws IOException {
    Path repo = LanesRunIT.repo(dir);
    Path plan = write("fails.yaml", """
        name: fails
        agent:
          command: [sh, -c, 'echo "agent says hello"; echo x > "$LANES_TASK.txt"']
        tasks:
          - id: good
            prompt: Write good.txt.
            owns: [good.txt]
          - id: bad
            prompt: Write bad.txt.
            owns: [bad.txt]
            verify: echo "the tests are red"; exit 1
        """);
    git(repo, "branch", "lanes-work/old-run/t/e1", "main"); // left by a run from before runs cleaned up after them

    LanesRunIT.Run failed = run(plan, repo);

    assertThat(failed.exit()).as(failed.output()).isEqualTo(1);
    assertThat(failed.out()).contains("Tasks that did not land, and where to look:").contains("  bad (failed)");
    // The run's end deletes the branches of what landed (good's), and only those.
    assertThat(workBranches(repo)).noneMatch(b -> b.contains("/good/")).contains("lanes-work/old-run/t/e1");
    Path logs = Path.of(line(failed.out(), "    logs: +(\\S+)"));
    Path worktree = Path.of(line(failed.out(), "    worktree: +(\\S+)"));
    assertThat(logs).isDirectory();
    assertThat(worktree.resolve("bad.txt")).exists();
    Path runDir = Path.of(line(failed.out(), "They stay in (\\S+) "));
    assertThat(logs).startsWith(runDir);

    LanesRunIT.Run kept = lanes("worker", "--dir", runDir.toString(), "--list-kept");
    assertThat(kept.exit()).isEqualTo(0);
    assertThat(kept.out()).contains("/bad/e1").contains("verify-failed").contains("(worker w")
        .contains("logs:     " + logs)
        .as("when, to the second").containsPattern("verify-failed  \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ  \\(worker w");
    LanesRunIT.Run missing = lanes("worker", "--dir", dir.resolve("no-such-dir").toString(), "--list-kept");
    assertThat(missing.exit()).isEqualTo(2);
    assertThat(missing.err()).contains("no-such-dir does not exist");
    String attempt = line(kept.out(), "(\\S+/bad/e1)  verify-failed");
    LanesRunIT.Run discarded = lanes("worker", "--dir", runDir.toString(), "--discard", attempt);
    assertThat(discarded.exit()).as("discarded with the --dir it was listed with: " + discarded.output()).isZero();
    assertThat(discarded.out()).contains("discarded " + attempt);
    assertThat(worktree).doesNotExist();
    assertThat(lanes("worker", "--dir", runDir.toString(), "--list-kept").out()).doesNotContain(attempt);
    LanesRunIT.Run unknown = lanes("worker", "--dir", runDir.toString(), "--discard", attempt);
    assertThat(unknown.exit()).isEqualTo(2);
    assertThat(unknown.err()).contains(attempt + " is not an attempt kept under " + runDir);

    LanesRunIT.Run dry = lanes("gc", "--repo", repo.toString(), "--dry-run");
    assertThat(dry.out()).contains("would remove branch lanes-work/old-run/t/e1")
        .contains("would remove run directory " + runDir);
    assertThat(runDir).exists();
    assertThat(workBranches(repo)).contains("lanes-work/old-run/t/e1");

    LanesRunIT.Run gc = lanes("gc", "--repo", repo.toString());
    assertThat(gc.exit()).isEqualTo(0);
    assertThat(gc.out()).contains("removed branch lanes-work/old-run/t/e1").contains("removed run directory " + runDir);
    assertThat(runDir).doesNotExist();
    assertThat(workBranches(repo)).isEmpty();
    assertThat(git(repo, "show", "lanes/fails:good.txt")).as("what landed stays").isEqualTo("x\n");
  }

  private static List<String> runsOnTarget(Path repo) {
    return git(repo, "ls-tree", "-r", "--name-only", "lanes/again", "runs/").lines().toList();
  }

  private static List<String> workBranches(Path repo) {
    return git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/lanes-work/").lines().toList();
  }

  private static String line(String text, String regex) {
    Matcher m = Pattern.compile(regex).matcher(text);
    assertThat(m.find()).as(regex + " in:\n" + text).isTrue();
    return m.group(1);
  }

  private static LanesRunIT.Run run(Path plan, Path repo, String... extra) {
    return LanesRunIT.run(BROKER.broker(), plan, repo, extra);
  }

  private Path write(String name, String text) throws IOException {
    return Files.writeString(dir.resolve(name), text);
  }
}
