package dev.lanes.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.protocol.Claim;
import dev.lanes.protocol.OwnershipRules;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OwnershipGuardTest {
  @TempDir Path worktree;

  private static OwnershipGuard guard(String... claims) {
    return new OwnershipGuard(List.of(claims).stream().map(Claim::parse).toList());
  }

  private static List<String> paths(List<OwnershipRules.Violation> violations) {
    return violations.stream().map(OwnershipRules.Violation::path).toList();
  }

  @Test
  void pathsInsideTheClaimsPass() {
    assertThat(guard("core/", "docs/*.md").check(worktree, List.of("core/a/B.java", "docs/x.md"))).isEmpty();
  }

  @Test
  void pathsOutsideTheClaimsAreViolations() {
    List<OwnershipRules.Violation> v = guard("core/", "docs/*.md")
        .check(worktree, List.of("core/A.java", "api/A.java", "docs/deep/x.md"));
    assertThat(paths(v)).containsExactly("api/A.java", "docs/deep/x.md");
    assertThat(v.get(0).reason()).isEqualTo("outside the task's claims");
  }

  @Test
  void protectedPathsNeedAClaimThatNamesThem() {
    List<String> changed = List.of(".github/workflows/ci.yml", ".gitignore", ".claude/settings.json", ".mcp.json",
        "Jenkinsfile", ".ci/run");
    assertThat(paths(guard("**").check(worktree, changed))).containsExactlyElementsOf(changed);
    assertThat(paths(guard("*/").check(worktree, changed))).containsExactlyElementsOf(changed);
    assertThat(guard(".github/", ".gitignore", ".claude/", ".mcp.json", "Jenkinsfile", ".ci/run")
        .check(worktree, changed)).isEmpty();
  }

  @Test
  void nestedProtectedNamesNeedAClaimThatReachesThem() {
    List<String> nested = List.of("core/.gitignore", "core/.claude/x", "core/sub/CLAUDE.md");
    assertThat(paths(guard("core/").check(worktree, nested))).containsExactlyElementsOf(nested);
    assertThat(guard("core/.gitignore", "core/.claude/", "core/sub/CLAUDE.md").check(worktree, nested)).isEmpty();
  }

  @Test
  void symlinkPointingOutsideTheWorktreeIsAViolationEvenWhenClaimed() throws IOException {
    Files.createDirectories(worktree.resolve("core"));
    Files.createSymbolicLink(worktree.resolve("core/passwd"), Path.of("/etc/passwd"));
    Files.createSymbolicLink(worktree.resolve("core/up"), Path.of("../../outside"));
    Files.writeString(worktree.resolve("core/real.txt"), "x");
    Files.createSymbolicLink(worktree.resolve("core/inside"), Path.of("real.txt"));

    List<OwnershipRules.Violation> v = guard("core/").check(worktree, List.of("core/passwd", "core/up", "core/inside"));

    assertThat(paths(v)).containsExactly("core/passwd", "core/up");
    assertThat(v.get(0).reason()).contains("an absolute path");
  }

  @Test
  void deletedPathsAreJudgedByTheirClaimOnly() {
    // A deleted file no longer exists in the worktree: it is checked against the claims, not followed as a link.
    assertThat(paths(guard("core/").check(worktree, List.of("core/gone.txt", "api/gone.txt"))))
        .containsExactly("api/gone.txt");
  }
}
