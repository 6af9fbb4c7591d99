package dev.lanes.coordinator.git;

import dev.lanes.coordinator.LeadException;
import dev.lanes.git.GitCli;
import dev.lanes.git.GitException;
import dev.lanes.git.GitRepository;
import dev.lanes.protocol.ExistingTarget;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.eclipse.jgit.lib.CommitBuilder;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.ObjectInserter;
import org.eclipse.jgit.lib.PersonIdent;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.RefUpdate;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.treewalk.TreeWalk;

/**
 * The lead's only write access to the user's repository: it moves the target branch, and nothing else.
 *
 * <p>Everything happens on objects and refs, never in a working tree: merges are computed by {@code git merge-tree}
 * without a worktree or index (see {@link #mergeOnto}), commits are written straight to the object database, and the
 * target ref is moved with a compare-and-swap on its old value. So the user's checked-out branch, index and files are
 * never touched, and a concurrent writer to the target is detected rather than overwritten. JGit does all of this
 * but the merge itself and the list of worktrees, which the git layer's CLI runner does ({@link GitCli}).
 */
public final class TargetBranch implements AutoCloseable {
  private static final PersonIdent LANES = new PersonIdent("Lanes", "lanes@localhost");
  private static final int REF_RETRIES = 5;

  private final GitRepository git;
  private final Repository repo;
  /** {@code refs/heads/} in the common git directory; see {@link #looseTip}. */
  private Path looseHeads;
  private final Path dir;
  private final java.time.Clock clock;

  private TargetBranch(GitRepository git, Path dir, java.time.Clock clock) {
    this.git = git;
    this.repo = git.jgit();
    this.dir = dir;
    this.clock = clock;
  }

  /** Opens the repository at or above {@code dir}. */
  public static TargetBranch open(Path dir) {
    return open(dir, java.time.Clock.systemUTC());
  }

  /** Opens the repository at or above {@code dir}; merge commits carry the clock's time. */
  public static TargetBranch open(Path dir, java.time.Clock clock) {
    try {
      return new TargetBranch(GitRepository.open(dir), dir, clock);
    } catch (GitException e) {
      throw new LeadException("--repo: " + e.getMessage(), e);
    }
  }

  /** The repository, for the lead's own check of a result ({@link dev.lanes.git.ResultCheck}). */
  public GitRepository repository() {
    return git;
  }

  /** The repository's git directory: the URL workers on this machine fetch from and push to. */
  public Path gitDir() {
    return repo.getDirectory().toPath().toAbsolutePath();
  }

  /** The branch checked out in the repository's main working tree, if HEAD is a branch. */
  public Optional<String> currentBranch() {
    try {
      Ref head = repo.exactRef(Constants.HEAD);
      if (head != null && head.isSymbolic()) {
        return Optional.of(Repository.shortenRefName(head.getTarget().getName()));
      }
      return Optional.empty();
    } catch (IOException e) {
      throw failure("read HEAD", e);
    }
  }

  /** Resolves the plan's base (a branch, tag or commit; empty means the current branch) to a commit id. */
  public String resolveBase(Optional<String> base) {
    String spec = base.orElseGet(() -> currentBranch().orElse(Constants.HEAD));
    ObjectId id = resolveCommit(spec);
    if (id == null) {
      throw new LeadException(
          "base: \"" + spec + "\" is not a branch, tag or commit in " + dir
              + (base.isEmpty() ? " (the repository has no commit yet?)" : ""));
    }
    return id.name();
  }

  /**
   * Makes sure the target branch exists and holds the base, building on an existing one (as a resumed run does).
   * Refuses to move a checked-out branch.
   */
  public void prepare(String target, String baseCommit) {
    prepare(target, baseCommit, Optional.of(ExistingTarget.CONTINUE), "run");
  }

