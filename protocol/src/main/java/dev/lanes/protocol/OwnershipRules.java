package dev.lanes.protocol;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * What an attempt may change, as one rule shared by the worker, which checks its own diff as early feedback, and the
 * lead, which checks the same diff again from the git objects before anything lands. Pure path logic: callers read
 * paths and symbolic-link targets where they live (a worktree, a git tree) and ask here.
 *
 * <p>A changed path must be covered by one of the task's claims. Some paths steer tools, agents or other machines
 * rather than hold code (see {@link #PROTECTED}); a broad claim such as {@code **} or {@code core/} does not reach
 * them. Only a claim whose literal leading segments reach the protected segment names it explicitly and may change
 * it: {@code .github/workflows/} may change {@code .github/workflows/ci.yml}, {@code core/} may not change
 * {@code core/.gitattributes}, {@code core/.gitattributes} may.
 *
 * <p>Protected names count at any depth and in any letter case: a verify may run a wrapper from a subfolder, agents
 * read {@code CLAUDE.md} and {@code AGENTS.md} in the folders they work in, direnv reads {@code .envrc} in any folder
 * it enters, and on a case-insensitive file system (macOS, Windows) {@code .GITHUB/} is {@code .github/}. Names are
 * compared the way such file systems would see them: letter case, the code points HFS+ ignores, and trailing dots and
 * spaces (which Windows drops) do not make a name different, and {@code git~1} is the short name of {@code .git}.
 */
public final class OwnershipRules {
  /**
   * The protected names, lower case; {@code *} at the end means any name that starts so. A name with a slash
   * protects that run of segments. The README says why each is here.
   */
  public static final List<String> PROTECTED = List.of(
      ".git*", // .git, .gitattributes, .gitignore, .gitmodules, .github/, .gitlab-ci.yml: git and forge behaviour
      ".claude", "claude.md", "agents.md", ".mcp.json", ".cursor", ".cursorrules", ".aider*", // agents' instructions
      ".envrc", ".devcontainer", ".vscode", // run by direnv, dev containers and editors on opening
      ".circleci", ".buildkite", ".ci", "jenkinsfile", ".travis.yml", "azure-pipelines.yml", // CI, on other machines
      "mvnw", "mvnw.cmd", ".mvn", "gradlew", "gradlew.bat", "gradle/wrapper", // build wrappers a verify executes
      ".lanes"); // the agent's findings, never committed

  private static final List<String[]> PATTERNS = PROTECTED.stream().map(p -> p.split("/")).toList();

  private final List<Claim> claims;

  private OwnershipRules(List<Claim> claims) {
    this.claims = List.copyOf(claims);
  }

  /** The rules for a task that owns {@code claims}. */
  public static OwnershipRules of(List<Claim> claims) {
    return new OwnershipRules(claims);
  }

  /**
   * One thing an attempt changed that it may not have.
   *
   * @param path the path as written in the change (a name that is not valid UTF-8 with its bytes escaped as
   *     {@code \xNN}), or empty for a violation of the result as a whole (its branch, its ancestry)
   * @param reason why, in words
   */
  public record Violation(String path, String reason) {
    @Override
    public String toString() {
      return path.isEmpty() ? reason : path + " (" + reason + ")";
    }
  }

  /** Why the attempt may not change {@code path} (relative to the repository root), or empty when it may. */
  public Optional<String> violation(String path) {
    String[] names = path.split("/", -1);
    int end = protectedEnd(names);
    if (end > 0) {
      String name = String.join("/", java.util.Arrays.copyOf(names, end));
      return namedExplicitly(names, end) ? Optional.empty()
          : Optional.of("protected path " + name + "; only a claim that names it can change it");
    }
    return claims.stream().anyMatch(c -> c.covers(path)) ? Optional.empty() : Optional.of("outside the task's claims");
  }

  /** Whether any segment of the path, at any depth, is protected. */
  public static boolean isProtected(String path) {
    return protectedEnd(path.split("/", -1)) > 0;
  }

  /**
   * Why a symbolic link at {@code link} pointing to {@code target} is refused, or empty when it stays inside the
   * repository. Refused: an absolute target, one that climbs above the repository root, one that points into a
   * protected path no claim names (a link is a way to write there later), and an empty one. A backslash counts as a
   * separator, as Windows reads it. The target is read lexically from the link's own folder: links it passes through
   * that were there before are the repository's own.
   */
  public Optional<String> linkViolation(String link, String target) {
    if (target.isEmpty()) {
      return Optional.of("symbolic link with an empty target");
    }
    if (target.startsWith("/") || target.startsWith("\\") || target.matches("(?s)[A-Za-z]:.*")) {
      return Optional.of("symbolic link to " + target + ", an absolute path");
    }
    List<String> resolved = new ArrayList<>(List.of(link.split("/", -1)));
    resolved.remove(resolved.size() - 1);
    for (String name : target.split("[/\\\\]", -1)) {
      if (name.equals("..")) {
        if (resolved.isEmpty()) {
          return Optional.of("symbolic link to " + target + ", outside the repository");
        }
        resolved.remove(resolved.size() - 1);
      } else if (!name.isEmpty() && !name.equals(".")) {
        resolved.add(name);
      }
    }
    String[] names = resolved.toArray(new String[0]);
    int end = protectedEnd(names);
    if (end > 0 && !namedExplicitly(names, end)) {
      return Optional.of("symbolic link to " + target + ", into the protected path "
          + String.join("/", java.util.Arrays.copyOf(names, end)));
    }
    return Optional.empty();
  }

  /** Whether some claim covers the path and names its first {@code end} segments literally. */
  private boolean namedExplicitly(String[] names, int end) {
    Optional<String[]> valid = Claim.segments(String.join("/", names));
    return valid.isPresent() && claims.stream().anyMatch(c -> c.literalDepth(valid.get()) >= end);
  }

  /** One past the deepest protected segment of the path, or 0 when none is protected. */
  static int protectedEnd(String[] names) {
    int end = 0;
    for (int i = 0; i < names.length; i++) {
      for (String[] pattern : PATTERNS) {
        if (matchesAt(names, i, pattern)) {
          end = Math.max(end, i + pattern.length);
        }
      }
    }
    return end;
  }

  private static boolean matchesAt(String[] names, int at, String[] pattern) {
    if (at + pattern.length > names.length) {
      return false;
    }
    for (int k = 0; k < pattern.length; k++) {
      String name = comparable(names[at + k]);
      String p = pattern[k];
      boolean ok = p.endsWith("*") ? name.startsWith(p.substring(0, p.length() - 1)) : name.equals(p);
      if (!ok && !(p.equals(".git*") && name.matches("git~[0-9]"))) {
        return false;
      }
    }
    return true;
  }

  /**
   * A name as a case-insensitive file system would compare it: lower case, without the code points HFS+ ignores
   * (joiners, direction marks, the byte order mark), without the trailing dots and spaces Windows drops.
   */
  static String comparable(String name) {
    StringBuilder out = new StringBuilder(name.length());
    name.codePoints().filter(cp -> !hfsIgnored(cp)).forEach(out::appendCodePoint);
    int end = out.length();
    while (end > 0 && (out.charAt(end - 1) == '.' || out.charAt(end - 1) == ' ')) {
      end--;
    }
    return out.substring(0, end).toLowerCase(Locale.ROOT);
  }

  private static boolean hfsIgnored(int cp) {
    return cp >= 0x200c && cp <= 0x200f || cp >= 0x202a && cp <= 0x202e || cp >= 0x206a && cp <= 0x206f
        || cp == 0xfeff;
  }
}
