package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.bus.Bus;
import dev.lanes.bus.EmbeddedBroker;
import dev.lanes.bus.KafkaBus;
import dev.lanes.deploy.LanesRunIT.Run;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Topics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.awaitility.Awaitility.await;

/**
 * The manager half of Lanes end to end, through {@code lanes run} on a real broker with real repositories and real
 * agent processes: the merge queue (eviction, fix attempts, parking), re-planning from findings (claim extension,
 * follow-ups), the lead agent's deltas and reviews. Agents are shell scripts, so every run is deterministic.
 */
class ReplanIT {
  @org.junit.jupiter.api.extension.RegisterExtension static final ClassBroker BROKER = new ClassBroker();

  @TempDir Path dir;

  /** Long enough that git sees a renamed copy with one line changed as a rename. */
  private static final String GUIDE = "Guide\nline two\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n";

  /**
   * {@code edit} changes the guide; {@code rename} first says it needs the guide, gets its claim extended while
   * {@code edit} waits in the merge queue (its verify is slow), and renames the guide from the old tip, changing the
   * line {@code edit} changed. The two changes meet only at the merge: {@code edit} lands, {@code rename} is evicted with the conflict in its prompt, and
   * its fix, made on top of {@code edit}, lands. The target passes the plan's verify after every landing.
   */
  @Test
  void conflictOnlyAtMergeEvictsTheLaterTaskAndItsFixLands() throws IOException {
    Path repo = LanesRunIT.repo(dir);
    Files.createDirectories(repo.resolve("docs"));
    Files.createDirectories(repo.resolve("src"));
    Files.writeString(repo.resolve("docs/guide.md"), GUIDE);
    Files.writeString(repo.resolve("src/app.txt"), "app\n");
    // The merge queue's verify is slow (LANES_TARGET is set only there), so edit sits in the queue a while.
    Files.writeString(repo.resolve("check.sh"), """
        [ -n "$LANES_TARGET" ] && sleep 4
        if [ -f docs/guide.md ] && [ -f docs/manual.md ]; then echo "two guides"; exit 1; fi
        [ -f docs/guide.md ] || [ -f docs/manual.md ] || { echo "no guide"; exit 1; }
        """);
    commitAll(repo, "guide and app");
    Path rename = script("rename.sh", """
        echo renamed >> src/app.txt
        case "$LANES_OWNS" in
          *docs/guide.md*) sed 's/^line two$/line two, renamed/' docs/guide.md > docs/manual.md; rm docs/guide.md ;;
          *) sleep 1.5; mkdir -p .lanes
             echo '{"needs": [{"paths": ["docs/guide.md", "docs/manual.md"], "why": "rename the guide"}]}' \\
               > .lanes/findings.json ;;
        esac
        """);
    Path plan = write("clash.yaml", """
        name: clash
        verify: sh check.sh
        tasks:
          - id: edit
            prompt: Edit the guide.
            owns: [docs/guide.md]
            verify: "true"
            agent: {command: [sh, -c, "sed 's/^line two$/edited/' docs/guide.md > x && mv x docs/guide.md"]}
          - id: rename
            prompt: Rename the guide to the manual.
            owns: [src/]
            verify: "true"
            agent: {command: [sh, %s]}
        """.formatted(rename));

    // Three attempts: the first, the one its claim was extended for, and the fix after the eviction.
    Run run = LanesRunIT.run(BROKER.broker(), plan, repo, "--max-attempts", "3");

    assertThat(run.exit()).as(run.output()).isEqualTo(0);
    assertThat(run.out()).contains("claim extended by docs/guide.md, docs/manual.md")
        .containsPattern("rename +offered +evicted from the merge queue: merge conflict in docs/[a-z]+.md.*; fix attempt")
        .contains("2 of 2 tasks landed");
    assertThat(LanesRunIT.git(repo, "show", "lanes/clash:docs/manual.md")).isEqualTo(GUIDE.replace("line two", "edited"));
    assertThat(LanesRunIT.git(repo, "ls-tree", "-r", "--name-only", "lanes/clash")).doesNotContain("docs/guide.md");
    assertEveryLandingPasses(repo, "lanes/clash", "sh check.sh");
  }

