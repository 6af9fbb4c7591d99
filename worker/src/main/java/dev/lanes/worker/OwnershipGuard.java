package dev.lanes.worker;

import dev.lanes.protocol.Claim;
import dev.lanes.protocol.OwnershipRules;
import dev.lanes.protocol.OwnershipRules.Violation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The worker's own check of an attempt's diff against the task's claims, before it commits to a result. It is early
 * feedback, not the guarantee: the lead checks the pushed commit again from the git objects and lands nothing that
 * breaks the same {@link OwnershipRules}.
 *
 * <p>Every changed path (added, edited, deleted, either side of a rename, a mode change) is judged by those rules,
 * and a changed symbolic link by its target as the worktree holds it.
 */
public final class OwnershipGuard {
  private final OwnershipRules rules;

  public OwnershipGuard(List<Claim> claims) {
    this.rules = OwnershipRules.of(claims);
  }

  /** The violations among {@code changed}, paths relative to {@code worktree}; empty when the diff is in bounds. */
  public List<Violation> check(Path worktree, List<String> changed) {
    List<Violation> out = new ArrayList<>();
    for (String path : changed) {
      rules.violation(path).ifPresent(why -> out.add(new Violation(path, why)));
      Path file = worktree.resolve(path);
      if (Files.isSymbolicLink(file)) {
        try {
          rules.linkViolation(path, Files.readSymbolicLink(file).toString())
              .ifPresent(why -> out.add(new Violation(path, why)));
        } catch (IOException e) {
          out.add(new Violation(path, "unreadable symbolic link: " + e.getMessage()));
        }
      }
    }
    return out;
  }
}
