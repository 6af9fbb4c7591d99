package dev.lanes.deploy;

import dev.lanes.git.GitCli;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** The demo's material: a sample repository and a plan for it, written out from resources. */
final class Demo {
  static final String PLAN = "plan.yaml";
  private static final String BASE = "/dev/lanes/deploy/demo/";
  private static final List<String> FILES = List.of(
      "README.md", "check.sh", "core/src/Account.java", "api/src/AccountHandler.java", "web/src/account.js",
      "docs/CHANGES.md");

  private Demo() {}

  /** Writes the sample repository to {@code dir}/repo, commits it on main, and the plan to {@code dir}/plan.yaml. */
  static Path create(Path dir) {
    Path repo = dir.resolve("repo");
    for (String file : FILES) {
      copy(BASE + "repo/" + file, repo.resolve(file));
    }
    copy(BASE + PLAN, dir.resolve(PLAN));
    git(repo, "init", "-q", "-b", "main");
    git(repo, "add", "-A");
    git(repo, "-c", "user.name=Lanes demo", "-c", "user.email=demo@localhost", "-c", "commit.gpgsign=false",
        "commit", "-q", "-m", "Sample shop");
    return repo;
  }

  static String git(Path repo, String... args) {
    return GitCli.in(repo).withTimeout(Duration.ofMinutes(1)).run(args).text();
  }

  private static void copy(String resource, Path to) {
    try (InputStream in = Demo.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + resource);
      }
      Files.createDirectories(to.getParent());
      Files.copy(in, to);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + to, e);
    }
  }
}
