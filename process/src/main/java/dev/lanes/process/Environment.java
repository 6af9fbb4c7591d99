package dev.lanes.process;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a child process sees of its parent's environment: the parent's variables whose names are on an allow-list, and
 * variables set outright (the {@code LANES_*} ones a daemon gives its agents). Everything else the daemon holds (its
 * Kafka credentials, cloud keys, tokens in the shell it was started from) stays out of agents and verify commands
 * unless a name is passed on purpose.
 *
 * <p>This is the one place that decides what a child inherits. An allow-list entry is a name, or a prefix ending in
 * {@code *} ({@code LC_*}) for families of variables. The parent's {@code GIT_DIR} and the like never pass, even when
 * allowed or inherited: the working directory, not whatever repository the daemon's environment points at, decides
 * what git sees in a child.
 */
public final class Environment {
  /** What every child may see of its parent: enough to find programs, a home, a locale and a terminal. */
  public static final List<String> BASE = List.of("PATH", "HOME", "USER", "LANG", "LC_*", "TERM", "TMPDIR", "SHELL");
  private static final List<String> GIT_LOCATION =
      List.of("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR");

  /** Names and {@code PREFIX*} patterns; empty for {@link #inherited}, which passes everything. */
  private final List<String> allowed;
  private final boolean everything;
  private final Map<String, String> set;

  private Environment(List<String> allowed, boolean everything, Map<String, String> set) {
    this.allowed = List.copyOf(allowed);
    this.everything = everything;
    this.set = Map.copyOf(set);
  }

  /** The {@link #BASE} variables of the parent, and those named in {@code more} (names or {@code PREFIX*}). */
  public static Environment allowing(Collection<String> more) {
    List<String> all = new ArrayList<>(BASE);
    all.addAll(more);
    return new Environment(all, false, Map.of());
  }

  /**
   * The parent's whole environment. Only for git, whose calls are the git layer's to scrub; never for an agent, a
   * verify command or anything else that runs what a plan or an agent wrote.
   */
  public static Environment inherited() {
    return new Environment(List.of(), true, Map.of());
  }

  /** This environment with {@code more} names (or {@code PREFIX*} patterns) allowed from the parent. */
  public Environment allow(Collection<String> more) {
    List<String> all = new ArrayList<>(allowed);
    all.addAll(more);
    return new Environment(all, everything, set);
  }

  /** This environment with {@code values} set outright; they replace the parent's variables of the same names. */
  public Environment with(Map<String, String> values) {
    Map<String, String> all = new HashMap<>(set);
    all.putAll(values);
    return new Environment(allowed, everything, all);
  }

  /** Whether a variable of the parent by this name reaches the child. */
  public boolean allows(String name) {
    if (GIT_LOCATION.contains(name)) {
      return false;
    }
    if (everything) {
      return true;
    }
    for (String entry : allowed) {
      if (entry.endsWith("*") ? name.startsWith(entry.substring(0, entry.length() - 1)) : name.equals(entry)) {
        return true;
      }
    }
    return false;
  }

  /** The variables the child gets, given its parent's. */
  public Map<String, String> resolve(Map<String, String> parent) {
    Map<String, String> child = new LinkedHashMap<>();
    parent.forEach((name, value) -> {
      if (allows(name)) {
        child.put(name, value);
      }
    });
    child.putAll(set);
    return child;
  }

  /** The variables the child gets from this process's environment. */
  public Map<String, String> resolve() {
    return resolve(System.getenv());
  }

  @Override
  public String toString() {
    return everything ? "the whole environment" : "allowed " + allowed + ", set " + set.keySet();
  }
}
