package dev.lanes.git;

import static dev.lanes.git.Scratch.change;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GitCliTest {
  @TempDir Path dir;

  @Test
  void hooksDoNotRunEvenWhenTheRepositoryHasThem() throws Exception {
    Scratch repo = Scratch.init(dir.resolve("repo"));
    Path hook = repo.dir().resolve(".git/hooks/pre-commit");
    Path proof = dir.resolve("hook-ran");
    Files.writeString(hook, "#!/bin/sh\ntouch " + proof + "\n");
    Files.setPosixFilePermissions(hook, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.writeString(repo.dir().resolve("a.txt"), "a\n");

    GitCli git = repo.git().withEnv(Map.of("GIT_AUTHOR_NAME", "T", "GIT_AUTHOR_EMAIL", "t@x",
        "GIT_COMMITTER_NAME", "T", "GIT_COMMITTER_EMAIL", "t@x"));
    git.run("add", "a.txt");
    git.run("commit", "-q", "-m", "one");

    assertThat(proof).doesNotExist();
    assertThat(git.run("rev-list", "--count", "HEAD").line()).isEqualTo("1");
  }

  @Test
  void outputIsKeptAsBytesSoNamesThatAreNotUtf8Survive() {
    Scratch repo = Scratch.init(dir.resolve("repo"));
    byte[] name = "bad\u00ff.txt".getBytes(StandardCharsets.ISO_8859_1);
    String commit = repo.root(change().put(name, Scratch.FILE, "x\n"));

    GitCli.Result listed = repo.git().run("ls-tree", "-z", "--name-only", commit);

    assertThat(listed.fields()).singleElement().isEqualTo(name);
  }

  @Test
  void failureIsTypedAndKeepsGitsMessage() {
    Scratch repo = Scratch.init(dir.resolve("repo"));

    assertThatThrownBy(() -> repo.git().run("rev-parse", "--verify", "no-such-branch"))
        .isInstanceOfSatisfying(GitCommandException.class, e -> {
          assertThat(e.exit()).isEqualTo(128);
          assertThat(e.stderr()).contains("Needed a single revision");
          assertThat(e.getMessage()).contains("git rev-parse --verify no-such-branch failed in " + repo.dir());
        })
        .isInstanceOf(GitException.class);
    assertThat(repo.git().probe("rev-parse", "--verify", "no-such-branch").exit()).isEqualTo(128);
  }

  @Test
  void anArgumentIsNeverReadByAShell() throws Exception {
    Scratch repo = Scratch.init(dir.resolve("repo"));
    Path proof = dir.resolve("shell-ran");

    GitCli.Result r = repo.git().probe("rev-parse", "--verify", "x; touch " + proof);

    assertThat(r.ok()).isFalse();
    assertThat(proof).doesNotExist();
  }

  @Test
  void onlyAllowListedVariablesAndTheCallersOwnReachGit() {
    Scratch repo = Scratch.init(dir.resolve("repo"));
    java.util.Set<String> allowed = new java.util.HashSet<>(GitCli.PASSED);
    allowed.addAll(java.util.List.of("LC_ALL", "GIT_TERMINAL_PROMPT", "GIT_NO_REPLACE_OBJECTS", "LANES_PROBE",
        // set by git itself for the alias it runs
        "GIT_CONFIG_PARAMETERS", "GIT_EXEC_PATH", "GIT_PREFIX"));
    assertThat(System.getenv().keySet()).as("the test's own environment holds more").isNotEmpty()
        .anyMatch(name -> !allowed.contains(name));

    // The alias is git's to run (through its shell), only to print the environment git itself was given.
    String env = repo.git().withEnv(Map.of("LANES_PROBE", "mine")).run("-c", "alias.env-probe=!env", "env-probe")
        .text();

    java.util.List<String> names = env.lines().map(l -> l.substring(0, l.indexOf('='))).toList();
    assertThat(names).contains("LANES_PROBE", "GIT_NO_REPLACE_OBJECTS").allMatch(allowed::contains);
    assertThat(env).contains("core.hooksPath").contains("core.fsmonitor");
  }
}
