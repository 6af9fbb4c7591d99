package dev.lanes.worker;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lanes.protocol.TaskRef;
import dev.lanes.worker.git.Mirror;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a worker does at start about the attempts an earlier run of it left behind when it ended without cleaning up
 * (a crash, SIGKILL, a power cut). It holds the work directory's lock, so nothing else is running there.
 *
 * <p>The rule: nothing that exists only on this machine is deleted before it is archived. For each attempt directory
 * under {@code worktrees/} that is not kept:
 * <ul>
 *   <li>a worktree with uncommitted changes (tracked or untracked; ignored files and {@code .lanes/} aside) or with
 *       commits that are neither in its base nor on the remote: everything is committed as the worker and a branch
 *       {@code lanes-archive/RUN/TASK/eEPOCH} is made of it in the mirror (never pushed), recorded as kept; then the
 *       worktree and its local branch go;</li>
 *   <li>a clean worktree with nothing of its own (a passed attempt whose cleanup was cut short, an agent that had
 *       not started writing): removed with its local branch;</li>
 *   <li>a directory git no longer knows as a worktree of the mirror (or whose {@code .git} link points elsewhere, so
 *       that git commands there would act on another repository): moved as it is to {@code kept/orphans/}.</li>
 * </ul>
 * Then git forgets worktrees whose directories are gone, and local {@code lanes-work/} branches left without a
 * worktree are archived the same way when they hold work, deleted when they do not. What cannot be archived stays
 * where it is, recorded as kept with the reason.
 */
final class CrashRecovery {
  private static final Logger LOG = LoggerFactory.getLogger(CrashRecovery.class);
  private static final Pattern WORK_BRANCH = Pattern.compile("lanes-work/([a-z0-9-]{1,100})/([a-z0-9-]{1,100})/e(\\d{1,9})");
  static final String OUTCOME = "crashed";
  static final String ARCHIVED = "archived after a crash";

  private final WorkDir dir;
  private final Mirror mirror;
  /** What this recovery kept, by attempt id. */
  private final Map<String, WorkDir.Kept> recovered = new LinkedHashMap<>();

  CrashRecovery(WorkDir dir) {
    this.dir = dir;
    this.mirror = dir.mirror();
  }

  List<WorkDir.Kept> run() {
    Set<String> kept = dir.listKept().stream().map(WorkDir.Kept::id).collect(Collectors.toCollection(HashSet::new));
    Map<Path, Mirror.Worktree> known = mirror.worktrees().stream()
        .collect(Collectors.toMap(Mirror.Worktree::path, Function.identity(), (a, b) -> a));
    int stale = 0;
    for (Path runDir : children(dir.worktrees())) {
      String run = runDir.getFileName().toString();
      if (!Files.isDirectory(runDir, LinkOption.NOFOLLOW_LINKS) || !WorkDir.ID_PATTERN.matcher(run).matches()) {
        LOG.warn("{} is not a run directory of Lanes; left alone", runDir);
        continue;
      }
      for (Path attempt : children(runDir)) {
        stale += recoverWorktree(run, attempt, known, kept) ? 1 : 0;
      }
      removeIfEmpty(runDir);
    }
    mirror.pruneWorktrees();
    stale += recoverBranches(kept);
    if (stale > 0) {
      LOG.info("recovered {} attempt(s) left by an earlier run of this worker; {} kept: {}", stale, recovered.size(),
          recovered.values().stream().map(k -> k.id() + " (" + k.reason() + ")").collect(Collectors.joining(", ")));
    }
    return List.copyOf(recovered.values());
  }

  /** Returns whether the directory was a stale attempt. */
  private boolean recoverWorktree(String run, Path path, Map<Path, Mirror.Worktree> known, Set<String> kept) {
    String name = path.getFileName().toString();
    Matcher m = WorkDir.ATTEMPT_NAME.matcher(name);
    if (!m.matches() || !Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
      LOG.warn("{} is not an attempt directory of Lanes; left alone", path);
      return false;
    }
    String task = m.group(1);
    int epoch = Integer.parseInt(m.group(2));
    if (kept.contains(run + "/" + task + "/e" + epoch) || dir.isRunning(path)) {
      return false;
    }
    Stale attempt = stale(run, task, epoch);
    Mirror.Worktree worktree = known.get(path);
    try {
      if (worktree == null || !linksToMirror(path)) {
        moveAside(attempt, path);
      } else if (worktree.locked().filter("initializing"::equals).isPresent()) {
        // git was still checking it out when the worker died: no agent ever saw it
        mirror.removeStaleWorktree(path);
        dropWorkBranch(attempt, Optional.empty());
        LOG.info("removed {}: its checkout had not finished", path);
      } else {
        archiveWorktree(attempt, path);
      }
    } catch (WorkerException e) {
      LOG.error("could not recover {}; left in place: {}", path, e.getMessage());
      keep(attempt, Optional.of(attempt.branch()).filter(mirror::hasBranch), Optional.of(path),
          "could not be archived after a crash, left in place: " + e.getMessage());
    }
    return true;
  }

