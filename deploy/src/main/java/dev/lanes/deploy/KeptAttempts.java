package dev.lanes.deploy;

import dev.lanes.coordinator.RunReport;
import dev.lanes.protocol.TaskState;
import dev.lanes.worker.WorkDir;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * The attempts workers kept (failed, timed out, archived after a crash) under a directory: a worker's own directory,
 * or a directory of workers' directories, such as the run directory of {@code lanes run}, which has one per worker
 * under {@code workers/}. What a person needs to look at a failed task: its logs and its worktree.
 */
final class KeptAttempts {
  /** One kept attempt and the worker directory that holds it. */
  record Found(String worker, Path workerDir, WorkDir.Kept kept) {}

  private KeptAttempts() {}

  /**
   * The kept attempts under {@code dir}, newest first within each worker directory.
   *
   * @throws IllegalArgumentException when {@code dir} does not exist or is not a directory
   */
  static List<Found> under(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("--dir: " + dir + (Files.exists(dir) ? " is not a directory" : " does not exist"));
    }
    List<Found> found = new ArrayList<>();
    for (Path workerDir : workerDirs(dir)) {
      WorkDir.listKept(workerDir).forEach(k -> found.add(new Found(workerDir.getFileName().toString(), workerDir, k)));
    }
    return found;
  }

  /**
   * The worker's directory under {@code dir} that holds the kept attempt {@code id}: {@code dir} itself when it is a
   * worker's, else the one of its workers' that kept it, so an attempt {@code --list-kept} found under a run directory
   * is discarded with the same {@code --dir}.
   *
   * @throws IllegalArgumentException when {@code dir} does not exist, or none of its workers kept {@code id}
   */
  static Path holderOf(Path dir, String id) {
    if (isWorkerDir(dir)) {
      return dir;
    }
    return under(dir).stream().filter(f -> f.kept().id().equals(id)).map(Found::workerDir).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("--discard: " + id + " is not an attempt kept under " + dir
            + " (lanes worker --dir " + dir + " --list-kept lists them)"));
  }

  /** The directory itself when it is a worker's, else the workers' directories one or two levels down. */
  private static List<Path> workerDirs(Path dir) {
    if (isWorkerDir(dir)) {
      return List.of(dir);
    }
    List<Path> dirs = new ArrayList<>();
    for (Path parent : List.of(dir.resolve("workers"), dir)) {
      if (!Files.isDirectory(parent)) {
        continue;
      }
      try (Stream<Path> children = Files.list(parent)) {
        children.filter(KeptAttempts::isWorkerDir).sorted().forEach(dirs::add);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot list " + parent, e);
      }
    }
    return dirs;
  }

  private static boolean isWorkerDir(Path dir) {
    return Files.isDirectory(dir.resolve("kept")) || Files.isDirectory(dir.resolve("mirror.git"));
  }

  /** Prints one kept attempt: what happened, why, and where its branch, worktree and logs are. */
  static void print(PrintWriter out, String indent, Found f) {
    WorkDir.Kept k = f.kept();
    out.println(indent + k.id() + "  " + k.outcome() + "  " + k.time().truncatedTo(ChronoUnit.SECONDS) + "  (worker "
        + f.worker() + ")");
    out.println(indent + "    why:      " + k.reason());
    k.branch().ifPresent(b -> out.println(indent + "    branch:   " + b + " (in " + f.workerDir().resolve("mirror.git")
        + ")"));
    k.worktree().ifPresent(w -> out.println(indent + "    worktree: " + w));
    out.println(indent + "    logs:     " + k.logs());
  }

  /**
   * The end of a {@code lanes run} that did not land everything: for each task that did not land, where its kept
   * attempts are, or why it has none.
   */
  static void printNotLanded(PrintWriter out, RunReport report, Path runDir) {
    List<Found> kept = under(runDir).stream().filter(f -> f.kept().run().equals(report.run())).toList();
    out.println();
    out.println("Tasks that did not land, and where to look:");
    for (RunReport.Row row : report.tasks()) {
      if (row.state() == TaskState.LANDED) {
        continue;
      }
      List<Found> mine = kept.stream().filter(f -> f.kept().task().equals(row.task())).toList();
      out.println("  " + row.task() + " (" + row.state().toString().toLowerCase(Locale.ROOT) + ")"
          + (mine.isEmpty() ? ": no attempt was kept (" + (row.attempts() == 0 ? "it never ran" : row.detail()) + ")"
              : ""));
      mine.forEach(f -> print(out, "    ", f));
    }
    out.println("They stay in " + runDir + " (lanes worker --dir " + runDir + " --list-kept lists them again;"
        + " lanes gc removes them)");
  }
}