  /**
   * Makes sure the target branch exists and holds the base, as {@link #check} allows: creates it at the base, keeps
   * an existing one at the base, builds on one ahead of it ({@code CONTINUE}), or starts it again from the base
   * ({@code FRESH}, its old tip kept as {@link #backupRef}). Refuses to move a checked-out branch.
   */
  public void prepare(String target, String baseCommit, Optional<ExistingTarget> existing, String run) {
    check(target, baseCommit, existing);
    ObjectId base = ObjectId.fromString(baseCommit);
    Optional<String> tip = tip(target);
    if (tip.isEmpty()) {
      moveRef(target, ObjectId.zeroId(), base, "lanes: create target");
    } else if (!tip.get().equals(baseCommit) && existing.equals(Optional.of(ExistingTarget.FRESH))) {
      ObjectId old = ObjectId.fromString(tip.get());
      if (!tryMoveFullRef(backupRef(target, run), ObjectId.zeroId(), old, "lanes: backup of " + target)) {
        throw new LeadException(backupRef(target, run) + " exists already; the target is left as it was");
      }
      moveRef(target, old, base, "lanes: start " + target + " again from the base for run " + run);
    }
  }

  /**
   * Whether a run may start on the target as it is, without changing anything: a target that does not exist or sits
   * at the base is fine; one ahead of the base needs a choice, and one that lacks the base can only start again.
   *
   * @throws LeadException naming the target, how it stands and the options
   */
  public void check(String target, String baseCommit, Optional<ExistingTarget> existing) {
    checkedOutProblem(target).ifPresent(problem -> {
      throw new LeadException(problem);
    });
    Optional<String> tip = tip(target);
    if (tip.isEmpty() || tip.get().equals(baseCommit) || existing.equals(Optional.of(ExistingTarget.FRESH))) {
      return;
    }
    String base = baseCommit.substring(0, 12);
    if (!isAncestor(ObjectId.fromString(baseCommit), ObjectId.fromString(tip.get()))) {
      throw new LeadException(
          "target: branch \"" + target + "\" already exists and does not contain the base commit " + base
              + "; run with --fresh to start it again from the base (its tip is kept under refs/lanes/backup/),"
              + " or choose another target");
    }
    if (existing.isEmpty()) {
      throw new LeadException("target: branch \"" + target + "\" already exists, " + ahead(baseCommit, tip.get())
          + " commit(s) ahead of the base " + base + " (an earlier run's result?); run with --continue to build on"
          + " it, or with --fresh to start it again from the base (its tip is kept under refs/lanes/backup/)");
    }
  }

  /** Where {@code FRESH} keeps the old tip of a target that run {@code run} started again. */
  public static String backupRef(String target, String run) {
    return "refs/lanes/backup/" + target + "/" + run;
  }

  private int ahead(String base, String tip) {
    try (RevWalk walk = new RevWalk(repo)) {
      walk.markStart(walk.parseCommit(ObjectId.fromString(tip)));
      walk.markUninteresting(walk.parseCommit(ObjectId.fromString(base)));
      int n = 0;
      for (RevCommit c : walk) {
        n++;
      }
      return n;
    } catch (IOException e) {
      throw failure("count the commits of " + tip, e);
    }
  }

  /**
   * The workers' task branches in the repository ({@code lanes-work/RUN/TASK/eN}) under {@code prefix}, e.g.
   * {@code lanes-work/RUN/} for one run's.
   */
  public List<String> workBranches(String prefix) {
    try {
      return repo.getRefDatabase().getRefsByPrefix(Constants.R_HEADS + prefix).stream()
          .map(r -> Repository.shortenRefName(r.getName())).filter(b -> b.startsWith("lanes-work/")).sorted().toList();
    } catch (IOException e) {
      throw failure("list the branches under " + prefix, e);
    }
  }

  /** Deletes a branch whatever it points to; a branch already gone is no error. */
  public void deleteBranch(String branch) {
    try {
      RefUpdate update = repo.updateRef(Constants.R_HEADS + branch);
      update.setForceUpdate(true);
      RefUpdate.Result result = update.delete();
      if (result != RefUpdate.Result.FORCED && result != RefUpdate.Result.NO_CHANGE
          && result != RefUpdate.Result.NEW) {
        throw new LeadException("cannot delete branch " + branch + ": " + result);
      }
    } catch (IOException e) {
      throw failure("delete branch " + branch, e);
    }
  }

  /**
   * Why {@code target} cannot be a target here, if it is the branch checked out in the repository's working tree or in
   * one of its linked worktrees: asked before a run starts ({@code lanes check}, {@code run}, {@code submit}) and again
   * when the lead prepares the target.
   */
  public Optional<String> checkedOutProblem(String target) {
    return checkedOutAt(target).map(where -> "target: \"" + target + "\" is the branch checked out in " + where
        + "; Lanes never moves a checked-out branch (choose another target)");
  }

