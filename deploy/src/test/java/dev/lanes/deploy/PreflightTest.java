package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.coordinator.git.TargetBranch;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.PlanParser;
import dev.lanes.testkit.GitRepo;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The checks made before anything starts, on real repositories: through {@code lanes check} and {@code lanes submit}
 * (which refuses before it reaches any Kafka: the cluster it names does not exist), and the one place all three
 * commands share, with a PATH of the test's own.
 */
class PreflightTest {
  @TempDir Path dir;

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  @Test
  void checkRefusesATargetCheckedOutInTheRepository() throws IOException {
    GitRepo repo = GitRepo.sample(dir.resolve("repo"));
    Path plan = plan("target: main\n", "true");

    int code = lanes("check", plan.toString(), "--repo", repo.dir().toString());

    assertThat(code).isEqualTo(2);
    assertThat(err.toString()).isEqualTo("lanes: target: \"main\" is the branch checked out in " + repo.dir()
        + "; Lanes never moves a checked-out branch (choose another target)\n");
  }

  @Test
  void checkRefusesATargetCheckedOutInALinkedWorktreeAndSaysWhereWithJson() throws IOException {
    GitRepo repo = GitRepo.sample(dir.resolve("repo"));
    Path linked = dir.resolve("linked");
    repo.git("worktree", "add", "-q", "-b", "lanes/p", linked.toString());
    Path plan = plan("", "true");

    int code = lanes("check", plan.toString(), "--repo", repo.dir().toString(), "--json");

    assertThat(code).isEqualTo(2);
    assertThat(out.toString()).contains("\"errors\":[\"target: \\\"lanes/p\\\" is the branch checked out in "
        + linked.toRealPath());
  }

  @Test
  void submitRefusesACheckedOutTargetBeforeItReachesKafka() throws IOException {
    GitRepo repo = GitRepo.sample(dir.resolve("repo"));
    Path plan = plan("target: main\n", "true");

    // Port 1 has no broker: had submit tried to reach one, it would have failed differently (or waited).
    int code = lanes("submit", plan.toString(), "--repo", repo.dir().toString(), "--bootstrap-servers",
        "127.0.0.1:1");

    assertThat(code).isEqualTo(2);
    assertThat(err.toString()).startsWith("lanes: target: \"main\" is the branch checked out in ");
  }

  @Test
  void checkWarnsAboutUncommittedChangesNamingThem() throws IOException {
    GitRepo repo = GitRepo.sample(dir.resolve("repo"));
    repo.write("core/file.txt", "edited\n");
    repo.write("notes.txt", "new\n");
    Path plan = plan("", "true");

    int code = lanes("check", plan.toString(), "--repo", repo.dir().toString());

    assertThat(code).isZero();
    assertThat(out.toString()).contains("warning: the working tree of " + repo.dir() + " has changes that are not"
        + " committed: M core/file.txt, ?? notes.txt; agents start from commit " + repo.rev("main").substring(0, 12)
        + " and will not see them (commit them first if they should)\n");
  }

  @Test
  void aCleanTreeWithItsScriptsAtTheBaseHasNothingToSay() throws IOException {
    GitRepo repo = GitRepo.sample(dir.resolve("repo"));
    repo.write("tests.sh", "exit 0\n");
    repo.write("agents/edit.sh", "exit 0\n");
    repo.commitAll("scripts");
    Path plan = plan("verify: ./tests.sh\n", "agents/edit.sh");

    int code = lanes("check", plan.toString(), "--repo", repo.dir().toString());

    assertThat(code).isZero();
    assertThat(out.toString()).isEqualTo("0 conflicts, 0 warnings among 2 tasks\n");
  }

  @Test
  void checkWarnsAboutScriptsTheBaseDoesNotHaveNamingTheTasks() throws IOException {
    GitRepo repo = GitRepo.sample(dir.resolve("repo"));
    String base = repo.rev("main").substring(0, 12);
    Path plan = plan("verify: CI=1 ./tests.sh --fast\n", "./agents/edit.sh");

    int code = lanes("check", plan.toString(), "--repo", repo.dir().toString());

    assertThat(code).isZero();
    assertThat(out.toString()).contains(
        "warning: tasks core, docs: agent runs ./agents/edit.sh, which is not in the base commit " + base + " of "
            + repo.dir() + " (unless an agent creates it, the task will fail)\n",
        "warning: tasks core, docs: verify runs ./tests.sh, which is not in the base commit " + base + " of "
            + repo.dir() + " (unless an agent creates it, the task will fail)\n");
  }

