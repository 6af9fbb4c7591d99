package dev.lanes.deploy;

import dev.lanes.protocol.Plan;
import dev.lanes.protocol.PlanParser;
import dev.lanes.process.ChildProcess;
import dev.lanes.process.Environment;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code lanes demo}: a sample repository and plan in a temporary directory, run with two workers. */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Runs a four-task sample plan on a sample repository, with scripted agents.",
      "",
      "Creates a sample multi-module repository in a temporary directory, runs the plan with two workers (no AI agent needed), and checks the result branch.",
      "",
      "Exit 0 when every task landed and the result passed the sample's check, 1 when not, 2 for bad input."
    })
final class DemoCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    Path dir = LocalCluster.tempDir("lanes-demo-");
    Path repo = Demo.create(dir);
    Plan plan = PlanParser.parse(dir.resolve(Demo.PLAN));
    out.println("Sample repository: " + repo);
    out.println("Plan:              " + dir.resolve(Demo.PLAN));
    int code = RunCommand.execute(plan, repo, 2, null, Optional.empty(),
        new MergeOptions().applyTo(dev.lanes.coordinator.Lead.Settings.fixedWorkers()), out);
    if (code != Main.OK) {
      return code;
    }
    // The demo's repository is the demo's own, so checking out the result to prove it is fine here.
    Demo.git(repo, "checkout", "-q", plan.target());
    ChildProcess.Result check = ChildProcess.run(List.of("sh", "check.sh"), repo, Environment.allowing(List.of()),
        Duration.ofMinutes(1),
        Optional.empty(), line -> {});
    out.println();
    out.println("Check of " + plan.target() + ": " + check.output().strip());
    out.println("See the result:  git -C " + repo + " log --oneline --graph " + plan.target());
    return check.ok() ? Main.OK : Main.FAILED;
  }
}
