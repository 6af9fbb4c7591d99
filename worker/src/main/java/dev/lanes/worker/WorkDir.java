package dev.lanes.worker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskRef;
import dev.lanes.worker.git.Mirror;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The directory a worker owns, and the record of what it keeps there:
 * <pre>
 * lock                                   held with a file lock while the worker runs; says which process holds it
 * instance                               this directory's random id: the worker instance that runs from it
 * mirror.git/                            the worker's bare mirror of the remote
 * worktrees/RUN/TASK-eEPOCH/             one attempt's checkout, on its local branch lanes-work/RUN/TASK/eEPOCH
 * logs/RUN/TASK-eEPOCH/                  agent.log, verify.log and attempt.json (what the attempt started from)
 * kept/RUN.TASK.eEPOCH.json              one entry per kept attempt: a failed one, or work archived after a crash
 * kept/orphans/RUN/TASK-eEPOCH/          attempt directories git had lost track of, moved aside after a crash
 * </pre>
 *
 * <p>A passed attempt's worktree and local branch are removed once its branch is pushed; a failed one's are kept with
 * its logs until a person discards them. The ids that make up these paths and branch names come from the wire, so
 * they are checked against {@code [a-z0-9-]+} before any path is made of them.
 *
 * <p>Two workers on one directory would remove each other's worktrees as stale, so a worker holds {@code lock} with an
 * OS file lock for as long as it runs; the lock goes with the process, however it ends. Within one JVM the lock is
 * tracked in a set as well, because a second lock on the same file from the same process neither fails nor survives
 * the first channel's close.
 */
