package dev.lanes.coordinator.git;

import dev.lanes.testkit.GitRepo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanes.coordinator.LeadException;
import dev.lanes.protocol.ExistingTarget;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lead's write access to a real repository made with the git CLI. After every test the user's side of the
 * repository (HEAD, the checked-out branch, the index and the files) must be exactly as the test left it.
 */
class TargetBranchTest {
  private static final String TARGET = "lanes/sample";

  @TempDir Path dir;
  private GitRepo repo;
  private TargetBranch branch;
  private String base;
  private UserState before;

  @BeforeEach
  void setUp() {
    repo = GitRepo.sample(dir.resolve("repo"));
    base = repo.rev("main");
    branch = TargetBranch.open(repo.dir());
    before = UserState.of(repo);
  }

  @AfterEach
  void userStateIsUntouched() {
    branch.close();
    assertThat(UserState.of(repo)).isEqualTo(before);
  }

  @Test
  void open_notARepository(@TempDir Path plain) {
    assertThatThrownBy(() -> TargetBranch.open(plain))
        .isInstanceOf(LeadException.class)
        .hasMessageContaining(plain.toString())
        .hasMessageContaining("not inside a git repository");
  }

  @Test
  void open_subdirectoryFindsTheRepository() {
    try (TargetBranch inner = TargetBranch.open(repo.dir().resolve("core"))) {
      assertThat(inner.gitDir()).isEqualTo(repo.dir().resolve(".git").toAbsolutePath());
      assertThat(inner.currentBranch()).contains("main");
    }
  }

  @Test
  void resolveBase_emptyIsTheCurrentBranchTip() {
    repo.git("checkout", "-q", "-b", "feature");
    String feature = repo.write("core/file.txt", "feature\n").commitAll("feature work");
    before = UserState.of(repo);

    assertThat(branch.resolveBase(Optional.empty())).isEqualTo(feature).isNotEqualTo(base);
  }

  @Test
  void resolveBase_branchTagAndCommit() {
    repo.git("tag", "light");
    repo.gitAsUser("tag", "-a", "v1", "-m", "annotated");
    String annotatedTagObject = repo.git("rev-parse", "v1");

    assertThat(branch.resolveBase(Optional.of("main"))).isEqualTo(base);
    assertThat(branch.resolveBase(Optional.of("light"))).isEqualTo(base);
    assertThat(branch.resolveBase(Optional.of("v1"))).as("an annotated tag resolves to its commit").isEqualTo(base)
        .isNotEqualTo(annotatedTagObject);
    assertThat(branch.resolveBase(Optional.of(base))).isEqualTo(base);
    assertThat(branch.resolveBase(Optional.of(base.substring(0, 8)))).isEqualTo(base);
  }

  @Test
  void resolveBase_unknownName() {
    assertThatThrownBy(() -> branch.resolveBase(Optional.of("no-such-branch")))
        .isInstanceOf(LeadException.class)
        .hasMessageStartingWith("base:")
        .hasMessageContaining("no-such-branch");
  }

  @Test
  void resolveBase_treeIsNotACommit() {
    String tree = repo.git("rev-parse", "main^{tree}");
    assertThatThrownBy(() -> branch.resolveBase(Optional.of(tree)))
        .isInstanceOf(LeadException.class)
        .hasMessageStartingWith("base:");
  }

  @Test
  void prepare_createsTheTargetAtTheBase() {
    branch.prepare(TARGET, base);

    assertThat(repo.rev(TARGET)).isEqualTo(base);
    assertThat(branch.tip(TARGET)).contains(base);
  }

  @Test
  void prepare_refusesTheCheckedOutBranch() {
    assertThatThrownBy(() -> branch.prepare("main", base))
        .isInstanceOf(LeadException.class)
        .hasMessageStartingWith("target:")
        .hasMessageContaining("\"main\"")
        .hasMessageContaining("checked out");
    assertThat(repo.rev("main")).isEqualTo(base);
  }

  @Test
  void prepare_acceptsAnExistingTargetThatContainsTheBase() {
    String ahead = repo.commitOnto(base, TARGET, Map.of("core/file.txt", "earlier run\n"));

    branch.prepare(TARGET, base);

    assertThat(repo.rev(TARGET)).as("an existing target is not reset").isEqualTo(ahead);
  }

  @Test
  void prepare_refusesATargetAheadOfTheBaseWithoutAChoice() {
    String ahead = repo.commitOnto(base, TARGET, Map.of("core/file.txt", "earlier run\n"));

    assertThatThrownBy(() -> branch.prepare(TARGET, base, Optional.empty(), "r2"))
        .isInstanceOf(LeadException.class)
        .hasMessageContaining("\"" + TARGET + "\" already exists, 1 commit(s) ahead of the base " + base.substring(0, 12))
        .hasMessageContaining("--continue")
        .hasMessageContaining("--fresh");
    assertThat(repo.rev(TARGET)).as("nothing stacks on it, nothing resets it").isEqualTo(ahead);
  }

