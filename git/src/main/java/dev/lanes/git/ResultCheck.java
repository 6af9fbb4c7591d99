package dev.lanes.git;

import dev.lanes.protocol.Claim;
import dev.lanes.protocol.OwnershipRules;
import dev.lanes.protocol.OwnershipRules.Violation;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.eclipse.jgit.diff.DiffConfig;
import org.eclipse.jgit.diff.DiffEntry;
import org.eclipse.jgit.diff.RenameDetector;
import org.eclipse.jgit.lib.AbbreviatedObjectId;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.FileMode;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.ObjectReader;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.treewalk.TreeWalk;
import org.eclipse.jgit.treewalk.filter.TreeFilter;

/**
 * The lead's own check of a worker's result, before the work may join review or the merge queue. Nothing the worker
 * says about its change is believed: the lead reads the diff {@code base..commit} itself, from the objects the worker
 * pushed, and judges it by the same {@link OwnershipRules} the worker applied to itself.
 *
 * <p>JGit, not the CLI: a {@link TreeWalk} over the two trees gives each changed path's raw bytes, raw modes and
 * object ids straight from the tree objects, with no worktree, no process and no text decoding, and skips every
 * subtree both sides share; for a normal result it costs a few milliseconds of the lead's loop. A path's bytes are
 * decoded strictly: a name that is not UTF-8 is a violation, never a replacement character that a claim might cover.
 * Symbolic-link targets are read from their blobs.
 *
 * <p>What is checked: the commit descends from the offered base; the branch is the one derived from the run, task and
 * epoch and points at the commit; every changed path (added, modified, deleted, a mode change, either side of a
 * rename) is allowed by the rules; no changed path is a submodule (a gitlink); a changed symbolic link stays inside
 * the repository and out of protected paths. Renames are detected (exact and by content, within the limits below) so
 * that a violation can say "renamed to"; both sides count either way, since each is also a deletion or an addition.
 */
public final class ResultCheck {
  /** Most changed paths read; a result with more is refused as a whole rather than read to its end. */
  static final int MAX_CHANGES = 100_000;
  /** Most bytes of a symbolic link's target read; Linux allows 4096. */
  private static final int MAX_LINK = 4096;
  /** Rename detection by content compares each added file with each deleted one: bounded, as a worker chooses both. */
  private static final int RENAME_LIMIT = 200;
  private static final int RENAME_BIG_FILE = 1 << 20;

  private ResultCheck() {}

  /**
   * What the worker reported, and what the lead derived on its own.
   *
   * @param base the commit the lead offered the attempt from
   * @param commit the commit the worker reported
   * @param branch the branch the worker reported
   * @param expectedBranch the branch the lead derives from run, task and epoch
   * @param claims the task's claims as the lead holds them
   */
  public record Request(String base, String commit, String branch, String expectedBranch, List<Claim> claims) {
    public Request {
      claims = List.copyOf(claims);
    }
  }

  /**
   * The outcome: violations (empty when the result may go on) and how many paths the change touches.
   *
   * @param changed the changed paths as the lead read them (a rename counts once per side)
   */
  public record Verdict(List<Violation> violations, int changed) {
    public Verdict {
      violations = List.copyOf(violations);
    }

    public boolean ok() {
      return violations.isEmpty();
    }
  }