  @Test
  void taskEvictedAsOftenAsAllowedIsParkedAsNeedingAHuman() throws IOException {
    Path repo = LanesRunIT.repo(dir);
    Path plan = write("evict.yaml", """
        name: evict
        verify: test ! -e bad.txt
        agent: {command: [sh, -c, 'echo "$LANES_TASK" > "$LANES_TASK.txt"']}
        tasks:
          - {id: good, prompt: Write good.txt., owns: [good.txt], verify: "true"}
          - {id: bad, prompt: Write bad.txt., owns: [bad.txt], verify: "true"}
        """);

    Run run = LanesRunIT.run(BROKER.broker(), plan, repo, "--max-attempts", "3");

    assertThat(run.exit()).as(run.output()).isEqualTo(1);
    assertThat(run.out()).containsPattern("bad +offered +evicted from the merge queue: verify failed on the merged tree")
        .containsPattern("bad +parked .*needs a human: sent back 2 times")
        .contains("1 of 2 tasks landed");
    assertThat(LanesRunIT.git(repo, "ls-tree", "--name-only", "lanes/evict")).contains("good.txt")
        .doesNotContain("bad.txt");
    assertEveryLandingPasses(repo, "lanes/evict", "test ! -e bad.txt");
  }

  @Test
  void followUpSuggestedByAFindingRunsAndLands() throws IOException {
    Path repo = LanesRunIT.repo(dir);
    Path agent = script("agent.sh", """
        case "$LANES_TASK" in
          core) echo core > core.txt; mkdir -p .lanes
                echo '{"follow-ups": [{"title": "Document core", "prompt": "Write docs.txt.", "owns": ["docs.txt"]}]}' \\
                  > .lanes/findings.json ;;
          *) echo "$LANES_TASK_PROMPT" > docs.txt ;;
        esac
        """);
    Path plan = write("follow.yaml", """
        name: follow
        agent: {command: [sh, %s]}
        tasks:
          - {id: core, prompt: Write core.txt., owns: [core.txt]}
        """.formatted(agent));

    Run run = LanesRunIT.run(BROKER.broker(), plan, repo);

    assertThat(run.exit()).as(run.output()).isEqualTo(0);
    assertThat(run.out()).containsPattern("core-f1 +waiting +added to the plan; waits for core")
        .containsPattern("core-f1 +landed").contains("2 of 2 tasks landed");
    assertThat(LanesRunIT.git(repo, "show", "lanes/follow:docs.txt")).isEqualTo("Write docs.txt.\n");
  }

  @Test
  void badLeadAgentDeltaIsRejectedWithAFindingAndThePlanStaysAsItWas() throws IOException {
    Path repo = LanesRunIT.repo(dir);
    Path lead = script("lead.sh", """
        echo "thinking about $LANES_LEAD_INPUT"
        echo '{"add": [{"id": "grab", "prompt": "Take slow.txt too.", "owns": ["slow.txt"]}]}'
        """);
    Path plan = write("lead.yaml", """
        name: lead
        agent: {command: [sh, -c, 'echo "$LANES_TASK" > "$LANES_TASK.txt"']}
        lead-agent: {command: [sh, %s]}
        tasks:
          - id: quick
            prompt: Write quick.txt and leave a note.
            owns: [quick.txt]
            agent: {command: [sh, -c, 'echo quick > quick.txt; mkdir -p .lanes; echo "{\\"notes\\": [\\"done\\"]}" > .lanes/findings.json']}
          - id: slow
            prompt: Write slow.txt, slowly.
            owns: [slow.txt]
            agent: {command: [sh, -c, 'sleep 4; echo slow > slow.txt']}
        """.formatted(lead));
    List<Finding> findings = new CopyOnWriteArrayList<>();
    try (KafkaBus bus = KafkaBus.connect(BROKER.broker().bootstrapServers(), "replan-it");
        Bus.Subscription sub = bus.subscribe(Topics.REPORTS, Bus.Start.BEGINNING, m -> {
          if (m instanceof Finding f && f.kind().equals(Finding.DELTA_REJECTED) && f.run().startsWith("lead-")) {
            findings.add(f);
          }
        })) {
      Run run = LanesRunIT.run(BROKER.broker(), plan, repo);

      assertThat(run.exit()).as(run.output()).isEqualTo(0);
      assertThat(run.out()).contains("2 of 2 tasks landed").doesNotContain("grab");
      await().atMost(Duration.ofSeconds(10)).until(() -> !findings.isEmpty());
    }
    assertThat(findings.get(0).task()).isEqualTo("quick");
    assertThat(findings.get(0).text()).contains("ownership").contains("grab").contains("slow").contains("disjoint");
  }

