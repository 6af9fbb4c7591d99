package dev.lanes.protocol;

import java.util.List;
import java.util.Objects;

/**
 * What the ownership check found in a plan: every pair of tasks that may run at the same time and own a common path,
 * and claims that are suspicious. Maps to JSON as
 * {@code {"conflicts":[{"tasks":[a,b],"claims":[pa,pb],"example":"path","files":[...]}],"warnings":[...]}}.
 *
 * @param conflicts in plan order of the first task, then of the second
 * @param warnings messages that name the field, such as {@code tasks[2].owns[0]: "core/x" covers no file ...}
 */
public record OwnershipReport(List<Conflict> conflicts, List<String> warnings) {
  public OwnershipReport {
    conflicts = List.copyOf(conflicts);
    warnings = List.copyOf(warnings);
  }

  /** Whether any two tasks that may run together own a common path. */
  public boolean hasConflicts() {
    return !conflicts.isEmpty();
  }

  /**
   * Two tasks that may run at the same time and both own {@code example}.
   *
   * @param tasks the two task ids, the one earlier in the plan first
   * @param claims the claim of each task, as written, that covers the example; in the same order
   * @param example a path both claims cover; it need not exist
   * @param files the files of the base commit that both claims cover, sorted; empty when there are none or when the
   *     check had no file list
   */
  public record Conflict(List<String> tasks, List<String> claims, String example, List<String> files) {
    public Conflict {
      tasks = List.copyOf(tasks);
      claims = List.copyOf(claims);
      files = List.copyOf(files);
      Objects.requireNonNull(example, "example");
      if (tasks.size() != 2 || claims.size() != 2) {
        throw new IllegalArgumentException("a conflict has two tasks and two claims, got " + tasks + " " + claims);
      }
    }

    /**
     * One line for people: {@code core (core/**) and api (**}{@code /*.java) both own core/x.java; at base:
     * core/A.java, core/B.java (+3 more)}, listing at most {@code maxFiles} files.
     */
    public String describe(int maxFiles) {
      StringBuilder line = new StringBuilder()
          .append(tasks.get(0)).append(" (").append(claims.get(0)).append(") and ")
          .append(tasks.get(1)).append(" (").append(claims.get(1)).append(") both own ").append(example);
      if (!files.isEmpty()) {
        int shown = Math.max(0, Math.min(maxFiles, files.size()));
        line.append("; at base: ").append(String.join(", ", files.subList(0, shown)));
        if (shown < files.size()) {
          line.append(shown == 0 ? "" : " ").append("(+").append(files.size() - shown).append(" more)");
        }
      }
      return line.toString();
    }
  }
}