  @Test
  void programsNotOnThisMachinesPathAreWarnedOfOnlyWhenAgentsRunHere() throws IOException {
    GitRepo repo = GitRepo.sample(dir.resolve("repo"));
    Path bin = Files.createDirectories(dir.resolve("bin"));
    Files.createFile(bin.resolve("present"),
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
    Files.createFile(bin.resolve("not-executable"));
    Plan plan = PlanParser.parse(Files.writeString(dir.resolve("p.yaml"), "name: p\nverify: not-executable -q\n"
        + "agent: {command: [present, '{prompt}']}\ntasks:\n"
        + task("core", "core/") + task("docs", "docs/")
        + "    agent: {claude: {}}\n    verify: cd docs && present\n"));

    try (TargetBranch target = TargetBranch.open(repo.dir())) {
      String base = target.resolveBase(Optional.empty());
      Preflight.Findings here = Preflight.check(plan, target, base, target.files(base), Preflight.Agents.HERE,
          List.of(bin));
      Preflight.Findings elsewhere = Preflight.check(plan, target, base, target.files(base),
          Preflight.Agents.ELSEWHERE, List.of(bin));

      assertThat(here.errors()).isEmpty();
      assertThat(here.warnings()).containsExactly(
          "task core: verify runs not-executable, which is not on this machine's PATH",
          "task docs: agent runs claude, which is not on this machine's PATH");
      assertThat(elsewhere.warnings()).isEmpty();
    }
  }

  @Test
  void firstWordSkipsAssignmentsAndLeavesShellSyntaxAlone() {
    assertThat(Preflight.firstWord("A=1 B=2 ./run.sh x")).contains("./run.sh");
    assertThat(Preflight.firstWord("  mvn -q test")).contains("mvn");
    assertThat(Preflight.firstWord("cd core && make")).isEmpty();
    assertThat(Preflight.firstWord("$HOME/bin/x")).isEmpty();
    assertThat(Preflight.firstWord("[ -f x ]")).isEmpty();
    assertThat(Set.of(Preflight.firstWord("\"./a b.sh\""))).containsExactly(Optional.empty());
  }

  /**
   * {@code --repo no/such/dir} once said "is not inside a git repository", or used the repository around the working
   * directory. Every command that takes a repository says that it does not exist, exit 2, before it reaches Kafka:
   * the cluster named has no broker, so a command that tried would have said so instead, a while later.
   */
  @ParameterizedTest(name = "lanes {0}")
  @ValueSource(strings = {"check PLAN", "run PLAN", "submit PLAN", "gc", "coordinator", "worker --dir WORK"})
  void aRepositoryThatDoesNotExistIsBadInputBeforeAnythingStarts(String command) throws IOException {
    Path plan = plan("", "true");
    Path missing = dir.resolve("no/such/dir");
    List<String> args = new java.util.ArrayList<>();
    for (String word : command.split(" ")) {
      args.add(word.equals("PLAN") ? plan.toString() : word.equals("WORK") ? dir.resolve("work").toString() : word);
    }
    args.addAll(List.of("--repo", missing.toString()));
    if (!command.startsWith("check") && !command.equals("gc")) {
      args.addAll(List.of("--bootstrap-servers", "127.0.0.1:1", "--timeout", "5s"));
    }

    int code = lanes(args.toArray(String[]::new));

    assertThat(code).as(out + "\n" + err).isEqualTo(2);
    assertThat(err.toString().lines().filter(l -> !l.startsWith("lanes: WARNING: no message keys")))
        .containsExactly("lanes: --repo: " + missing + " does not exist");
  }

  private int lanes(String... args) {
    return Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
  }

  /** A two-task plan with {@code extra} top-level lines and {@code agent} as its agent's program. */
  private Path plan(String extra, String agent) throws IOException {
    return Files.writeString(dir.resolve("plan.yaml"), "name: p\n" + extra + "agent: {command: ['" + agent
        + "', '{prompt}']}\ntasks:\n" + task("core", "core/") + task("docs", "docs/"));
  }

  private static String task(String id, String owns) {
    return "  - id: " + id + "\n    prompt: do it\n    owns: [" + owns + "]\n";
  }
}