  /**
   * What {@code git status} lists as not committed in the working tree the repository was opened from (tracked files
   * changed, staged or not, and untracked files that are not ignored), as {@code XY path} lines in git's short format;
   * empty for a bare repository. Agents start from a commit, so none of this reaches them.
   */
  public List<String> uncommitted() {
    GitCli.Result r;
    try {
      r = GitCli.in(dir).probe("status", "--porcelain", "-z", "--untracked-files=normal");
    } catch (GitException e) {
      throw new LeadException("cannot read the status of " + dir + ": " + e.getMessage(), e);
    }
    if (!r.ok()) {
      return List.of(); // no working tree (a bare repository): nothing can be left out
    }
    List<String> entries = new ArrayList<>();
    List<byte[]> fields = r.fields();
    for (int i = 0; i < fields.size(); i++) {
      String entry = new String(fields.get(i), java.nio.charset.StandardCharsets.UTF_8);
      entries.add(entry);
      if (entry.startsWith("R") || entry.startsWith("C")) {
        i++; // a rename or copy is followed by the path it came from
      }
    }
    return entries;
  }

  /**
   * Where the branch is checked out, if anywhere: the repository's own working tree or one of its linked worktrees,
   * as {@code git worktree list} reports them.
   */
  private Optional<String> checkedOutAt(String branch) {
    if (currentBranch().filter(branch::equals).isPresent()) {
      return Optional.of(dir.toString());
    }
    try {
      return GitRepository.worktrees(git.cli()).stream().filter(w -> w.branch().filter(branch::equals).isPresent())
          .map(w -> w.path().toString()).findFirst();
    } catch (GitException e) {
      throw new LeadException("cannot list the worktrees of " + dir + ": " + e.getMessage(), e);
    }
  }

  /** The git directory shared by all worktrees: for a linked worktree, the main repository's. */
  private Path commonDir() {
    try {
      return git.commonDir();
    } catch (GitException e) {
      throw new LeadException(e.getMessage(), e);
    }
  }

  /** Whether {@code commit} has {@code ancestor} in its history (or is it). */
  public boolean descendsFrom(String commit, String ancestor) {
    return isAncestor(ObjectId.fromString(ancestor), ObjectId.fromString(commit));
  }

  /** The commit the branch points to, if it exists. */
  public Optional<String> tip(String branch) {
    Optional<String> loose = looseTip(branch);
    if (loose.isPresent()) {
      return loose;
    }
    try {
      Ref ref = repo.exactRef(Constants.R_HEADS + branch);
      return ref == null || ref.getObjectId() == null ? Optional.empty() : Optional.of(ref.getObjectId().name());
    } catch (IOException e) {
      throw failure("read branch " + branch, e);
    }
  }

  /**
   * The commit id in the branch's loose ref file, when there is such a file. Git and JGit write it whole (a lock file,
   * then a rename) and a loose ref wins over packed-refs, so this is the tip. Reading it here spares the lead JGit's
   * look for a packed-refs file on every read, which, when there is none, costs a file system walk and several
   * exceptions: the lead reads the tip for every new attempt. No such file, a symbolic ref or another ref storage:
   * empty, and JGit decides.
   */
  private Optional<String> looseTip(String branch) {
    if (!Repository.isValidRefName(Constants.R_HEADS + branch)) {
      return Optional.empty();
    }
    if (looseHeads == null) {
      looseHeads = commonDir().resolve(Constants.R_HEADS).normalize();
    }
    Path file = looseHeads.resolve(branch).normalize();
    if (!file.startsWith(looseHeads) || !java.nio.file.Files.isRegularFile(file)) {
      return Optional.empty();
    }
    try {
      String id = java.nio.file.Files.readString(file, java.nio.charset.StandardCharsets.US_ASCII).strip();
      return ObjectId.isId(id) ? Optional.of(id.toLowerCase(java.util.Locale.ROOT)) : Optional.empty();
    } catch (IOException | java.io.UncheckedIOException e) {
      return Optional.empty(); // removed or repacked meanwhile
    }
  }

