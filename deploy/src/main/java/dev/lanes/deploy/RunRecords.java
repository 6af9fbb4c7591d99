package dev.lanes.deploy;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;

/**
 * Where each {@code lanes run} keeps its run directory, recorded in the repository's {@code .git/lanes/runs/} from
 * its start until the directory is removed: a run killed before its end, or one that kept failed work, leaves a
 * record for {@code lanes gc} to find what it left.
 */
final class RunRecords {
  /** A run and its run directory. */
  record Entry(String run, String target, Path dir, Path file) {}

  private RunRecords() {}

  static Path write(Path commonGitDir, String run, String target, Path dir) {
    Path file = commonGitDir.resolve("lanes").resolve("runs").resolve(run + ".properties");
    Properties p = new Properties();
    p.setProperty("run", run);
    p.setProperty("target", target);
    p.setProperty("dir", dir.toString());
    StringWriter text = new StringWriter();
    try {
      p.store(text, "the run directory of a lanes run; lanes gc removes both once the run has ended");
      Files.createDirectories(file.getParent());
      Files.writeString(file, text.toString(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
    return file;
  }

  static List<Entry> list(Path commonGitDir) {
    Path dir = commonGitDir.resolve("lanes").resolve("runs");
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    List<Entry> entries = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".properties")).sorted().toList()) {
        Properties p = new Properties();
        p.load(new StringReader(Files.readString(file, StandardCharsets.UTF_8)));
        if (p.getProperty("run") != null && p.getProperty("dir") != null) {
          entries.add(new Entry(p.getProperty("run"), p.getProperty("target", "?"), Path.of(p.getProperty("dir")),
              file));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + dir, e);
    }
    return entries;
  }
}
