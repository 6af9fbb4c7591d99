package dev.lanes.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * git as a user runs it, without Lanes' process wrapper: the baseline side of the benchmarks, and the set-up of the
 * repositories they generate. One process per call, its output read whole, nothing else around it.
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

  /** Runs git in {@code dir} with {@code env} added; an inherited GIT_DIR or index never decides what it sees. */
  static String git(Path dir, Map<String, String> env, String... args) {
    List<String> argv = new ArrayList<>(List.of("git"));
    argv.addAll(Arrays.asList(args));
    try {
      ProcessBuilder builder = new ProcessBuilder(argv).directory(dir.toFile()).redirectErrorStream(true);
      List.of("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE").forEach(builder.environment()::remove);
      builder.environment().putAll(env);
      Process p = builder.start();
      p.getOutputStream().close();
      String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.waitFor() != 0) {
        throw new IllegalStateException("git " + String.join(" ", args) + " failed in " + dir + ": " + output.strip());
      }
      return output;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