  @Test
  void prepare_acceptsATargetAtTheBaseWithoutAChoice() {
    repo.git("branch", TARGET, base);

    branch.prepare(TARGET, base, Optional.empty(), "r2");

    assertThat(repo.rev(TARGET)).isEqualTo(base);
  }

  @Test
  void prepare_freshStartsTheTargetAgainAndKeepsItsOldTip() {
    String ahead = repo.commitOnto(base, TARGET, Map.of("core/file.txt", "earlier run\n"));

    branch.prepare(TARGET, base, Optional.of(ExistingTarget.FRESH), "r2");

    assertThat(repo.rev(TARGET)).isEqualTo(base);
    assertThat(repo.rev(TargetBranch.backupRef(TARGET, "r2"))).isEqualTo(ahead);
    assertThat(TargetBranch.backupRef(TARGET, "r2")).isEqualTo("refs/lanes/backup/lanes/sample/r2");
  }

  @Test
  void prepare_freshAlsoStartsAgainATargetThatLacksTheBase() {
    String elsewhere = repo.commitOnto(base, "side", Map.of("docs/README.md", "side\n"));
    String newBase = repo.commitOnto(base, "newer", Map.of("core/file.txt", "newer\n"));
    repo.git("branch", TARGET, elsewhere);

    branch.prepare(TARGET, newBase, Optional.of(ExistingTarget.FRESH), "r3");

    assertThat(repo.rev(TARGET)).isEqualTo(newBase);
    assertThat(repo.rev(TargetBranch.backupRef(TARGET, "r3"))).isEqualTo(elsewhere);
  }

  @Test
  void prepare_continueBuildsOnATargetAheadOfTheBase() {
    String ahead = repo.commitOnto(base, TARGET, Map.of("core/file.txt", "earlier run\n"));

    branch.prepare(TARGET, base, Optional.of(ExistingTarget.CONTINUE), "r2");

    assertThat(repo.rev(TARGET)).isEqualTo(ahead);
  }

  @Test
  void workBranches_listsAndDeletesTheWorkersBranchesOnly() {
    repo.git("branch", "lanes-work/r1/core/e1", base);
    repo.git("branch", "lanes-work/r1/core/e2", base);
    repo.git("branch", "lanes-work/r2/docs/e1", base);
    repo.git("branch", "lanes-workshop", base);

    assertThat(branch.workBranches("lanes-work/r1/")).containsExactly("lanes-work/r1/core/e1", "lanes-work/r1/core/e2");
    branch.workBranches("lanes-work/r1/").forEach(branch::deleteBranch);

    assertThat(branch.workBranches("lanes-work")).containsExactly("lanes-work/r2/docs/e1");
    assertThat(branch.tip("lanes-workshop")).isPresent();
  }

  @Test
  void prepare_refusesAnExistingTargetThatLacksTheBase() {
    String elsewhere = repo.commitOnto(base, "side", Map.of("docs/README.md", "side\n"));
    String newBase = repo.commitOnto(base, "newer", Map.of("core/file.txt", "newer\n"));
    repo.git("branch", TARGET, elsewhere);

    assertThatThrownBy(() -> branch.prepare(TARGET, newBase))
        .isInstanceOf(LeadException.class)
        .hasMessageStartingWith("target:")
        .hasMessageContaining(TARGET)
        .hasMessageContaining(newBase.substring(0, 12));
    assertThat(repo.rev(TARGET)).isEqualTo(elsewhere);
  }

  @Test
  void tip_followsTheBranchWhetherItsRefIsLooseOrPacked() {
    branch.prepare(TARGET, base);
    String moved = repo.commitOnto(base, TARGET, Map.of("core/file.txt", "moved by someone else\n"));
    assertThat(branch.tip(TARGET)).as("loose, moved by git itself").contains(moved);

    repo.git("pack-refs", "--all"); // the loose file goes; the tip is in packed-refs alone
    assertThat(dir.resolve("repo/.git/refs/heads/" + TARGET)).doesNotExist();
    assertThat(branch.tip(TARGET)).as("packed").contains(moved);

    String again = repo.commitOnto(moved, TARGET, Map.of("core/file.txt", "and again\n"));
    assertThat(branch.tip(TARGET)).as("loose again, over the stale packed entry").contains(again);
    assertThat(branch.tip("lanes/../main")).as("never a path outside refs/heads").isEmpty();
  }