  @Test
  void reviewThatRequestsChangesProducesAFixBeforeAnythingLands() throws IOException {
    Path repo = LanesRunIT.repo(dir);
    Path writer = script("writer.sh", """
        case "$LANES_PROMPT" in
          *polished*) echo polished > a.txt ;;
          *) echo draft > a.txt ;;
        esac
        """);
    Path reviewer = script("reviewer.sh", """
        mkdir -p .lanes
        if grep -q polished a.txt; then
          echo '{"review": {"verdict": "approve"}}' > .lanes/findings.json
        else
          echo '{"review": {"verdict": "request-changes", "comments": "Say polished, not draft."}}' > .lanes/findings.json
        fi
        """);
    Path plan = write("review.yaml", """
        name: review
        review: true
        agent: {command: [sh, %s]}
        review-agent: {command: [sh, %s]}
        tasks:
          - {id: a, prompt: Write a.txt., owns: [a.txt]}
        """.formatted(writer, reviewer));

    Run run = LanesRunIT.run(BROKER.broker(), plan, repo, "--max-attempts", "2"); // the fix is the second

    assertThat(run.exit()).as(run.output()).isEqualTo(0);
    assertThat(run.out()).containsPattern("a +offered +review by w[12] requested changes: Say polished, not draft.")
        .containsPattern("a +queued +approved by w[12]").contains("1 of 1 tasks landed");
    assertThat(LanesRunIT.git(repo, "show", "lanes/review:a.txt")).isEqualTo("polished\n");
    assertThat(positions(repo, "lanes/review")).hasSizeGreaterThan(1)
        .allSatisfy(c -> assertThat(LanesRunIT.git(repo, "ls-tree", "--name-only", c, "a.txt").isBlank()
            || !LanesRunIT.git(repo, "show", c + ":a.txt").contains("draft")).as("a.txt at %s", c).isTrue());
  }

  /** Every commit the target branch has pointed to, from its reflog: what anyone could have checked out. */
  private static List<String> positions(Path repo, String target) {
    return LanesRunIT.git(repo, "log", "-g", "--format=%H", target).lines().toList();
  }

  /** Every commit the target pointed to (its reflog, from its creation at the base) passes {@code verify}. */
  private void assertEveryLandingPasses(Path repo, String target, String verify) throws IOException {
    List<String> landings = positions(repo, target);
    assertThat(landings).hasSizeGreaterThan(1);
    for (String commit : landings) {
      Path tree = Files.createTempDirectory(dir, "landing-");
      dev.lanes.process.ChildProcess.Result unpack = dev.lanes.process.ChildProcess.run(List.of("sh", "-c",
          "git -C \"$1\" archive \"$2\" | tar -x -C \"$3\"", "unpack", repo.toString(), commit, tree.toString()), dir,
          Map.of(), Duration.ofMinutes(1), Optional.empty(), line -> {});
      assertThat(unpack.ok()).as(unpack.output()).isTrue();
      dev.lanes.process.ChildProcess.Result check = dev.lanes.process.ChildProcess.run(List.of("sh", "-c", verify),
          tree, Map.of(), Duration.ofMinutes(1), Optional.empty(), line -> {});
      assertThat(check.ok()).as("verify on landing %s: %s", commit, check.output()).isTrue();
    }
  }

  private static void commitAll(Path repo, String message) {
    LanesRunIT.git(repo, "add", "-A");
    LanesRunIT.git(repo, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-q", "-m", message);
  }

  private Path script(String name, String text) throws IOException {
    return write(name, text);
  }

  private Path write(String name, String text) throws IOException {
    return Files.writeString(dir.resolve(name), text);
  }
}
