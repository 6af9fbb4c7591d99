package dev.lanes.deploy;

import dev.lanes.coordinator.git.TargetBranch;
import dev.lanes.protocol.AgentSpec;
import dev.lanes.protocol.Plan;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What {@code lanes check}, {@code lanes run} and {@code lanes submit} check of a plan against the repository before
 * anything starts: no broker, mirror or directory exists yet when a check refuses a plan, so a refusal leaves nothing
 * behind, and a mistake is reported in a second rather than once agents have run.
 *
 * <p>An error refuses the plan: a target that is the branch checked out in the repository or one of its worktrees
 * (the lead would refuse it anyway, but only after everything had started). Warnings let it go on: uncommitted changes
 * in the working tree, which agents never see because they start from a commit; and programs that cannot run, named
 * with their tasks: a verify command or agent given as a relative path ({@code ./tests.sh}) that the base commit does
 * not have, and, when the agents run on this machine ({@code lanes run}), a program that is not on its PATH. These
 * are warnings because a task's agent may create its verify script, and because a command's first word is all that is
 * read of it: what a shell would make of the rest is not guessed at.
 */
final class Preflight {
  /** Paths named per warning; the rest are counted. */
  static final int SHOWN = 5;
  /** Words {@code sh} runs itself, which are no program on the PATH. */
  private static final Set<String> SHELL_WORDS = Set.of("!", ".", ":", "[[", "alias", "break", "case", "cd",
      "command", "continue", "eval", "exec", "exit", "export", "for", "if", "readonly", "return", "set", "shift",
      "source", "times", "trap", "type", "ulimit", "umask", "unset", "until", "wait", "while");
  private static final Pattern ASSIGNMENT = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*=\\S*");
  /** A word with any of these is expanded or split by the shell: it is not read as a program name. */
  private static final Pattern SHELL_SYNTAX = Pattern.compile("[$`'\"\\\\(){};|&<>*?\\[~]");

  private Preflight() {}

  /**
   * What the checks found: any error refuses the plan (exit 2); warnings are printed and the plan goes on.
   *
   * @param baseFiles the files of the base commit, for the ownership check; empty when no repository was checked
   */
  record Findings(Optional<List<String>> baseFiles, List<String> errors, List<String> warnings) {
    Findings {
      baseFiles = baseFiles.map(List::copyOf);
      errors = List.copyOf(errors);
      warnings = List.copyOf(warnings);
    }

    /** Refuses the plan with its errors, as one line. */
    void requireNoErrors() {
      if (!errors.isEmpty()) {
        throw new IllegalArgumentException(String.join("; ", errors));
      }
    }
  }

  /** Where the plan's agents and verify commands will run: on this machine, whose PATH then counts, or elsewhere. */
  enum Agents { HERE, ELSEWHERE }

  /**
   * Checks {@code plan} against the repository at {@code repo}, or, when none is given, the one around the current
   * directory if there is one. A given repository must open and have the plan's base ({@link
   * dev.lanes.coordinator.LeadException} otherwise); around the current directory, a base it does not have is only a
   * warning, since the plan may be meant for another clone.
   */
  static Findings check(Plan plan, Optional<Path> repo, Agents agents) {
    if (repo.isPresent()) {
      try (TargetBranch target = TargetBranch.open(repo.get().toAbsolutePath())) {
        return check(plan, target, target.resolveBase(plan.base()), agents);
      }
    }
    TargetBranch here;
    try {
      here = TargetBranch.open(Path.of("").toAbsolutePath());
    } catch (dev.lanes.coordinator.LeadException e) {
      return new Findings(Optional.empty(), List.of(), List.of());
    }
    try (here) {
      String base;
      try {
        base = here.resolveBase(plan.base());
      } catch (dev.lanes.coordinator.LeadException e) {
        return new Findings(Optional.empty(), List.of(), List.of(e.getMessage()
            + "; the files at the base commit were not checked (pass --repo DIR)"));
      }
      return check(plan, here, base, agents);
    }
  }

  private static Findings check(Plan plan, TargetBranch repo, String baseCommit, Agents agents) {
    List<String> files = repo.files(baseCommit);
    return check(plan, repo, baseCommit, files, agents, systemPath());
  }

  /**
   * Checks {@code plan} against {@code repo}, whose base commit {@code baseCommit} holds {@code baseFiles}.
   *
   * @param path the directories of this machine's PATH, looked in only when the agents run {@link Agents#HERE}
   */
  static Findings check(Plan plan, TargetBranch repo, String baseCommit, List<String> baseFiles, Agents agents,
      List<Path> path) {
    List<String> errors = new ArrayList<>();
    repo.checkedOutProblem(plan.target()).ifPresent(errors::add);
    List<String> warnings = new ArrayList<>();
    uncommitted(repo, plan, baseCommit).ifPresent(warnings::add);
    // The repository is named: without --repo it is the one around the current directory, which may not be the
    // lead's (lanes submit from a clone of Lanes itself), and a warning about the wrong one must show that it is.
    String base = baseCommit.substring(0, 12) + " of " + repo.repository().dir();
    warnings.addAll(programs(plan, new HashSet<>(baseFiles), base, agents, path));
    return new Findings(Optional.of(baseFiles), errors, warnings);
  }

