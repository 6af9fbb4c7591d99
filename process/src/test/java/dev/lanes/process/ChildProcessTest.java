package dev.lanes.process;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real child processes: what reaches them, what comes back, and what happens at the time limit. */
class ChildProcessTest {
  private static final Duration GENEROUS = Duration.ofSeconds(30);

  @TempDir Path dir;

  @Test
  void argumentsAreNeverSeenByAShell() {
    String hostile = "$(touch pwned); touch pwned2 | `touch pwned3` && echo \"$HOME\" > pwned4 'quoted'";

    ChildProcess.Result r = run(List.of("printf", "%s", hostile), Map.of());

    assertThat(r.exit()).isZero();
    assertThat(r.output()).isEqualTo(hostile + "\n");
    try (var files = Files.list(dir)) {
      assertThat(files).isEmpty();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void environmentReachesTheChild() {
    ChildProcess.Result r = run(List.of("sh", "-c", "printf '%s|%s' \"$LANES_X\" \"$LANES_Y\""),
        Map.of("LANES_X", "a b $HOME", "LANES_Y", "line1\nline2"));

    assertThat(r.output()).isEqualTo("a b $HOME|line1\nline2\n");
  }

  @Test
  void runsInTheGivenDirectory() throws IOException {
    ChildProcess.Result r = run(List.of("pwd", "-P"), Map.of());

    assertThat(r.output().strip()).isEqualTo(dir.toRealPath().toString());
  }

  @Test
  void logGetsTheWholeOutputAndTheResultItsLastTwentyLines() throws IOException {
    Path log = dir.resolve("agent.log");
    List<String> lines = new CopyOnWriteArrayList<>();

    ChildProcess.Result r = ChildProcess.run(List.of("sh", "-c", "seq 1 100; echo to-stderr >&2"), dir, Map.of(),
        GENEROUS, Optional.of(log), lines::add);

    List<String> expected = IntStream.rangeClosed(1, 100).mapToObj(Integer::toString).collect(Collectors.toList());
    expected.add("to-stderr");
    assertThat(Files.readAllLines(log)).isEqualTo(expected);
    assertThat(lines).isEqualTo(expected);
    assertThat(r.output()).isEqualTo(String.join("\n", expected.subList(expected.size() - 20, expected.size())));
  }

  @Test
  void withoutALogTheResultHoldsTheWholeOutput() {
    ChildProcess.Result r = run(List.of("seq", "1", "50"), Map.of());

    assertThat(r.output().lines()).hasSize(50).startsWith("1").endsWith("50");
  }

  @Test
  void aLineThatNeverEndsReachesTheLogWholeAndMemoryCut() throws IOException {
    Path log = dir.resolve("agent.log");
    List<String> lines = new CopyOnWriteArrayList<>();

    ChildProcess.Result r = ChildProcess.run(List.of("sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' x; echo; echo end"),
        dir, Map.of(), GENEROUS, Optional.of(log), lines::add);

    assertThat(Files.size(log)).isEqualTo(5_000_000 + "\nend\n".length());
    assertThat(lines).hasSize(2);
    assertThat(lines.get(0)).startsWith("xxxx").hasSizeLessThan(1024 * 1024 + 100)
        .endsWith("[lanes: " + (5_000_000 - 1024 * 1024) + " more bytes of this line cut]");
    assertThat(r.output()).hasSizeLessThan(2048 + 100).endsWith("\nend");
  }

  @Test
  void withoutALogOutputPastItsLimitStopsTheChild() {
    ChildProcess.Result r = run(List.of("yes"), Map.of());

    assertThat(r.stopped()).contains("output over " + 16 * 1024 * 1024 + " bytes");
    assertThat(r.output().length()).isLessThanOrEqualTo(16 * 1024 * 1024);
  }

  @Test
  void exitCodeIsReported() {
    ChildProcess.Result failed = run(List.of("sh", "-c", "exit 7"), Map.of());
    ChildProcess.Result passed = run(List.of("true"), Map.of());

    assertThat(failed.exit()).isEqualTo(7);
    assertThat(failed.timedOut()).isFalse();
    assertThat(failed.ok()).isFalse();
    assertThat(passed.exit()).isZero();
    assertThat(passed.ok()).isTrue();
  }

  @Test
  void standardInputIsClosed() {
    ChildProcess.Result r = run(List.of("cat"), Map.of());

    assertThat(r.timedOut()).as("cat would wait for input until its time limit").isFalse();
    assertThat(r.exit()).isZero();
    assertThat(r.output()).isEmpty();
  }

  @Test
  void timeoutEndsTheProcessAndItsChildren() throws IOException {
    ChildProcess.Result r = ChildProcess.run(
        List.of("sh", "-c", "sleep 300 & echo $! > child.pid; echo started; wait"), dir, Map.of(),
        Duration.ofSeconds(1), Optional.empty(), line -> {});

    assertThat(r.timedOut()).isTrue();
    assertThat(r.exit()).isEqualTo(-1);
    assertThat(r.ok()).isFalse();
    assertThat(r.output()).as("the shell may report the killed sleep after it").startsWith("started\n");
    long child = Long.parseLong(Files.readString(dir.resolve("child.pid")).strip());
    await().atMost(Duration.ofSeconds(20))
        .until(() -> ProcessHandle.of(child).map(ProcessHandle::isAlive).orElse(false), alive -> !alive);
  }

  @Test
  void isolatedRunEndsWhatTheChildLeftRunningWhenItExits() throws IOException {
    // The grandchild leaves the process tree (its parent exits at once) but stays in the session's process group.
    ChildProcess.Result r = ChildProcess.runIsolated(
        List.of("sh", "-c", "(sleep 300 & echo $! > orphan.pid) ; echo done"), dir, Environment.allowing(List.of()), GENEROUS,
        Optional.empty(), line -> {}, new ChildProcess.Stop());

    assertThat(r.ok()).as(r.output()).isTrue();
    long orphan = Long.parseLong(Files.readString(dir.resolve("orphan.pid")).strip());
    await().atMost(Duration.ofSeconds(20))
        .until(() -> ProcessHandle.of(orphan).map(ProcessHandle::isAlive).orElse(false), alive -> !alive);
  }

  @Test
  void stopFromAnotherThreadEndsTheRunWithItsReason() {
    ChildProcess.Stop stop = new ChildProcess.Stop();
    Thread stopper = new Thread(() -> {
      try {
        Thread.sleep(300);
      } catch (InterruptedException e) {
        return;
      }
      stop.stop("over budget");
    });
    stopper.start();
    ChildProcess.Result r = ChildProcess.runIsolated(List.of("sleep", "300"), dir, Environment.allowing(List.of()), GENEROUS,
        Optional.empty(), line -> {}, stop);

    assertThat(r.stopped()).contains("over budget");
    assertThat(r.timedOut()).isFalse();
    assertThat(r.ok()).isFalse();
    assertThat(r.took()).isLessThan(Duration.ofSeconds(60));
  }

  @Test
  void inputReachesTheChildAndItsEndIsSeen() {
    byte[] input = "{\"id\":\"q-1\"}\nsecond line".getBytes(StandardCharsets.UTF_8);

    ChildProcess.Result r = ChildProcess.runIsolated(List.of("sh", "-c", "cat; echo; echo end"), input, dir,
        Environment.allowing(List.of()), GENEROUS, Optional.empty(), line -> {});

    assertThat(r.ok()).as(r.output()).isTrue();
    assertThat(r.output()).isEqualTo("{\"id\":\"q-1\"}\nsecond line\nend\n");
  }

  @Test
  void childThatNeverReadsItsInputStillEnds() {
    byte[] large = new byte[4 * 1024 * 1024]; // far more than a pipe holds: a writer on the caller's thread would block

    ChildProcess.Result r = ChildProcess.runIsolated(List.of("true"), large, dir, Environment.allowing(List.of()),
        GENEROUS, Optional.empty(), line -> {});

    assertThat(r.ok()).isTrue();
  }

  @Test
  void missingProgramIsAProcessException() {
    assertThatThrownBy(() -> run(List.of("no-such-program-lanes"), Map.of()))
        .isInstanceOf(ProcessException.class)
        .hasMessageContaining("no-such-program-lanes")
        .hasMessageContaining(dir.toString());
  }

  /**
   * The parent's GIT_DIR and friends must not decide which repository git sees in the child. The test JVM's own
   * environment cannot be changed, so a second JVM is started with them set, and it runs the child.
   */
  @Test
  void gitLocationOfTheParentIsNotPassedOn() throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder builder = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
        PrintChildEnvironment.class.getName(), dir.toString()).redirectErrorStream(true);
    builder.environment().put("GIT_DIR", dir.resolve("elsewhere/.git").toString());
    builder.environment().put("GIT_WORK_TREE", dir.resolve("elsewhere").toString());
    builder.environment().put("GIT_INDEX_FILE", dir.resolve("elsewhere/index").toString());
    builder.environment().put("LANES_KEPT", "kept");
    Process p = builder.start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();

    assertThat(p.exitValue()).as(out).isZero();
    assertThat(out.strip()).isEqualTo("GIT_DIR=unset GIT_WORK_TREE=unset GIT_INDEX_FILE=unset LANES_KEPT=kept");
  }