  /** Checks a result; never throws for anything a worker can choose, only when the repository cannot be read. */
  public static Verdict check(GitRepository repository, Request request) {
    Repository repo = repository.jgit();
    List<Violation> out = new ArrayList<>();
    if (!request.branch().equals(request.expectedBranch())) {
      out.add(new Violation("", "reported branch " + request.branch() + " is not the attempt's branch "
          + request.expectedBranch()));
    }
    Optional<ObjectId> base = id(request.base());
    Optional<ObjectId> commit = id(request.commit());
    if (base.isEmpty() || commit.isEmpty()) {
      out.add(new Violation("", "commit " + request.commit() + " or base " + request.base() + " is not a commit id"));
      return new Verdict(out, 0);
    }
    try (ObjectReader reader = repo.newObjectReader(); RevWalk walk = new RevWalk(reader)) {
      RevCommit head;
      RevCommit from;
      try {
        head = walk.parseCommit(commit.get());
        from = walk.parseCommit(base.get());
      } catch (org.eclipse.jgit.errors.MissingObjectException | org.eclipse.jgit.errors.IncorrectObjectTypeException e) {
        out.add(new Violation("", "commit " + request.commit() + " or base " + request.base() + " is not a commit in"
            + " the repository"));
        return new Verdict(out, 0);
      }
      checkBranch(repo, request, out);
      if (!walk.isMergedInto(from, head)) {
        out.add(new Violation("", "commit " + abbreviate(request.commit()) + " does not descend from the offered base "
            + abbreviate(request.base())));
      }
      int changed = diff(repo, reader, from, head, OwnershipRules.of(request.claims()), out);
      return new Verdict(out, changed);
    } catch (IOException e) {
      throw new GitException("cannot read the result " + request.commit() + " in " + repository.dir() + ": "
          + e.getMessage(), e);
    }
  }

  private static void checkBranch(Repository repo, Request request, List<Violation> out) throws IOException {
    if (!Repository.isValidRefName(Constants.R_HEADS + request.expectedBranch())) {
      out.add(new Violation("", "the attempt's branch " + request.expectedBranch() + " is not a valid branch name"));
      return;
    }
    Ref ref = repo.exactRef(Constants.R_HEADS + request.expectedBranch());
    if (ref == null || ref.getObjectId() == null) {
      out.add(new Violation("", "branch " + request.expectedBranch() + " does not exist in the repository"));
    } else if (!ref.getObjectId().name().equals(request.commit())) {
      out.add(new Violation("", "branch " + request.expectedBranch() + " points at " + abbreviate(ref.getObjectId().name())
          + ", not at the reported commit " + abbreviate(request.commit())));
    }
  }

  /** Walks the two trees; returns how many paths changed. */
  private static int diff(Repository repo, ObjectReader reader, RevCommit from, RevCommit head, OwnershipRules rules,
      List<Violation> out) throws IOException {
    List<DiffEntry> entries = new ArrayList<>();
    int changed = 0;
    try (TreeWalk walk = new TreeWalk(repo, reader)) {
      walk.addTree(from.getTree());
      walk.addTree(head.getTree());
      walk.setRecursive(true);
      walk.setFilter(TreeFilter.ANY_DIFF);
      while (walk.next()) {
        if (++changed > MAX_CHANGES) {
          out.add(new Violation("", "the change touches more than " + MAX_CHANGES + " paths; the lead read no further"));
          return changed;
        }
        Optional<String> path = GitPaths.decode(walk.getRawPath());
        if (path.isEmpty() || GitPaths.hasControl(path.get())) {
          out.add(new Violation(GitPaths.escape(walk.getRawPath()), path.isEmpty() ? "the name is not valid UTF-8"
              : "the name holds a control character"));
          continue;
        }
        int oldMode = walk.getRawMode(0);
        int newMode = walk.getRawMode(1);
        if (newMode == FileMode.TYPE_GITLINK) {
          out.add(new Violation(path.get(), "a submodule (gitlink); the lead lands no submodule"));
        }
        if ((newMode & FileMode.TYPE_MASK) == FileMode.TYPE_SYMLINK) {
          link(reader, path.get(), walk.getObjectId(1), rules, out);
        }
        entries.add(new Change(path.get(), oldMode, walk.getObjectId(0), newMode, walk.getObjectId(1)));
      }
    }
    judge(repo, reader, entries, rules, out);
    return changed;
  }

