package dev.lanes.deploy;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.lanes.coordinator.LeadException;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.OwnershipCheck;
import dev.lanes.protocol.OwnershipReport;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.PlanException;
import dev.lanes.protocol.PlanParser;
import dev.lanes.protocol.ProtocolException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code lanes check}: validates a plan and reports ownership conflicts, before any agent runs. */
@Command(
    name = "check",
    mixinStandardHelpOptions = true,
    description = {
      "Validates a plan and reports ownership conflicts between tasks that may run at once.",
      "",
      "Reports every pair of tasks that may run at the same time (neither waits for the other through after:, directly or transitively) and own a common path, with an example path and the files of the base commit that both claims cover. Also warns about claims that cover no file at the base commit.",
      "",
      "Also checks the plan against the repository, as lanes run and lanes submit do before anything starts: a target that is a checked-out branch is an error; uncommitted changes (agents will not see them) and a verify command or agent given as a relative path that the base commit does not have are warnings.",
      "",
      "Exit 0 when clean, 1 when there are conflicts, 2 for bad input (an invalid plan or repository, a checked-out"
          + " target)."
    })
final class CheckCommand implements Callable<Integer> {
  /** Files listed per conflict in the human output; --json lists them all. */
  static final int SHOWN_FILES = 3;


  @Parameters(paramLabel = "PLAN", description = "The plan file (YAML).")
  Path plan;

  @Option(names = "--repo", paramLabel = "DIR",
      description = "The repository whose base commit gives the file list (default: the current directory, if it is"
          + " inside a git repository; otherwise files are not checked).")
  Optional<Path> repo;

  @Option(names = "--json",
      description = "Print {\"conflicts\":[...],\"warnings\":[...],\"errors\":[...]} on standard output instead.")
  boolean json;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    Plan parsed;
    try {
      parsed = PlanParser.parse(plan);
    } catch (PlanException e) {
      if (!json) {
        throw e;
      }
      printJson(out, List.of(), List.of(), e.problems());
      return Main.BAD_INPUT;
    }
    List<String> warnings = new ArrayList<>();
    Preflight.Findings found;
    OwnershipReport report;
    try {
      found = Preflight.check(parsed, repo, Preflight.Agents.ELSEWHERE);
      OwnershipCheck check = OwnershipCheck.of(parsed);
      report = found.baseFiles().isPresent() ? check.report(found.baseFiles().get()) : check.report();
    } catch (LeadException | ProtocolException e) {
      if (!json) {
        throw e;
      }
      printJson(out, List.of(), warnings, List.of(e.getMessage()));
      return Main.BAD_INPUT;
    }
    warnings.addAll(found.warnings());
    warnings.addAll(report.warnings());
    if (json) {
      printJson(out, report.conflicts(), warnings, found.errors());
    } else {
      report.conflicts().forEach(c -> out.println("conflict: " + c.describe(SHOWN_FILES)));
      warnings.forEach(w -> out.println("warning: " + w));
      out.println(count(report.conflicts().size(), "conflict") + ", " + count(warnings.size(), "warning")
          + " among " + count(parsed.tasks().size(), "task"));
      found.errors().forEach(e -> spec.commandLine().getErr().println("lanes: " + e));
      spec.commandLine().getErr().flush();
    }
    out.flush();
    if (!found.errors().isEmpty()) {
      return Main.BAD_INPUT;
    }
    return report.hasConflicts() ? Main.FAILED : Main.OK;
  }

  private static void printJson(PrintWriter out, List<OwnershipReport.Conflict> conflicts, List<String> warnings,
      List<String> errors) {
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("conflicts", conflicts);
    result.put("warnings", warnings);
    result.put("errors", errors);
    try {
      out.println(Json.mapper().writeValueAsString(result));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write the report as JSON", e);
    }
    out.flush();
  }



  private static String count(int n, String noun) {
    return n + " " + noun + (n == 1 ? "" : "s");
  }
}