  /**
   * An isolated child (an agent, a verify command) sees the allow-listed part of a parent's real environment: the
   * base names, a family by prefix, names passed on purpose and variables set outright, and nothing else, whatever its
   * name. A second JVM is the parent, so that its environment holds what the test puts there.
   */
  @Test
  void isolatedChildSeesOnlyWhatIsAllowed() throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder builder = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
        PrintAllowedEnvironment.class.getName(), dir.toString()).redirectErrorStream(true);
    builder.environment().put("MY_SERVICE_TOKEN", "canary-token-7f3a9c");
    builder.environment().put("AWS_SECRET_ACCESS_KEY", "canary-aws-91b2");
    builder.environment().put("PASSED_ON_PURPOSE", "yes");
    builder.environment().put("FAMILY_ONE", "1");
    builder.environment().put("LC_TIME", "C");
    builder.environment().put("LANES_FROM_PARENT", "not set by the daemon");
    builder.environment().put("GIT_DIR", dir.resolve("elsewhere/.git").toString());
    Process p = builder.start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();

    Map<String, String> seen = out.lines().filter(l -> l.contains("="))
        .collect(Collectors.toMap(l -> l.substring(0, l.indexOf('=')), l -> l.substring(l.indexOf('=') + 1),
            (a, b) -> a));
    assertThat(seen).containsEntry("PASSED_ON_PURPOSE", "yes").containsEntry("FAMILY_ONE", "1")
        .containsEntry("LC_TIME", "C").containsEntry("LANES_SET", "by the daemon").containsKey("PATH");
    assertThat(seen).doesNotContainKeys("MY_SERVICE_TOKEN", "AWS_SECRET_ACCESS_KEY", "LANES_FROM_PARENT", "GIT_DIR");
    assertThat(out).doesNotContain("canary");
    assertThat(seen.keySet()).allMatch(name -> name.equals("PWD") || name.equals("SHLVL") || name.equals("_")
        || Environment.allowing(List.of("PASSED_ON_PURPOSE", "FAMILY_*")).allows(name) || name.equals("LANES_SET"),
        "only allowed names (and what sh sets itself)");
  }

  /** Runs in a second JVM: prints the whole environment of an isolated child given an allow-list. */
  static final class PrintAllowedEnvironment {
    public static void main(String[] args) {
      Environment env = Environment.allowing(List.of("PASSED_ON_PURPOSE", "FAMILY_*"))
          .with(Map.of("LANES_SET", "by the daemon"));
      ChildProcess.Result r = ChildProcess.runIsolated(List.of("env"), Path.of(args[0]), env, Duration.ofSeconds(30),
          Optional.empty(), line -> {}, new ChildProcess.Stop());
      System.out.print(r.output());
    }
  }

  /** Runs in a second JVM: prints what a child of {@link ChildProcess} sees of the git location variables. */
  static final class PrintChildEnvironment {
    public static void main(String[] args) {
      ChildProcess.Result r = ChildProcess.run(List.of("sh", "-c",
              "echo GIT_DIR=${GIT_DIR-unset} GIT_WORK_TREE=${GIT_WORK_TREE-unset} GIT_INDEX_FILE=${GIT_INDEX_FILE-unset}"
                  + " LANES_KEPT=${LANES_KEPT-unset}"),
          Path.of(args[0]), Map.of(), Duration.ofSeconds(30), Optional.empty(), line -> {});
      System.out.print(r.output());
    }
  }

  private ChildProcess.Result run(List<String> argv, Map<String, String> env) {
    return ChildProcess.run(argv, dir, env, GENEROUS, Optional.empty(), line -> {});
  }
}