  /** Whether the commit exists in the repository (a worker has pushed it). */
  public boolean hasCommit(String commit) {
    return ObjectId.isId(commit) && resolveCommit(commit) != null;
  }

  /**
   * Every file path in the commit's tree (blobs, symlinks and submodules; never directories), in git's tree order,
   * which for ASCII paths is their sorted order. Read with a recursive JGit {@link TreeWalk}; no working tree is used.
   *
   * @param commit a commit id, or anything that resolves to a commit (branch, tag)
   */
  public List<String> files(String commit) {
    ObjectId id = resolveCommit(commit);
    if (id == null) {
      throw new LeadException("commit \"" + commit + "\" is not in " + dir);
    }
    try (RevWalk walk = new RevWalk(repo); TreeWalk tree = new TreeWalk(repo)) {
      tree.addTree(walk.parseCommit(id).getTree());
      tree.setRecursive(true);
      List<String> paths = new ArrayList<>();
      while (tree.next()) {
        paths.add(tree.getPathString());
      }
      return paths;
    } catch (IOException e) {
      throw failure("list the files of " + commit, e);
    }
  }

  /**
   * Lands a task's commit on the target: nothing if the target already contains it (landing is idempotent), a
   * fast-forward when the target has not moved since the task's base, else a merge commit computed in core.
   *
   * @return the target's new tip
   * @throws MergeConflict when the commit does not merge cleanly; the target is unchanged
   */
  public String land(String target, String commit, String message) {
    for (int attempt = 0; ; attempt++) {
      String tip = tip(target).orElseThrow(() -> new LeadException("target " + target + " vanished"));
      String next = mergeOnto(tip, commit, message);
      if (next.equals(tip) || advance(target, tip, next)) {
        return next;
      }
      if (attempt >= REF_RETRIES) {
        throw new LeadException("target " + target + " kept changing under the lead; gave up after " + attempt + " tries");
      }
    }
  }

  /**
   * What the target would be with {@code commit} landed on {@code parent}, written to the object database but to no
   * ref: {@code parent} itself when it already contains the commit, the commit when it is a fast-forward, else a new
   * merge commit. The merge queue verifies this commit before it moves the target to it.
   *
   * <p>The merge itself is {@code git merge-tree --write-tree} (git's ort strategy, no worktree, no index), not
   * JGit's in-core merger: ort skips subtrees both sides left alone and detects renames, where JGit's merger builds an
   * index of the whole tree (40 ms a merge on a 2,000-file repository here, against 5 ms) and sees a renamed file as
   * deleted. The merge commit is then written with JGit.
   *
   * @throws MergeConflict when the commit does not merge cleanly onto {@code parent}
   */
  public String mergeOnto(String parent, String commit, String message) {
    ObjectId onto = ObjectId.fromString(parent);
    ObjectId head = ObjectId.fromString(commit);
    if (isAncestor(head, onto)) {
      return onto.name();
    }
    if (isAncestor(onto, head)) {
      return head.name();
    }
    GitCli.Result r;
    try {
      r = git.cli().withTimeout(java.time.Duration.ofMinutes(5)).probe("merge-tree", "--write-tree", "-z",
          "--name-only", "--no-messages", onto.name(), head.name());
    } catch (GitException e) {
      throw new LeadException(e.getMessage(), e);
    }
    // -z: the merged tree's id, then each conflicted path, each ended by a NUL. The paths passed the lead's check
    // (valid UTF-8) or were on the target already; they are only named in messages and prompts.
    List<String> fields = r.fields().stream().map(f -> new String(f, java.nio.charset.StandardCharsets.UTF_8).strip())
        .toList();
    if (r.exit() == 1) {
      throw new MergeConflict(fields.stream().skip(1).filter(f -> !f.isEmpty()).distinct().toList());
    } else if (r.exit() != 0 || fields.isEmpty() || !ObjectId.isId(fields.get(0))) {
      throw new LeadException("git merge-tree failed in " + dir + " (exit " + r.exit() + "): "
          + (r.err() + r.text()).strip());
    }
    return commit(ObjectId.fromString(fields.get(0)), onto, head, message).name();
  }

