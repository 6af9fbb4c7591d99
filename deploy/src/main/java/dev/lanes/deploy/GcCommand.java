package dev.lanes.deploy;

import dev.lanes.coordinator.git.TargetBranch;
import dev.lanes.coordinator.git.TargetLock;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code lanes gc}: removes what finished runs left in a repository. */
@Command(
    name = "gc",
    mixinStandardHelpOptions = true,
    description = {
      "Removes what finished runs left behind in a repository, and says what it removed.",
      "",
      "That is the workers' task branches (lanes-work/RUN/...) of tasks that did not land, and the run directories"
          + " lanes run kept (worktrees and logs of failed tasks). A run counts as finished when no process on this"
          + " machine holds its target (a lanes run or a lead on this repository); what a running run has is left"
          + " alone. Backups of targets started again with --fresh (refs/lanes/backup/) are kept; a worker daemon's"
          + " kept attempts are removed with lanes worker --discard.",
      "",
      "Exit 0 when done, 2 for bad input."
    })
final class GcCommand implements Callable<Integer> {
  @Option(names = "--repo", paramLabel = "DIR", defaultValue = ".",
      description = "The repository (default: ${DEFAULT-VALUE}).")
  Path repo;

  @Option(names = "--dry-run", description = "Say what would be removed, and remove nothing.")
  boolean dryRun;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    String verb = dryRun ? "would remove " : "removed ";
    try (TargetBranch git = TargetBranch.open(repo.toAbsolutePath().normalize())) {
      Path gitDir = git.commonGitDir();
      Set<String> running = TargetLock.holders(gitDir).stream().map(TargetLock.Holder::run)
          .collect(Collectors.toSet());
      int branches = 0;
      for (String branch : git.workBranches("lanes-work/")) {
        String run = branch.split("/")[1];
        if (running.contains(run)) {
          continue;
        }
        if (!dryRun) {
          git.deleteBranch(branch);
        }
        out.println(verb + "branch " + branch);
        branches++;
      }
      int dirs = 0;
      for (RunRecords.Entry entry : RunRecords.list(gitDir)) {
        if (running.contains(entry.run())) {
          continue;
        }
        if (Files.exists(entry.dir())) {
          out.println(verb + "run directory " + entry.dir() + " (run " + entry.run() + ")");
          dirs++;
        }
        if (!dryRun) {
          LocalCluster.deleteTree(entry.dir());
          LocalCluster.deleteTree(entry.file());
        }
      }
      out.println((dryRun ? "would remove " : "removed ") + branches + " branch(es) and " + dirs
          + " run director" + (dirs == 1 ? "y" : "ies") + (running.isEmpty() ? ""
              : "; left alone what " + running.size() + " running run(s) use: " + String.join(", ",
                  running.stream().sorted().toList())));
    }
    return Main.OK;
  }
}
