package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class OwnershipRulesTest {
  private static OwnershipRules rules(String... claims) {
    return OwnershipRules.of(Stream.of(claims).map(Claim::parse).toList());
  }

  @ParameterizedTest
  @ValueSource(strings = {".git/config", ".gitattributes", "core/sub/.gitattributes", ".gitmodules", ".GITHUB/x.yml",
      ".github/workflows/ci.yml", ".gitlab-ci.yml", ".claude/settings.json", "core/.claude/x", "CLAUDE.md",
      "core/deep/CLAUDE.md", "AGENTS.md", "core/agents.MD", ".mcp.json", ".cursor/rules/x.mdc", ".cursorrules",
      ".aider.conf.yml", ".envrc", "core/.envrc", ".devcontainer/devcontainer.json", ".vscode/tasks.json",
      ".circleci/config.yml", ".buildkite/pipeline.yml", ".ci/run", "Jenkinsfile", ".travis.yml",
      "azure-pipelines.yml", "mvnw", "mvnw.cmd", ".mvn/wrapper/maven-wrapper.properties", "gradlew", "gradlew.bat",
      "gradle/wrapper/gradle-wrapper.properties", "sub/gradle/wrapper/gradle-wrapper.jar", ".lanes/findings.json"})
  void protectedAtAnyDepthAndInAnyLetterCase(String path) {
    assertThat(OwnershipRules.isProtected(path)).isTrue();
    assertThat(rules("**").violation(path)).get().asString().startsWith("protected path ");
  }

  @ParameterizedTest
  @ValueSource(strings = {".git.", ".GIT ", ".g\u200cit/config", "GIT~1/config", ".git\ufeff/hooks/x"})
  void namesAFileSystemWouldReadAsDotGitAreProtected(String path) {
    assertThat(OwnershipRules.isProtected(path)).isTrue();
  }

  @ParameterizedTest
  @ValueSource(strings = {"core/git.txt", "core/gitignore", "docs/claude.txt", "gradle/build.gradle",
      "core/wrapper/x", "src/mvnw.txt", "README.md"})
  void ordinaryNamesAreNot(String path) {
    assertThat(OwnershipRules.isProtected(path)).isFalse();
    assertThat(rules("**").violation(path)).isEmpty();
  }

  @Test
  void aClaimMayChangeAProtectedPathOnlyWhenItsLiteralSegmentsReachIt() {
    assertThat(rules(".github/workflows/").violation(".github/workflows/ci.yml")).isEmpty();
    assertThat(rules(".github/").violation(".github/workflows/ci.yml")).isEmpty();
    assertThat(rules("core/.gitattributes").violation("core/.gitattributes")).isEmpty();
    assertThat(rules("gradle/wrapper/").violation("gradle/wrapper/gradle-wrapper.properties")).isEmpty();

    assertThat(rules(".git*/").violation(".github/workflows/ci.yml")).isPresent();
    assertThat(rules("**/.gitattributes").violation("core/.gitattributes")).isPresent();
    assertThat(rules("core/").violation("core/.gitattributes")).get()
        .isEqualTo("protected path core/.gitattributes; only a claim that names it can change it");
    assertThat(rules("gradle/").violation("gradle/wrapper/gradle-wrapper.properties")).isPresent();
    assertThat(rules(".github/").violation(".github/CLAUDE.md")).as("the deepest protected segment counts")
        .isPresent();
  }

  @Test
  void pathsOutsideEveryClaimAreViolations() {
    assertThat(rules("core/", "docs/*.md").violation("api/A.java")).contains("outside the task's claims");
    assertThat(rules("core/", "docs/*.md").violation("docs/x.md")).isEmpty();
  }

  @Test
  void linksMustStayInsideTheRepositoryAndOutOfProtectedPaths() {
    OwnershipRules core = rules("core/");
    assertThat(core.linkViolation("core/a", "b.txt")).isEmpty();
    assertThat(core.linkViolation("core/a", "../docs/README.md")).isEmpty();
    assertThat(core.linkViolation("core/a", "./x/../../README.md")).isEmpty();

    assertThat(core.linkViolation("core/a", "../../x")).contains("symbolic link to ../../x, outside the repository");
    assertThat(core.linkViolation("core/a", "..\\..\\x")).isPresent();
    assertThat(core.linkViolation("core/a", "/etc/passwd")).contains("symbolic link to /etc/passwd, an absolute path");
    assertThat(core.linkViolation("core/a", "C:/Windows")).isPresent();
    assertThat(core.linkViolation("core/a", "")).isPresent();
    assertThat(core.linkViolation("core/a", "../.git/config"))
        .contains("symbolic link to ../.git/config, into the protected path .git");
    assertThat(rules("core/", "CLAUDE.md").linkViolation("core/a", "../CLAUDE.md")).as("a claim names the target")
        .isEmpty();
  }

  @Test
  void theListIsLowerCaseAsNamesAreComparedInLowerCase() {
    List<String> lower = OwnershipRules.PROTECTED.stream().map(p -> p.toLowerCase(java.util.Locale.ROOT)).toList();
    assertThat(OwnershipRules.PROTECTED).isEqualTo(lower);
  }
}
