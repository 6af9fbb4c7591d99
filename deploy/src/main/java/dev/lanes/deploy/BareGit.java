package dev.lanes.deploy;

import dev.lanes.git.GitCli;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * git for the benchmarks: the baseline side they compare Lanes with, and the set-up of the repositories they generate.
 * One process per call through the same runner Lanes uses ({@link GitCli}), so the baseline pays what Lanes pays for
 * starting git and no more.
 */
final class BareGit {
  /** Who the benchmarks' own commits are by; signing is off, whatever the user's config says. */
  static final List<String> IDENTITY =
      List.of("-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "commit.gpgsign=false");

  private BareGit() {}

  /** Makes {@code repo} (its files already written) a repository with one commit on main; returns the commit. */
  static String init(Path repo) {
    git(repo, "init", "-q", "-b", "main");
    git(repo, "add", "-A");
    git(repo, withIdentity("commit", "-q", "-m", "generated"));
    return git(repo, "rev-parse", "HEAD").strip();
  }

  /** The arguments after the benchmark identity, for commands that write commits. */
  static String[] withIdentity(String... args) {
    List<String> all = new ArrayList<>(IDENTITY);
    all.addAll(Arrays.asList(args));
    return all.toArray(String[]::new);
  }

  static String git(Path dir, String... args) {
    return git(dir, Map.of(), args);
  }

  /**
   * Runs git in {@code dir} with {@code env} added, through the git layer's runner: an inherited GIT_DIR or index
   * never decides what it sees, and no hook runs.
   */
  static String git(Path dir, Map<String, String> env, String... args) {
    return GitCli.in(dir).withEnv(env).run(args).text();
  }
}