  @Test
  void tip_missingBranchIsEmpty() {
    assertThat(branch.tip("no/such/branch")).isEmpty();
  }

  @Test
  void hasCommit_onlyForCommitsInTheRepository() {
    String pushed = repo.commitOnto(base, "lanes-work/r/t/e1", Map.of("core/file.txt", "x\n"));

    assertThat(branch.hasCommit(pushed)).isTrue();
    assertThat(branch.hasCommit("0123456789abcdef0123456789abcdef01234567")).isFalse();
    assertThat(branch.hasCommit("main")).as("only ids count, not names").isFalse();
  }

  @Test
  void land_fastForwardsWhenTheTargetIsTheParent() {
    branch.prepare(TARGET, base);
    String task = repo.commitOnto(base, "lanes-work/r/a/e1", Map.of("core/file.txt", "changed\n"));

    String tip = branch.land(TARGET, task, "Land a");

    assertThat(tip).isEqualTo(task);
    assertThat(repo.rev(TARGET)).isEqualTo(task);
    assertThat(repo.parents(task)).containsExactly(base);
  }

  @Test
  void land_mergesWhenTheTargetMoved() {
    branch.prepare(TARGET, base);
    String other = repo.commitOnto(base, "lanes-work/r/docs/e1", Map.of("docs/README.md", "# Landed first\n"));
    branch.land(TARGET, other, "Land docs");
    String task = repo.commitOnto(base, "lanes-work/r/core/e1", Map.of("core/file.txt", "changed\n"));

    String tip = branch.land(TARGET, task, "Land core");

    assertThat(repo.rev(TARGET)).isEqualTo(tip);
    assertThat(repo.parents(tip)).containsExactly(other, task);
    assertThat(repo.show(TARGET, "core/file.txt")).isEqualTo("changed\n");
    assertThat(repo.show(TARGET, "docs/README.md")).isEqualTo("# Landed first\n");
    assertThat(repo.git("log", "-1", "--format=%s%n%an", TARGET)).isEqualTo("Land core\nLanes");
  }

  @Test
  void land_mergesChangesToDifferentLinesOfOneFile() {
    branch.prepare(TARGET, base);
    String first = repo.commitOnto(base, "lanes-work/r/a/e1", Map.of("core/file.txt", "ONE\ntwo\nthree\n"));
    branch.land(TARGET, first, "Land a");
    String second = repo.commitOnto(base, "lanes-work/r/b/e1", Map.of("core/file.txt", "one\ntwo\nTHREE\n"));

    branch.land(TARGET, second, "Land b");

    assertThat(repo.show(TARGET, "core/file.txt")).isEqualTo("ONE\ntwo\nTHREE\n");
  }

  @Test
  void land_isIdempotent() {
    branch.prepare(TARGET, base);
    String other = repo.commitOnto(base, "lanes-work/r/docs/e1", Map.of("docs/README.md", "docs\n"));
    branch.land(TARGET, other, "Land docs");
    String task = repo.commitOnto(base, "lanes-work/r/core/e1", Map.of("core/file.txt", "changed\n"));
    String merged = branch.land(TARGET, task, "Land core");

    assertThat(branch.land(TARGET, task, "Land core again")).isEqualTo(merged);
    assertThat(branch.land(TARGET, other, "Land docs again")).isEqualTo(merged);
    assertThat(repo.rev(TARGET)).isEqualTo(merged);
    assertThat(repo.git("rev-list", "--count", TARGET)).isEqualTo("4");
  }

  @Test
  void land_conflictNamesThePathAndLeavesTheTarget() {
    branch.prepare(TARGET, base);
    String first = repo.commitOnto(base, "lanes-work/r/a/e1", Map.of("core/file.txt", "one\nA\nthree\n"));
    String tip = branch.land(TARGET, first, "Land a");
    String second = repo.commitOnto(base, "lanes-work/r/b/e1", Map.of("core/file.txt", "one\nB\nthree\n"));

    assertThatThrownBy(() -> branch.land(TARGET, second, "Land b"))
        .isInstanceOfSatisfying(TargetBranch.MergeConflict.class,
            e -> assertThat(e.paths()).containsExactly("core/file.txt"))
        .hasMessageContaining("core/file.txt");
    assertThat(repo.rev(TARGET)).isEqualTo(tip);
  }

