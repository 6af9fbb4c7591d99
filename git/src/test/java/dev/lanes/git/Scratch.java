package dev.lanes.git;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A real repository in a test's directory whose commits are written object by object (blobs, a scratch index,
 * {@code write-tree}, {@code commit-tree}), so that a test can write what no checkout could: names that are not UTF-8,
 * symbolic links to anywhere, gitlinks, mode changes. Driven through {@link GitCli} itself.
 */
final class Scratch {
  static final String FILE = "100644";
  static final String EXEC = "100755";
  static final String LINK = "120000";
  static final String GITLINK = "160000";
  private static final String DELETE = "0";

  private final Path dir;
  private final GitCli git;

  private Scratch(Path dir) {
    this.dir = dir;
    this.git = GitCli.in(dir);
  }

  static Scratch init(Path dir) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Scratch s = new Scratch(dir);
    s.git.run("init", "-q", "-b", "main");
    return s;
  }

  Path dir() {
    return dir;
  }

  GitCli git() {
    return git;
  }

  /** A change to a tree: path bytes to a mode and content (a link's target for a link, a commit id for a gitlink). */
  static final class Change {
    private final Map<byte[], String[]> entries = new LinkedHashMap<>();

    Change put(String path, String content) {
      return put(path, FILE, content);
    }

    Change put(String path, String mode, String content) {
      return put(path.getBytes(StandardCharsets.UTF_8), mode, content);
    }

    Change put(byte[] path, String mode, String content) {
      entries.put(path, new String[] {mode, content});
      return this;
    }

    Change delete(String path) {
      entries.put(path.getBytes(StandardCharsets.UTF_8), new String[] {DELETE, ""});
      return this;
    }
  }

  static Change change() {
    return new Change();
  }

  /** A root commit holding the change; branch {@code main} points at it. */
  String root(Change change) {
    String id = commit(null, change);
    git.run("update-ref", "refs/heads/main", id);
    return id;
  }

  /** A commit on {@code parent} (null for a root) whose tree is the parent's with the change applied; on no branch. */
  String commit(String parent, Change change) {
    try {
      Path index = Files.createTempFile(dir.getParent(), "index", "");
      Files.delete(index);
      GitCli scratch = git.withEnv(Map.of("GIT_INDEX_FILE", index.toString()));
      if (parent != null) {
        scratch.run("read-tree", parent);
      }
      ByteArrayOutputStream info = new ByteArrayOutputStream();
      for (Map.Entry<byte[], String[]> e : change.entries.entrySet()) {
        String mode = e.getValue()[0];
        String object = mode.equals(DELETE) ? "0".repeat(40)
            : mode.equals(GITLINK) ? e.getValue()[1] : blob(e.getValue()[1].getBytes(StandardCharsets.UTF_8));
        info.write((mode + " " + object + "\t").getBytes(StandardCharsets.US_ASCII));
        info.write(e.getKey());
        info.write(0);
      }
      scratch.feed(info.toByteArray(), "update-index", "-z", "--index-info");
      String tree = scratch.run("write-tree").line();
      String id = parent == null
          ? asUser().run("commit-tree", tree, "-m", "change").line()
          : asUser().run("commit-tree", tree, "-p", parent, "-m", "change").line();
      Files.deleteIfExists(index);
      return id;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Points a branch at a commit. */
  void branch(String name, String commit) {
    git.run("update-ref", "refs/heads/" + name, commit);
  }

  String blob(byte[] content) {
    return git.feed(content, "hash-object", "-w", "--stdin").line();
  }

  private GitCli asUser() {
    return git.withEnv(Map.of("GIT_AUTHOR_NAME", "Test", "GIT_AUTHOR_EMAIL", "test@lanes.invalid",
        "GIT_COMMITTER_NAME", "Test", "GIT_COMMITTER_EMAIL", "test@lanes.invalid"));
  }
}