  /** Every side of every change, by the rules; renames found first so that a violation can name both sides. */
  private static void judge(Repository repo, ObjectReader reader, List<DiffEntry> entries, OwnershipRules rules,
      List<Violation> out) throws IOException {
    RenameDetector renames = new RenameDetector(reader, repo.getConfig().get(DiffConfig.KEY));
    renames.setRenameLimit(RENAME_LIMIT);
    renames.setBigFileThreshold(RENAME_BIG_FILE);
    renames.setSkipContentRenamesForBinaryFiles(true);
    renames.addAll(entries);
    Map<String, String> why = new LinkedHashMap<>();
    for (DiffEntry e : renames.compute()) {
      switch (e.getChangeType()) {
        case ADD -> rules.violation(e.getNewPath()).ifPresent(r -> why.putIfAbsent(e.getNewPath(), "added; " + r));
        case DELETE -> rules.violation(e.getOldPath()).ifPresent(r -> why.putIfAbsent(e.getOldPath(), "deleted; " + r));
        case MODIFY -> rules.violation(e.getNewPath()).ifPresent(r -> why.putIfAbsent(e.getNewPath(), modified(e) + r));
        case RENAME, COPY -> {
          if (e.getChangeType() == DiffEntry.ChangeType.RENAME) {
            rules.violation(e.getOldPath()).ifPresent(r -> why.putIfAbsent(e.getOldPath(), "renamed to "
                + e.getNewPath() + "; " + r));
          }
          rules.violation(e.getNewPath()).ifPresent(r -> why.putIfAbsent(e.getNewPath(), (e.getChangeType()
              == DiffEntry.ChangeType.RENAME ? "renamed from " : "copied from ") + e.getOldPath() + "; " + r));
        }
      }
    }
    why.forEach((path, reason) -> out.add(new Violation(path, reason)));
  }

  private static String modified(DiffEntry e) {
    return e.getOldMode().equals(e.getNewMode()) ? "modified; "
        : "mode " + e.getOldMode() + " to " + e.getNewMode() + "; ";
  }

  private static void link(ObjectReader reader, String path, ObjectId blob, OwnershipRules rules, List<Violation> out)
      throws IOException {
    org.eclipse.jgit.lib.ObjectLoader loader = reader.open(blob, Constants.OBJ_BLOB);
    if (loader.getSize() > MAX_LINK) {
      out.add(new Violation(path, "symbolic link with a target of " + loader.getSize() + " bytes"));
      return;
    }
    byte[] target = loader.getCachedBytes(MAX_LINK);
    Optional<String> text = GitPaths.decode(target);
    if (text.isEmpty() || GitPaths.hasControl(text.get())) {
      out.add(new Violation(path, "symbolic link to " + GitPaths.escape(target) + ", a target that is not valid UTF-8"
          + " or holds a control character"));
    } else {
      rules.linkViolation(path, text.get()).ifPresent(r -> out.add(new Violation(path, r)));
    }
  }

  private static Optional<ObjectId> id(String text) {
    return ObjectId.isId(text) ? Optional.of(ObjectId.fromString(text)) : Optional.empty();
  }

  private static String abbreviate(String commit) {
    return commit.length() > 10 ? commit.substring(0, 10) : commit;
  }

  /** One changed path as the tree walk found it, in the form JGit's rename detector takes. */
  private static final class Change extends DiffEntry {
    Change(String path, int oldRawMode, ObjectId oldObject, int newRawMode, ObjectId newObject) {
      oldPath = oldRawMode == 0 ? DEV_NULL : path;
      newPath = newRawMode == 0 ? DEV_NULL : path;
      oldMode = FileMode.fromBits(oldRawMode);
      newMode = FileMode.fromBits(newRawMode);
      oldId = AbbreviatedObjectId.fromObjectId(oldObject);
      newId = AbbreviatedObjectId.fromObjectId(newObject);
      changeType = oldRawMode == 0 ? ChangeType.ADD : newRawMode == 0 ? ChangeType.DELETE : ChangeType.MODIFY;
    }
  }
}