public final class WorkDir implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(WorkDir.class);
  static final Pattern ID_PATTERN = Pattern.compile("[a-z0-9-]{1,100}");
  private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}|[0-9a-f]{64}");
  /** An attempt directory's name, {@code TASK-eEPOCH}; the greedy task part takes any earlier "-e". */
  static final Pattern ATTEMPT_NAME = Pattern.compile("([a-z0-9-]{1,100})-e(\\d{1,9})");
  private static final Set<Path> LOCKED_HERE = ConcurrentHashMap.newKeySet();

  private final Path root;
  private final FileChannel lockFile;
  private final Mirror mirror;
  private final Clock clock;
  private final Set<Path> running = ConcurrentHashMap.newKeySet();

  private WorkDir(Path root, FileChannel lockFile, Mirror mirror, Clock clock) {
    this.root = root;
    this.lockFile = lockFile;
    this.mirror = mirror;
    this.clock = clock;
  }

  /**
   * Where one attempt lives.
   *
   * @param branch the local branch of its worktree, which is also the branch it is pushed to
   */
  public record Attempt(String run, String plan, String task, int epoch, String branch, Path worktree, Path logs) {
    /** {@code RUN/TASK/eEPOCH}, as kept attempts are named. */
    public String id() {
      return run + "/" + task + "/e" + epoch;
    }
  }

  /**
   * An attempt kept for a person to look at.
   *
   * @param plan empty when the attempt's bookkeeping was lost
   * @param branch the local branch of the mirror that holds its work: the attempt's own branch, or a
   *     {@code lanes-archive/…} branch for work archived after a crash; empty when git had lost track of it
   * @param worktree its checkout, or the directory it was moved to under {@code kept/orphans/}; empty when the work
   *     lives only on the archive branch
   * @param outcome {@code agent-failed}, {@code verify-failed}, {@code ownership-violation}, {@code error} or
   *     {@code crashed}
   */
  public record Kept(String run, String plan, String task, int epoch, Optional<String> branch,
      Optional<Path> worktree, Path logs, String outcome, String reason, Instant time) {
    public String id() {
      return run + "/" + task + "/e" + epoch;
    }
  }

  /**
   * Opens the work directory, creating it and its mirror of {@code repoUrl} on first use. Fails if another worker
   * holds it; the lock is held until {@link #close}.
   */
  public static WorkDir open(Path dir, String repoUrl, Clock clock) {
    return open(dir, repoUrl, clock, false);
  }

  /**
   * The same; a mirror of another remote than {@code repoUrl} is refused, or, with {@code resetMirror}, made to mirror
   * {@code repoUrl} from now on (see {@link Mirror#open(Path, String, boolean)}).
   */
  public static WorkDir open(Path dir, String repoUrl, Clock clock, boolean resetMirror) {
    Path root = realPath(createDirectories(dir.toAbsolutePath().normalize()));
    FileChannel lock = lock(root);
    try {
      return new WorkDir(root, lock, Mirror.open(root.resolve("mirror.git"), repoUrl, resetMirror), clock);
    } catch (RuntimeException e) {
      unlock(root, lock);
      throw e;
    }
  }

  /**
   * Opens a work directory a worker made earlier, its remote as its mirror records it: for commands that look after
   * kept attempts while no worker runs there. Fails if a worker holds it.
   */
  public static WorkDir openExisting(Path dir, Clock clock) {
    if (!Files.isRegularFile(dir.resolve("mirror.git/HEAD"))) {
      throw new WorkerException(dir + " is not a worker's directory: it has no mirror.git");
    }
    Path root = realPath(dir);
    FileChannel lock = lock(root);
    try {
      return new WorkDir(root, lock, Mirror.existing(root.resolve("mirror.git")), clock);
    } catch (RuntimeException e) {
      unlock(root, lock);
      throw e;
    }
  }

  /** Git records worktrees by their real paths, so the directory is known by its real path too. */
  private static Path realPath(Path dir) {
    try {
      return dir.toRealPath();
    } catch (IOException e) {
      throw new WorkerException("cannot resolve " + dir + ": " + e.getMessage(), e);
    }
  }

  private static FileChannel lock(Path root) {
    if (!LOCKED_HERE.add(root)) {
      throw inUse(root, Long.toString(ProcessHandle.current().pid()));
    }
    FileChannel channel = null;
    try {
      channel = FileChannel.open(root.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.READ,
          StandardOpenOption.WRITE);
      FileLock held = channel.tryLock();
      if (held == null) {
        String pid = readPid(channel);
        channel.close();
        LOCKED_HERE.remove(root);
        throw inUse(root, pid);
      }
      channel.truncate(0);
      channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
      channel.force(false);
      return channel;
    } catch (IOException | OverlappingFileLockException e) {
      closeQuietly(channel);
      LOCKED_HERE.remove(root);
      throw new WorkerException("cannot lock work directory " + root + ": " + e, e);
    }
  }

  private static WorkerException inUse(Path root, String pid) {
    return new WorkerException("work directory " + root + " is in use by another worker (pid " + pid
        + "); give each worker its own --dir");
  }

  private static String readPid(FileChannel channel) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(32);
    channel.read(buf, 0);
    String pid = new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII).strip();
    return pid.matches("\\d+") ? pid : "unknown";
  }

  private static void unlock(Path root, FileChannel channel) {
    closeQuietly(channel); // closing the channel releases the lock
    LOCKED_HERE.remove(root);
  }

  private static void closeQuietly(FileChannel channel) {
    try {
      if (channel != null) {
        channel.close();
      }
    } catch (IOException e) {
      LOG.warn("cannot close {}: {}", channel, e.getMessage());
    }
  }

  public Path root() {
    return root;
  }

  /**
   * The id of the worker instance that runs from this directory, made at random the first time and kept in it: a
   * worker started here again is the same instance, and a second process with its id but another directory is not.
   * Read under the lock, so two processes never make one each.
   */
  public String instance() {
    Path file = root.resolve("instance");
    try {
      if (Files.isRegularFile(file)) {
        String kept = Files.readString(file, StandardCharsets.UTF_8).strip();
        if (kept.matches("[0-9a-f]{32}")) {
          return kept;
        }
      }
      byte[] random = new byte[16];
      new java.security.SecureRandom().nextBytes(random);
      String made = java.util.HexFormat.of().formatHex(random);
      Files.writeString(file, made + "\n", StandardCharsets.UTF_8);
      return made;
    } catch (IOException e) {
      throw new WorkerException("cannot keep this worker's instance id in " + file + ": " + e.getMessage(), e);
    }
  }

  public Mirror mirror() {
    return mirror;
  }

  Clock clock() {
    return clock;
  }

  Path worktrees() {
    return root.resolve("worktrees");
  }

  Path keptDir() {
    return root.resolve("kept");
  }

  Path orphans() {
    return keptDir().resolve("orphans");
  }

  Path logsOf(String run, String attemptName) {
    return root.resolve("logs").resolve(run).resolve(attemptName);
  }

  /**
   * Where an offered attempt lives. Rejects ids that are not {@code [a-z0-9-]+}, a base that is not a full commit id,
   * and a branch other than the one derived from the ids, naming the field: they become paths and git arguments.
   */
  public Attempt attempt(TaskOffered offer) {
    checkId("run", offer.run());
    checkId("plan", offer.plan());
    checkId("task", offer.task());
    if (offer.epoch() < 0) {
      throw new WorkerException("epoch: " + offer.epoch() + " must not be negative");
    }
    if (!COMMIT.matcher(offer.baseCommit()).matches()) {
      throw new WorkerException("baseCommit: \"" + offer.baseCommit() + "\" is not a full commit id");
    }
    String branch = TaskRef.branch(offer.run(), offer.task(), offer.epoch());
    if (!offer.branch().equals(branch)) {
      throw new WorkerException("branch: \"" + offer.branch() + "\" is not the branch of this attempt (" + branch + ")");
    }
    String name = offer.task() + "-e" + offer.epoch();
    return new Attempt(offer.run(), offer.plan(), offer.task(), offer.epoch(), branch,
        worktrees().resolve(offer.run()).resolve(name), logsOf(offer.run(), name));
  }

  private static void checkId(String field, String value) {
    if (!ID_PATTERN.matcher(value).matches()) {
      throw new WorkerException(field + ": \"" + value + "\" must be 1 to 100 of [a-z0-9-]");
    }
  }

  /**
   * Everything before the agent: checks the offer, records the attempt as running, writes its bookkeeping, and
   * creates its worktree on its branch at exactly the base commit. The mirror fetches only when it lacks that commit:
   * a fetch costs a round trip to the remote, and a commit id names the same tree wherever it was found.
   */
  public Attempt prepare(TaskOffered offer) {
    Attempt attempt = attempt(offer);
    if (!running.add(attempt.worktree())) {
      throw new WorkerException("attempt " + attempt.id() + " is already running on this worker");
    }
    try {
      createDirectories(attempt.worktree().getParent());
      createDirectories(attempt.logs());
      writeBookkeeping(attempt, offer.baseCommit());
      if (!mirror.hasCommit(offer.baseCommit())) {
        mirror.fetch();
        if (!mirror.hasCommit(offer.baseCommit())) {
          throw new WorkerException("base commit " + offer.baseCommit() + " is not in " + mirror.url());
        }
      }
      mirror.addWorktree(attempt.worktree(), attempt.branch(), offer.baseCommit());
      return attempt;
    } catch (RuntimeException e) {
      running.remove(attempt.worktree());
      throw e;
    }
  }

  /** A passed attempt, its branch pushed: its worktree and local branch go; its logs stay. */
  public void finish(Attempt attempt) {
    try {
      mirror.removeWorktree(attempt.worktree(), attempt.branch());
    } finally {
      running.remove(attempt.worktree());
    }
  }

  /** A failed attempt: its worktree, local branch and logs stay, recorded as kept. */
  public Kept keep(Attempt attempt, String outcome, String reason) {
    Kept kept = new Kept(attempt.run(), attempt.plan(), attempt.task(), attempt.epoch(), Optional.of(attempt.branch()),
        Optional.of(attempt.worktree()), attempt.logs(), outcome, reason, clock.instant());
    try {
      record(kept);
    } finally {
      running.remove(attempt.worktree());
    }
    LOG.warn("kept attempt {} ({}: {}): worktree {}, branch {}, logs {}", kept.id(), outcome, reason,
        attempt.worktree(), attempt.branch(), attempt.logs());
    return kept;
  }

  boolean isRunning(Path worktree) {
    return running.contains(worktree);
  }

  /** Kept attempts, newest first. */
  public List<Kept> listKept() {
    return listKept(root);
  }

  /**
   * The kept attempts of a work directory, newest first, without locking it: for a command that lists them while
   * the worker runs. An entry that cannot be read is skipped with a warning.
   */
  public static List<Kept> listKept(Path dir) {
    Path kept = dir.resolve("kept");
    if (!Files.isDirectory(kept)) {
      return List.of();
    }
    List<Kept> out = new ArrayList<>();
    try (Stream<Path> files = Files.list(kept)) {
      for (Path file : files.filter(f -> f.getFileName().toString().endsWith(".json")).sorted().toList()) {
        readKept(file).ifPresent(out::add);
      }
    } catch (IOException e) {
      throw new WorkerException("cannot list " + kept + ": " + e.getMessage(), e);
    }
    out.sort(Comparator.comparing(Kept::time).reversed().thenComparing(Kept::id));
    return List.copyOf(out);
  }

  /**
   * Discards a kept attempt for good: its worktree (or moved-aside directory), its local or archive branch, its logs
   * and its entry. The remote is not touched.
   *
   * @param id as {@link Kept#id()} names it, {@code RUN/TASK/eEPOCH}
   */
  public Kept discard(String id) {
    Kept kept = listKept().stream().filter(k -> k.id().equals(id)).findFirst()
        .orElseThrow(() -> new WorkerException("no kept attempt " + id + " in " + root));
    Optional<Path> worktree = kept.worktree().filter(Files::exists);
    if (worktree.isPresent() && !worktree.get().startsWith(worktrees()) && !worktree.get().startsWith(orphans())) {
      throw new WorkerException("kept attempt " + id + " names " + worktree.get() + ", outside " + root
          + "; not deleting it");
    }
    if (worktree.isPresent() && mirror.worktrees().stream().anyMatch(w -> w.path().equals(worktree.get()))) {
      mirror.removeStaleWorktree(worktree.get());
    } else {
      worktree.ifPresent(WorkDir::deleteTree);
    }
    mirror.pruneWorktrees();
    kept.branch().filter(b -> b.startsWith("lanes-work/") || b.startsWith("lanes-archive/"))
        .filter(mirror::hasBranch).ifPresent(mirror::deleteBranch);
    if (kept.logs().startsWith(root.resolve("logs"))) {
      deleteTree(kept.logs());
    }
    try {
      Files.deleteIfExists(keptFile(kept));
    } catch (IOException e) {
      throw new WorkerException("cannot delete " + keptFile(kept) + ": " + e.getMessage(), e);
    }
    LOG.info("discarded kept attempt {}", id);
    return kept;
  }

  /**
   * Cleans up after a worker that ended without cleaning up (a crash, SIGKILL): worktrees that are neither kept nor
   * running are removed, their uncommitted or unpushed work archived on a branch first. Run before taking work.
   *
   * @return the attempts it archived or moved aside, now kept
   */
  public List<Kept> recover() {
    return new CrashRecovery(this).run();
  }

  /** Writes a kept entry, replacing one for the same attempt. */
  void record(Kept kept) {
    ObjectNode json = Json.mapper().createObjectNode();
    json.put("run", kept.run());
    json.put("plan", kept.plan());
    json.put("task", kept.task());
    json.put("epoch", kept.epoch());
    kept.branch().ifPresent(b -> json.put("branch", b));
    kept.worktree().ifPresent(w -> json.put("worktree", w.toString()));
    json.put("logs", kept.logs().toString());
    json.put("outcome", kept.outcome());
    json.put("reason", kept.reason());
    json.put("time", kept.time().toString());
    writeAtomically(keptFile(kept), json);
  }

  private Path keptFile(Kept kept) {
    return keptDir().resolve(kept.run() + "." + kept.task() + ".e" + kept.epoch() + ".json");
  }

  private static Optional<Kept> readKept(Path file) {
    try {
      JsonNode n = Json.mapper().readTree(file.toFile());
      return Optional.of(new Kept(n.path("run").asText(), n.path("plan").asText(), n.path("task").asText(),
          n.path("epoch").asInt(), text(n, "branch"), text(n, "worktree").map(Path::of),
          Path.of(n.path("logs").asText()), n.path("outcome").asText(), n.path("reason").asText(),
          Instant.parse(n.path("time").asText())));
    } catch (IOException | RuntimeException e) {
      LOG.warn("skipping unreadable kept entry {}: {}", file, e.toString());
      return Optional.empty();
    }
  }

  private static Optional<String> text(JsonNode node, String field) {
    return node.hasNonNull(field) ? Optional.of(node.get(field).asText()) : Optional.empty();
  }

  /** What an attempt started from, next to its logs, for the recovery after a crash. */
  private void writeBookkeeping(Attempt attempt, String base) {
    ObjectNode json = Json.mapper().createObjectNode();
    json.put("run", attempt.run());
    json.put("plan", attempt.plan());
    json.put("task", attempt.task());
    json.put("epoch", attempt.epoch());
    json.put("branch", attempt.branch());
    json.put("base", base);
    json.put("started", clock.instant().toString());
    try {
      Files.write(attempt.logs().resolve("attempt.json"), Json.mapper().writeValueAsBytes(json));
    } catch (IOException e) {
      throw new WorkerException("cannot write " + attempt.logs().resolve("attempt.json") + ": " + e.getMessage(), e);
    }
  }

  /** The bookkeeping of an attempt, if it was written and is readable. */
  Optional<JsonNode> bookkeeping(Path logs) {
    Path file = logs.resolve("attempt.json");
    if (!Files.isRegularFile(file)) {
      return Optional.empty();
    }
    try {
      return Optional.of(Json.mapper().readTree(file.toFile()));
    } catch (IOException e) {
      LOG.warn("unreadable bookkeeping {}: {}", file, e.getMessage());
      return Optional.empty();
    }
  }

  static String outcomeName(Enum<?> outcome) {
    return outcome.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  private static void writeAtomically(Path file, JsonNode json) {
    try {
      createDirectories(file.getParent());
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      Files.write(tmp, Json.mapper().writerWithDefaultPrettyPrinter().writeValueAsBytes(json));
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new WorkerException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  static Path createDirectories(Path dir) {
    try {
      return Files.createDirectories(dir);
    } catch (IOException e) {
      throw new WorkerException("cannot create " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Deletes a directory tree without following symbolic links out of it. */
  static void deleteTree(Path dir) {
    if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    } catch (IOException e) {
      throw new WorkerException("cannot delete " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Releases the lock; the directory and everything kept in it stay. */
  @Override
  public void close() {
    unlock(root, lockFile);
  }
}