  /** This machine's PATH, as the workers of {@code lanes run} get it. */
  static List<Path> systemPath() {
    String path = System.getenv("PATH");
    if (path == null || path.isBlank()) {
      return List.of();
    }
    return java.util.Arrays.stream(path.split(File.pathSeparator)).filter(p -> !p.isEmpty()).map(Path::of).toList();
  }

  private static Optional<String> uncommitted(TargetBranch repo, Plan plan, String baseCommit) {
    List<String> entries = repo.uncommitted();
    if (entries.isEmpty()) {
      return Optional.empty();
    }
    String more = entries.size() > SHOWN ? " (+" + (entries.size() - SHOWN) + " more)" : "";
    return Optional.of("the working tree of " + repo.repository().dir() + " has changes that are not committed: "
        + String.join(", ", entries.subList(0, Math.min(SHOWN, entries.size())).stream().map(String::strip).toList())
        + more + "; agents start from commit "
        + baseCommit.substring(0, 12) + plan.base().map(b -> " (" + b + ")").orElse("")
        + " and will not see them (commit them first if they should)");
  }

  /** One warning per program that cannot run, naming every task that uses it, in the plan's order. */
  private static List<String> programs(Plan plan, Set<String> baseFiles, String base, Agents agents,
      List<Path> path) {
    Map<String, List<String>> tasksByProblem = new LinkedHashMap<>();
    for (Plan.Task task : plan.tasks()) {
      agentProgram(task.agent()).flatMap(p -> problem("agent", p, baseFiles, base, agents, path))
          .ifPresent(p -> tasksByProblem.computeIfAbsent(p, k -> new ArrayList<>()).add(task.id()));
      task.review().flatMap(Preflight::agentProgram)
          .flatMap(p -> problem("review agent", p, baseFiles, base, agents, path))
          .ifPresent(p -> tasksByProblem.computeIfAbsent(p, k -> new ArrayList<>()).add(task.id()));
      task.verify().flatMap(Preflight::firstWord)
          .flatMap(p -> problem("verify", p, baseFiles, base, agents, path))
          .ifPresent(p -> tasksByProblem.computeIfAbsent(p, k -> new ArrayList<>()).add(task.id()));
    }
    List<String> warnings = new ArrayList<>();
    tasksByProblem.forEach((problem, tasks) ->
        warnings.add((tasks.size() == 1 ? "task " : "tasks ") + String.join(", ", tasks) + ": " + problem));
    return warnings;
  }

  /** The program an agent runs: its argv's first element, or {@code claude} for the adapter. */
  private static Optional<String> agentProgram(AgentSpec agent) {
    if (agent.claude().isPresent()) {
      return Optional.of("claude");
    }
    String first = agent.command().get(0);
    return first.contains("{") ? Optional.empty() : Optional.of(first); // a placeholder is only known on the worker
  }

  /**
   * The program a verify command ({@code sh -c} in the worktree) starts with: its first word after any variable
   * assignments; empty when that word is shell syntax or a word the shell runs itself.
   */
  static Optional<String> firstWord(String command) {
    for (String word : command.strip().split("\\s+")) {
      if (ASSIGNMENT.matcher(word).matches()) {
        continue;
      }
      if (word.isEmpty() || SHELL_WORDS.contains(word) || SHELL_SYNTAX.matcher(word).find()) {
        return Optional.empty();
      }
      return Optional.of(word);
    }
    return Optional.empty();
  }

  /**
   * Why {@code program} cannot run, if it cannot: a relative path (it runs in the task's worktree) that the base
   * commit does not have; on this machine, a name not on the PATH, or an absolute path that is not an executable file.
   *
   * @param base the base commit and its repository, as a warning names them
   */
  private static Optional<String> problem(String role, String program, Set<String> baseFiles, String base,
      Agents agents, List<Path> path) {
    if (program.contains("/") && !program.startsWith("/")) {
      Path inRepo = Path.of(program).normalize();
      String file = inRepo.toString().replace(File.separatorChar, '/');
      if (inRepo.startsWith("..") || file.isEmpty() || baseFiles.contains(file)) {
        return Optional.empty();
      }
      return Optional.of(role + " runs " + program + ", which is not in the base commit " + base
          + " (unless an agent creates it, the task will fail)");
    }
    if (agents == Agents.ELSEWHERE) {
      return Optional.empty();
    }
    if (program.startsWith("/")) {
      return Files.isExecutable(Path.of(program)) ? Optional.empty()
          : Optional.of(role + " runs " + program + ", which is not an executable file on this machine");
    }
    boolean found = path.stream().map(dir -> dir.resolve(program))
        .anyMatch(p -> Files.isRegularFile(p) && Files.isExecutable(p));
    return found ? Optional.empty()
        : Optional.of(role + " runs " + program + ", which is not on this machine's PATH");
  }
}