  @Test
  void land_conflictNamesOnlyTheConflictingPaths() {
    branch.prepare(TARGET, base);
    String first = repo.commitOnto(base, "lanes-work/r/a/e1",
        Map.of("core/file.txt", "ONE\ntwo\nthree\n", "docs/README.md", "# A\n"));
    branch.land(TARGET, first, "Land a");
    String second = repo.commitOnto(base, "lanes-work/r/b/e1",
        Map.of("core/file.txt", "one\ntwo\nTHREE\n", "docs/README.md", "# B\n"));

    assertThatThrownBy(() -> branch.land(TARGET, second, "Land b"))
        .isInstanceOfSatisfying(TargetBranch.MergeConflict.class,
            e -> assertThat(e.paths()).as("core/file.txt merges cleanly").containsExactly("docs/README.md"));
  }

  @Test
  void land_modifyDeleteConflictNamesThePath() {
    branch.prepare(TARGET, base);
    repo.git("checkout", "-q", "--detach", base);
    repo.git("rm", "-q", "core/file.txt");
    String removal = repo.commitAll("remove core/file.txt");
    repo.git("checkout", "-q", "main");
    String tip = branch.land(TARGET, removal, "Land a");
    String edit = repo.commitOnto(base, "lanes-work/r/b/e1", Map.of("core/file.txt", "edited\n"));

    assertThatThrownBy(() -> branch.land(TARGET, edit, "Land b"))
        .isInstanceOf(TargetBranch.MergeConflict.class)
        .hasMessageContaining("core/file.txt");
    assertThat(repo.rev(TARGET)).isEqualTo(tip);
  }

  @Test
  void land_leavesADirtyWorkingTreeAlone() {
    repo.write("core/file.txt", "uncommitted edit\n").write("scratch.txt", "untracked\n");
    repo.git("add", "scratch.txt");
    before = UserState.of(repo);
    branch.prepare(TARGET, base);
    String other = repo.commitOnto(base, "lanes-work/r/docs/e1", Map.of("docs/README.md", "docs\n"));
    branch.land(TARGET, other, "Land docs");
    String task = repo.commitOnto(base, "lanes-work/r/core/e1", Map.of("core/file.txt", "landed\n"));

    branch.land(TARGET, task, "Land core");

    assertThat(repo.show(TARGET, "core/file.txt")).isEqualTo("landed\n");
    assertThat(repo.read("core/file.txt")).isEqualTo("uncommitted edit\n");
    assertThat(repo.status().lines()).containsExactlyInAnyOrder(" M core/file.txt", "A  scratch.txt");
  }

  @Test
  void land_missingTargetIsALeadException() {
    String task = repo.commitOnto(base, "lanes-work/r/a/e1", Map.of("core/file.txt", "x\n"));

    assertThatThrownBy(() -> branch.land("lanes/never-prepared", task, "Land a"))
        .isInstanceOf(LeadException.class)
        .hasMessageContaining("lanes/never-prepared");
  }

  @Test
  void prepare_refusesABranchCheckedOutInALinkedWorktree() {
    repo.git("worktree", "add", "-q", "-b", TARGET, dir.resolve("linked").toString(), base);

    assertThatThrownBy(() -> branch.prepare(TARGET, base))
        .isInstanceOf(LeadException.class)
        .hasMessageStartingWith("target:").hasMessageContaining(dir.resolve("linked").getFileName().toString());
  }

  /**
   * {@code --repo} decides the repository, whatever GIT_DIR the lead inherited (from a git hook or alias, say). The
   * test JVM's environment cannot be changed, so a second JVM opens the repository with GIT_DIR pointing elsewhere.
   */
  @Test
  void open_ignoresGitDirInTheEnvironment() throws Exception {
    GitRepo other = GitRepo.sample(dir.resolve("other"));
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder builder = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
        PrintGitDir.class.getName(), repo.dir().toString()).redirectErrorStream(true);
    builder.environment().put("GIT_DIR", other.dir().resolve(".git").toString());
    Process p = builder.start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();

    assertThat(p.exitValue()).as(out).isZero();
    assertThat(out.lines().filter(l -> l.startsWith("gitDir=")))
        .containsExactly("gitDir=" + repo.dir().resolve(".git").toAbsolutePath());
  }

  /** Runs in a second JVM: prints the git directory {@link TargetBranch#open} chose for the directory given. */
  static final class PrintGitDir {
    public static void main(String[] args) {
      try (TargetBranch b = TargetBranch.open(Path.of(args[0]))) {
        System.out.println("gitDir=" + b.gitDir());
      }
    }
  }

  /** What a user would notice changing: HEAD, the checked-out branch's tip, the index and working tree, the files. */
  private record UserState(String head, String headCommit, String status, String file, String readme) {
    static UserState of(GitRepo repo) {
      return new UserState(repo.headRef(), repo.rev("HEAD"), repo.status(), repo.read("core/file.txt"),
          repo.read("docs/README.md"));
    }
  }
}
