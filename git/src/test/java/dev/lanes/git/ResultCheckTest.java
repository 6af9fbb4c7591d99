package dev.lanes.git;

import static dev.lanes.git.Scratch.change;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.protocol.Claim;
import dev.lanes.protocol.OwnershipRules.Violation;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lead's check of a result against real repositories whose commits hold what a lying worker could push: names
 * that are not UTF-8, links out of the repository, protected files at any depth, renames across the claim's edge,
 * mode changes, gitlinks, and commits or branches that are not what the lead offered.
 */
class ResultCheckTest {
  private static final String BRANCH = "lanes-work/r1/core/e1";
  private static final String KEYS = "key one\nkey two\nkey three\nkey four\nkey five\nkey six\nkey seven\n";

  @TempDir Path dir;
  private Scratch repo;
  private String base;
  private GitRepository opened;

  @BeforeEach
  void setUp() {
    repo = Scratch.init(dir.resolve("repo"));
    base = repo.root(change().put("core/file.txt", "one\n").put("secret/keys.txt", KEYS)
        .put("tools/run.sh", "echo run\n").put("README.md", "readme\n"));
    opened = GitRepository.open(repo.dir());
  }

  @AfterEach
  void tearDown() {
    opened.close();
  }

  /** Commits the change on the base, points the attempt's branch at it, and checks it for a task owning claims. */
  private ResultCheck.Verdict check(Scratch.Change change, String... claims) {
    String commit = repo.commit(base, change);
    repo.branch(BRANCH, commit);
    return ResultCheck.check(opened, request(commit, claims));
  }

  private ResultCheck.Request request(String commit, String... claims) {
    return new ResultCheck.Request(base, commit, BRANCH, BRANCH, Stream.of(claims).map(Claim::parse).toList());
  }

  private static List<String> paths(ResultCheck.Verdict verdict) {
    return verdict.violations().stream().map(Violation::path).toList();
  }

  @Test
  void changeInsideTheClaimsPasses() {
    ResultCheck.Verdict verdict = check(change().put("core/file.txt", "two\n").put("core/new.txt", "new\n"), "core/");

    assertThat(verdict.violations()).isEmpty();
    assertThat(verdict.ok()).isTrue();
    assertThat(verdict.changed()).isEqualTo(2);
  }

  @Test
  void pathOutsideTheClaimsAndAWorkflowAreViolations() {
    ResultCheck.Verdict verdict = check(change().put("core/file.txt", "two\n").put("outside.txt", "x\n")
        .put(".github/workflows/evil.yml", "on: push\n"), "core/");

    assertThat(paths(verdict)).containsExactlyInAnyOrder("outside.txt", ".github/workflows/evil.yml");
    assertThat(verdict.violations()).filteredOn(v -> v.path().equals(".github/workflows/evil.yml"))
        .extracting(Violation::reason).singleElement().asString().contains("protected path .github");
    assertThat(verdict.violations()).filteredOn(v -> v.path().equals("outside.txt"))
        .extracting(Violation::reason).containsExactly("added; outside the task's claims");
  }

  @Test
  void nameThatIsNotUtf8IsAViolationEvenInsideTheClaims() {
    byte[] name = "core/bad\u00ff.txt".getBytes(StandardCharsets.ISO_8859_1);

    ResultCheck.Verdict verdict = check(change().put(name, Scratch.FILE, "x\n"), "core/");

    assertThat(verdict.violations()).containsExactly(new Violation("core/bad\\xff.txt", "the name is not valid UTF-8"));
  }

  @Test
  void symlinkWhoseNameIsNotUtf8IsAViolation() {
    byte[] name = "core/l\u00fe\u00fe".getBytes(StandardCharsets.ISO_8859_1);

    ResultCheck.Verdict verdict = check(change().put(name, Scratch.LINK, "file.txt"), "core/");

    assertThat(paths(verdict)).containsExactly("core/l\\xfe\\xfe");
    assertThat(verdict.violations().get(0).reason()).isEqualTo("the name is not valid UTF-8");
  }

  @Test
  void nameWithAControlCharacterIsAViolation() {
    ResultCheck.Verdict verdict = check(change().put("core/a\nb.txt", "x\n"), "core/");

    assertThat(paths(verdict)).containsExactly("core/a\\x0ab.txt");
  }

  @Test
  void nestedGitattributesNeedsAClaimThatNamesIt() {
    Scratch.Change change = change().put("core/sub/.gitattributes", "* filter=evil\n");

    assertThat(paths(check(change, "core/"))).containsExactly("core/sub/.gitattributes");
    assertThat(check(change, "core/sub/.gitattributes").violations()).isEmpty();
  }

  @Test
  void protectedNamesCountInAnyLetterCase() {
    ResultCheck.Verdict verdict = check(change().put(".GITHUB/workflows/x.yml", "x\n").put("core/.GitModules", "x\n"),
        "**");

    assertThat(paths(verdict)).containsExactlyInAnyOrder(".GITHUB/workflows/x.yml", "core/.GitModules");
  }

  @Test
  void claudeAndAgentsInstructionsAreProtectedAtTheTopAndNested() {
    ResultCheck.Verdict verdict = check(change().put("CLAUDE.md", "obey\n").put("core/CLAUDE.md", "obey\n")
        .put("core/deep/AGENTS.md", "obey\n").put("core/.claude/settings.json", "{}\n"), "**");

    assertThat(paths(verdict)).containsExactlyInAnyOrder("CLAUDE.md", "core/CLAUDE.md", "core/deep/AGENTS.md",
        "core/.claude/settings.json");
    assertThat(check(change().put("core/CLAUDE.md", "obey\n"), "core/CLAUDE.md").violations()).isEmpty();
  }