  private ObjectId commit(ObjectId tree, ObjectId first, ObjectId second, String message) {
    try (ObjectInserter inserter = repo.newObjectInserter()) {
      CommitBuilder c = new CommitBuilder();
      c.setTreeId(tree);
      c.setParentIds(first, second);
      PersonIdent now = new PersonIdent(LANES, clock.instant());
      c.setAuthor(now);
      c.setCommitter(now);
      c.setMessage(message + "\n");
      ObjectId id = inserter.insert(c);
      inserter.flush();
      return id;
    } catch (IOException e) {
      throw failure("write the merge commit of " + second.name(), e);
    }
  }

  /**
   * Moves the target from {@code expected} to {@code next} if it still points to {@code expected}.
   *
   * @return false when someone else moved the target meanwhile; it is unchanged
   */
  public boolean advance(String target, String expected, String next) {
    return tryMoveRef(target, ObjectId.fromString(expected), ObjectId.fromString(next), "lanes: land " + next);
  }

  /** The change from {@code from} to {@code to} as a unified diff, cut at {@code maxChars}: context for a fix task. */
  public String diff(String from, String to, int maxChars) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    try (RevWalk walk = new RevWalk(repo);
        org.eclipse.jgit.diff.DiffFormatter format = new org.eclipse.jgit.diff.DiffFormatter(out)) {
      format.setRepository(repo);
      format.format(walk.parseCommit(ObjectId.fromString(from)).getTree(),
          walk.parseCommit(ObjectId.fromString(to)).getTree());
      format.flush();
    } catch (IOException e) {
      throw failure("diff " + from + ".." + to, e);
    }
    String text = out.toString(java.nio.charset.StandardCharsets.UTF_8);
    return text.length() <= maxChars ? text : text.substring(0, maxChars) + "\n… (diff cut at " + maxChars + " characters)";
  }

  /** The repository's shared git directory: where the lead keeps its verify worktrees. */
  public Path commonGitDir() {
    return commonDir();
  }

  private boolean isAncestor(ObjectId ancestor, ObjectId of) {
    try (RevWalk walk = new RevWalk(repo)) {
      RevCommit a = walk.parseCommit(ancestor);
      RevCommit b = walk.parseCommit(of);
      return walk.isMergedInto(a, b);
    } catch (IOException e) {
      throw failure("walk history", e);
    }
  }

  private ObjectId resolveCommit(String spec) {
    try {
      return repo.resolve(spec + "^{commit}");
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private void moveRef(String branch, ObjectId expected, ObjectId next, String why) {
    if (!tryMoveRef(branch, expected, next, why)) {
      throw new LeadException("branch " + branch + " was changed by someone else while the lead moved it");
    }
  }

  private boolean tryMoveRef(String branch, ObjectId expected, ObjectId next, String why) {
    return tryMoveFullRef(Constants.R_HEADS + branch, expected, next, why);
  }

  private boolean tryMoveFullRef(String ref, ObjectId expected, ObjectId next, String why) {
    try {
      RefUpdate update = repo.updateRef(ref);
      update.setExpectedOldObjectId(expected);
      update.setNewObjectId(next);
      update.setForceUpdate(true); // merge commits are fast-forwards too; the expected old id is the real guard
      update.setRefLogMessage(why, false);
      update.setRefLogIdent(LANES);
      RefUpdate.Result result = update.update();
      switch (result) {
        case NEW:
        case FAST_FORWARD:
        case FORCED:
        case NO_CHANGE:
          return true;
        case LOCK_FAILURE:
          return false;
        default:
          throw new LeadException("cannot move " + Repository.shortenRefName(ref) + ": " + result);
      }
    } catch (IOException e) {
      throw failure("move " + Repository.shortenRefName(ref), e);
    }
  }

  private LeadException failure(String what, IOException e) {
    return new LeadException("cannot " + what + " in " + dir + ": " + e.getMessage(), e);
  }

  @Override
  public void close() {
    git.close();
  }

  /** A task's commit does not merge cleanly onto the target. */
  public static final class MergeConflict extends LeadException {
    private static final long serialVersionUID = 1L;
    private final List<String> paths;

    MergeConflict(List<String> paths) {
      super("merge conflict in " + String.join(", ", paths));
      this.paths = List.copyOf(paths);
    }

    public List<String> paths() {
      return paths;
    }
  }
}