  private void archiveWorktree(Stale attempt, Path path) {
    saveFindings(attempt, path);
    boolean dirty = mirror.isDirty(path);
    String head = dirty
        ? mirror.commitAll(path, "Lanes: work of " + attempt.id() + " archived after a crash\n\nLanes-Task: "
            + attempt.task() + "\nLanes-Run: " + attempt.run() + "\n").orElseGet(() -> mirror.head(path))
        : mirror.head(path);
    int own = mirror.commitsBeyond(head, attempt.base());
    if (own == 0) {
      mirror.removeStaleWorktree(path);
      dropWorkBranch(attempt, Optional.of(head));
      LOG.info("removed stale worktree {}: nothing in it that is not elsewhere", path);
      return;
    }
    String archive = archive(attempt, head);
    mirror.removeStaleWorktree(path);
    boolean dropped = dropWorkBranch(attempt, Optional.of(head));
    keep(attempt, Optional.of(archive), Optional.empty(), ARCHIVED + ": " + (dirty ? "uncommitted changes, " : "")
        + own + " commit(s) of its own on " + archive);
    if (!dropped) {
      LOG.warn("branch {} holds commits that are not in {}; it is archived on its own", attempt.branch(), archive);
    }
  }

  /** A directory git does not know as a worktree of the mirror: its files are moved aside, never deleted. */
  private void moveAside(Stale attempt, Path path) {
    if (children(path).isEmpty()) {
      WorkDir.deleteTree(path);
      LOG.info("removed empty attempt directory {}", path);
      return;
    }
    Path target = dir.orphans().resolve(attempt.run()).resolve(path.getFileName().toString());
    for (int i = 2; Files.exists(target, LinkOption.NOFOLLOW_LINKS); i++) {
      target = target.resolveSibling(path.getFileName() + "-" + i);
    }
    WorkDir.createDirectories(target.getParent());
    try {
      Files.move(path, target, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new WorkerException("cannot move " + path + " to " + target + ": " + e.getMessage(), e);
    }
    keep(attempt, Optional.empty(), Optional.of(target), "not a worktree git knows after a crash (its .git link was"
        + " missing or pointed elsewhere); its files were moved to " + target);
  }

  /**
   * Local attempt branches that no worktree has checked out and no kept attempt names: left by a crash between
   * removing a worktree and its branch, by a worktree whose directory went missing or was moved aside.
   */
  private int recoverBranches(Set<String> keptIds) {
    Set<String> inUse = new HashSet<>();
    mirror.worktrees().forEach(w -> w.branch().ifPresent(inUse::add));
    dir.listKept().forEach(k -> k.branch().ifPresent(inUse::add));
    int count = 0;
    for (String branch : mirror.branches("lanes-work/")) {
      Matcher m = WORK_BRANCH.matcher(branch);
      if (inUse.contains(branch) || !m.matches()) {
        continue;
      }
      Stale attempt = stale(m.group(1), m.group(2), Integer.parseInt(m.group(3)));
      if (keptIds.contains(attempt.id())) {
        continue;
      }
      count++;
      String head = mirror.branchCommit(branch);
      if (mirror.commitsBeyond(head, attempt.base()) == 0) {
        mirror.deleteBranch(branch);
        LOG.info("deleted branch {}: left without its worktree, nothing on it that is not elsewhere", branch);
      } else {
        String archive = archive(attempt, head);
        mirror.deleteBranch(branch);
        String why = "branch " + branch + " had lost its worktree; its commits are on " + archive;
        WorkDir.Kept earlier = recovered.get(attempt.id());
        if (earlier == null) {
          keep(attempt, Optional.of(archive), Optional.empty(), ARCHIVED + ": " + why);
        } else {
          keep(attempt, Optional.of(archive), earlier.worktree(), earlier.reason() + "; " + why);
        }
      }
    }
    return count;
  }

  /** Makes the archive branch at {@code head}; one that already holds exactly that commit is reused. */
  private String archive(Stale attempt, String head) {
    String base = "lanes-archive/" + attempt.run() + "/" + attempt.task() + "/e" + attempt.epoch();
    for (int i = 1; ; i++) {
      String name = i == 1 ? base : base + "-" + i;
      if (!mirror.hasBranch(name)) {
        mirror.createBranch(name, head);
        return name;
      } else if (mirror.branchCommit(name).equals(head)) {
        return name;
      }
    }
  }

  /** Deletes the attempt's local branch if it holds nothing beyond {@code head}; returns whether it is gone. */
  private boolean dropWorkBranch(Stale attempt, Optional<String> head) {
    if (!mirror.hasBranch(attempt.branch())) {
      return true;
    }
    String tip = mirror.branchCommit(attempt.branch());
    boolean contained = head.map(h -> mirror.isAncestor(tip, h))
        .orElseGet(() -> mirror.commitsBeyond(tip, attempt.base()) == 0);
    if (contained) {
      mirror.deleteBranch(attempt.branch());
    }
    return contained;
  }

  /**
   * Whether the worktree's {@code .git} file points into the mirror. An agent could have rewritten it, and git
   * commands run there would then commit into whatever repository it names.
   */
  private boolean linksToMirror(Path worktree) {
    Path link = worktree.resolve(".git");
    try {
      if (!Files.isRegularFile(link, LinkOption.NOFOLLOW_LINKS) || Files.size(link) > 4096) {
        return false;
      }
      String text = Files.readString(link).strip();
      if (!text.startsWith("gitdir: ")) {
        return false;
      }
      Path gitDir = Path.of(text.substring("gitdir: ".length())).normalize();
      return gitDir.startsWith(mirror.dir().toRealPath().resolve("worktrees"));
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** Copies the agent's findings file next to the attempt's logs, where it outlives the worktree. */
  private void saveFindings(Stale attempt, Path worktree) {
    Path findings = worktree.resolve(Findings.FILE);
    try {
      if (Files.isDirectory(worktree.resolve(".lanes"), LinkOption.NOFOLLOW_LINKS)
          && Files.isRegularFile(findings, LinkOption.NOFOLLOW_LINKS) && Files.size(findings) <= Findings.MAX_BYTES) {
        Files.createDirectories(attempt.logs());
        Files.copy(findings, attempt.logs().resolve("findings.json"), StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      LOG.warn("could not save {}: {}", findings, e.getMessage());
    }
  }

  private void keep(Stale attempt, Optional<String> branch, Optional<Path> worktree, String reason) {
    WorkDir.Kept kept = new WorkDir.Kept(attempt.run(), attempt.plan(), attempt.task(), attempt.epoch(), branch,
        worktree, attempt.logs(), OUTCOME, reason, dir.clock().instant());
    dir.record(kept);
    recovered.put(kept.id(), kept);
    LOG.warn("kept {} after a crash: {}", kept.id(), reason);
  }

  private Stale stale(String run, String task, int epoch) {
    Path logs = dir.logsOf(run, task + "-e" + epoch);
    Optional<JsonNode> book = dir.bookkeeping(logs);
    return new Stale(run, book.map(b -> b.path("plan").asText()).orElse(""), task, epoch,
        TaskRef.branch(run, task, epoch), book.map(b -> b.path("base").asText()).filter(s -> !s.isEmpty()), logs);
  }

  /** An attempt left behind, with what its bookkeeping says it started from. */
  private record Stale(String run, String plan, String task, int epoch, String branch, Optional<String> base,
      Path logs) {
    String id() {
      return run + "/" + task + "/e" + epoch;
    }
  }

  private static List<Path> children(Path dir) {
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return List.of();
    }
    try (Stream<Path> list = Files.list(dir)) {
      return list.sorted().toList();
    } catch (IOException e) {
      throw new WorkerException("cannot list " + dir + ": " + e.getMessage(), e);
    }
  }

  private static void removeIfEmpty(Path dir) {
    try {
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      // not empty: something in it was kept or left alone
    }
  }
}