  @Test
  void buildWrappersTheVerifyRunsAreProtected() {
    ResultCheck.Verdict verdict = check(change().put("mvnw", Scratch.EXEC, "evil\n")
        .put(".mvn/wrapper/maven-wrapper.properties", "x\n").put("gradle/wrapper/gradle-wrapper.properties", "x\n")
        .put("core/gradlew", Scratch.EXEC, "evil\n"), "**");

    assertThat(paths(verdict)).containsExactlyInAnyOrder("mvnw", ".mvn/wrapper/maven-wrapper.properties",
        "gradle/wrapper/gradle-wrapper.properties", "core/gradlew");
  }

  @Test
  void symlinkClimbingOutOfTheRepositoryIsAViolationEvenWhenClaimed() {
    ResultCheck.Verdict verdict = check(change().put("core/up", Scratch.LINK, "../../etc/passwd")
        .put("core/inside", Scratch.LINK, "../README.md"), "core/");

    assertThat(verdict.violations()).containsExactly(
        new Violation("core/up", "symbolic link to ../../etc/passwd, outside the repository"));
  }

  @Test
  void symlinkToAnAbsolutePathIsAViolation() {
    ResultCheck.Verdict verdict = check(change().put("core/passwd", Scratch.LINK, "/etc/passwd"), "core/");

    assertThat(verdict.violations()).containsExactly(
        new Violation("core/passwd", "symbolic link to /etc/passwd, an absolute path"));
  }

  @Test
  void symlinkIntoAProtectedPathIsAViolation() {
    ResultCheck.Verdict verdict = check(change().put("core/hooks", Scratch.LINK, "../.git/hooks"), "core/");

    assertThat(verdict.violations()).extracting(Violation::reason)
        .containsExactly("symbolic link to ../.git/hooks, into the protected path .git");
  }

  @Test
  void renameFromOutsideIntoTheClaimCountsBothSides() {
    ResultCheck.Verdict verdict = check(change().delete("secret/keys.txt").put("core/keys.txt", KEYS), "core/");

    assertThat(verdict.violations()).containsExactly(
        new Violation("secret/keys.txt", "renamed to core/keys.txt; outside the task's claims"));
    assertThat(verdict.changed()).isEqualTo(2);
  }

  @Test
  void renameWithAnEditIsStillSeenAsOne() {
    ResultCheck.Verdict verdict = check(change().delete("secret/keys.txt")
        .put("core/keys.txt", KEYS.replace("key six", "key 6")), "core/");

    assertThat(verdict.violations()).extracting(Violation::reason)
        .containsExactly("renamed to core/keys.txt; outside the task's claims");
  }

  @Test
  void modeChangeOutsideTheClaimsIsAViolation() {
    ResultCheck.Verdict verdict = check(change().put("tools/run.sh", Scratch.EXEC, "echo run\n"), "core/");

    assertThat(verdict.violations()).containsExactly(
        new Violation("tools/run.sh", "mode 100644 to 100755; outside the task's claims"));
  }

  @Test
  void gitlinkIsAViolationEvenInsideTheClaims() {
    ResultCheck.Verdict verdict = check(change().put("core/vendor", Scratch.GITLINK, base), "core/");

    assertThat(verdict.violations()).extracting(Violation::reason)
        .containsExactly("a submodule (gitlink); the lead lands no submodule");
  }

  @Test
  void reportedBranchOtherThanTheDerivedOneIsAViolation() {
    String commit = repo.commit(base, change().put("core/file.txt", "two\n"));
    repo.branch("elsewhere", commit);
    repo.branch(BRANCH, commit);

    ResultCheck.Verdict verdict = ResultCheck.check(opened, new ResultCheck.Request(base, commit, "elsewhere", BRANCH,
        List.of(Claim.parse("core/"))));

    assertThat(verdict.violations()).extracting(Violation::reason)
        .containsExactly("reported branch elsewhere is not the attempt's branch " + BRANCH);
  }

  @Test
  void derivedBranchThatIsMissingOrPointsElsewhereIsAViolation() {
    String commit = repo.commit(base, change().put("core/file.txt", "two\n"));

    assertThat(ResultCheck.check(opened, request(commit, "core/")).violations()).extracting(Violation::reason)
        .containsExactly("branch " + BRANCH + " does not exist in the repository");

    repo.branch(BRANCH, base);
    assertThat(ResultCheck.check(opened, request(commit, "core/")).violations()).extracting(Violation::reason)
        .containsExactly("branch " + BRANCH + " points at " + base.substring(0, 10) + ", not at the reported commit "
            + commit.substring(0, 10));
  }

  @Test
  void commitNotDescendingFromTheBaseIsAViolation() {
    String other = repo.commit(null, change().put("core/file.txt", "unrelated\n"));
    repo.branch(BRANCH, other);

    ResultCheck.Verdict verdict = ResultCheck.check(opened, request(other, "core/"));

    assertThat(verdict.violations()).extracting(Violation::reason).contains("commit " + other.substring(0, 10)
        + " does not descend from the offered base " + base.substring(0, 10));
  }

  @Test
  void commitThatIsNotInTheRepositoryIsAViolation() {
    String missing = "0123456789abcdef0123456789abcdef01234567";

    ResultCheck.Verdict verdict = ResultCheck.check(opened, request(missing, "core/"));

    assertThat(verdict.violations()).extracting(Violation::reason)
        .containsExactly("commit " + missing + " or base " + base + " is not a commit in the repository");
  }
}
