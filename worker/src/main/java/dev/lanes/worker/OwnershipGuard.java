package dev.lanes.worker;

import dev.lanes.protocol.Claim;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks an attempt's diff against the task's claims before anything of it can land.
 *
 * <p>Every changed path (added, edited, deleted, either side of a rename, a mode change) must be covered by a claim.
 * Paths that steer tools rather than hold code ({@code .git*}, {@code .claude/}, {@code .mcp.json}, CI configuration)
 * are protected: a broad claim such as {@code **} does not reach them; only a claim that names them in its first
 * segment does. So is {@code .lanes/}, the agent's findings: the worker never commits it, and an agent that commits it
 * itself is caught here. A changed symbolic link must point inside the worktree.
 */
public final class OwnershipGuard {
  private static final List<Claim> PROTECTED = List.of(
      ".git*", ".git*/", ".claude/", ".mcp.json", ".lanes/", ".ci/", ".circleci/", ".buildkite/", "Jenkinsfile",
      ".travis.yml", "azure-pipelines.yml").stream().map(Claim::parse).toList();

  private final List<Claim> claims;

  public OwnershipGuard(List<Claim> claims) {
    this.claims = List.copyOf(claims);
  }

  /** One path the attempt must not have changed, and why. */
  public record Violation(String path, String reason) {
    @Override
    public String toString() {
      return path + " (" + reason + ")";
    }
  }

  /** The violations among {@code changed}, paths relative to {@code worktree}; empty when the diff is in bounds. */
  public List<Violation> check(Path worktree, List<String> changed) {
    List<Violation> out = new ArrayList<>();
    for (String path : changed) {
      if (isProtected(path)) {
        if (claims.stream().noneMatch(c -> c.covers(path) && namesExplicitly(c))) {
          out.add(new Violation(path, "protected path; only a claim that names it can change it"));
        }
      } else if (claims.stream().noneMatch(c -> c.covers(path))) {
        out.add(new Violation(path, "outside the task's claims"));
      }
      escapingLink(worktree, path).ifPresent(out::add);
    }
    return out;
  }

  private static boolean isProtected(String path) {
    return PROTECTED.stream().anyMatch(p -> p.covers(path));
  }

  /** A claim names a path explicitly when its first segment is a literal, as in {@code .github/workflows/}. */
  private static boolean namesExplicitly(Claim claim) {
    String first = claim.text().split("/", 2)[0];
    return first.chars().noneMatch(ch -> "*?[{".indexOf(ch) >= 0);
  }

  private static java.util.Optional<Violation> escapingLink(Path worktree, String path) {
    Path file = worktree.resolve(path);
    if (!Files.isSymbolicLink(file)) {
      return java.util.Optional.empty();
    }
    try {
      Path target = Files.readSymbolicLink(file);
      Path resolved = file.getParent().resolve(target).normalize();
      Path root = worktree.toRealPath(LinkOption.NOFOLLOW_LINKS).normalize();
      if (target.isAbsolute() || !resolved.startsWith(worktree.normalize()) && !resolved.startsWith(root)) {
        return java.util.Optional.of(new Violation(path, "symbolic link to " + target + ", outside the worktree"));
      }
      return java.util.Optional.empty();
    } catch (IOException e) {
      return java.util.Optional.of(new Violation(path, "unreadable symbolic link: " + e.getMessage()));
    }
  }
}
