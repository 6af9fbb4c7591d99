package dev.lanes.worker;

import dev.lanes.bus.Bus;
import dev.lanes.protocol.Claim;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskResult.Outcome;
import dev.lanes.worker.git.Mirror;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One granted attempt at a task, from worktree to result: a worktree on the task's branch at exactly the offered base
 * commit, the agent, a commit of whatever it changed, the verify command, a push, and a result that says how it went.
 * A passed attempt's worktree is removed; a failed one is kept, with its logs, for a person to look at.
 */
final class TaskRun implements Worker.Attempt {
  private static final Logger LOG = LoggerFactory.getLogger(TaskRun.class);
  private static final Pattern PLACEHOLDER = Pattern.compile("\\{(prompt|task|worktree)}");

  private final TaskOffered offer;
  private final Worker.Config config;
  private final Mirror mirror;
  private final Bus bus;
  private final Clock clock;
  private final Path worktree;
  private final Path logs;
  private final ChildProcess.Stop stop = new ChildProcess.Stop();
  private volatile String phase = "setup";

  TaskRun(TaskOffered offer, Worker.Config config, Mirror mirror, Bus bus, Clock clock) {
    this.offer = offer;
    this.config = config;
    this.mirror = mirror;
    this.bus = bus;
    this.clock = clock;
    String attempt = offer.task() + "-e" + offer.epoch();
    this.worktree = config.workDir().resolve("worktrees").resolve(offer.run()).resolve(attempt);
    this.logs = config.workDir().resolve("logs").resolve(offer.run()).resolve(attempt);
  }

  @Override
  public TaskOffered offer() {
    return offer;
  }

  /** Ends the attempt's running agent or verify command, if any, and lets the attempt report why. */
  @Override
  public void stop(String why) {
    stop.stop(why);
  }

  @Override
  public String phase() {
    return phase;
  }

  @Override
  public void run() {
    Instant start = clock.instant();
    Report report = new Report();
    try {
      attempt(report);
    } catch (WorkerException e) {
      report.outcome = Outcome.ERROR;
      report.error = e.getMessage();
    }
    long ms = Duration.between(start, clock.instant()).toMillis();
    bus.publish(new TaskResult(offer.run(), offer.task(), offer.epoch(), config.id(), report.outcome, offer.branch(),
        report.commit, report.changed, report.agentExit, report.verifyExit, report.agentTail, report.verifyTail, ms,
        Optional.ofNullable(report.error))).join();
    if (report.outcome == Outcome.PASSED) {
      cleanUp();
    } else if (Files.isDirectory(worktree)) {
      LOG.warn("task {} {}: kept its worktree {} and logs {}", offer.task(), report.outcome, worktree, logs);
    }
  }

  private void attempt(Report report) {
    enter("setup", "");
    mirror.fetch();
    if (!mirror.hasCommit(offer.baseCommit())) {
      throw new WorkerException("base commit " + offer.baseCommit() + " is not in " + config.repoUrl());
    }
    createDirectories();
    mirror.addWorktree(worktree, offer.branch(), offer.baseCommit());
    String gitLink = readGitLink();
    Map<String, String> env = environment();

    enter("agent", String.join(" ", offer.agent().command()).length() > 60 ? "" : String.join(" ", offer.agent().command()));
    ChildProcess.Result agent = ChildProcess.runIsolated(argv(), worktree, env, offer.agent().timeout(),
        Optional.of(logs.resolve("agent.log")), line -> {}, stop);
    report.agentExit = agent.exit();
    report.agentTail = agent.output();
    if (agent.stopped().isPresent()) {
      report.fail(Outcome.AGENT_FAILED, "agent stopped: " + agent.stopped().get());
      return;
    } else if (agent.timedOut()) {
      report.fail(Outcome.AGENT_FAILED, "agent timed out after " + offer.agent().timeout().toSeconds() + "s");
      return;
    } else if (agent.exit() != 0) {
      report.fail(Outcome.AGENT_FAILED, "agent exited with " + agent.exit());
      return;
    }

    if (!gitLink.equals(readGitLink())) {
      // The worktree's .git file says which repository git works on; an agent that rewrote it could make the
      // commit below land somewhere else. Nothing of this attempt is committed.
      report.fail(Outcome.OWNERSHIP_VIOLATION, "the agent changed the worktree's .git link");
      publishViolation(List.of(new OwnershipGuard.Violation(".git", "the worktree's link to its repository")));
      return;
    }

    enter("commit", "");
    String commit = mirror.commitAll(worktree, commitMessage()).orElse(offer.baseCommit());
    report.commit = Optional.of(commit);
    report.changed = commit.equals(offer.baseCommit()) ? List.of() : mirror.changedFiles(worktree, offer.baseCommit(), commit);
    List<OwnershipGuard.Violation> violations = guard().check(worktree, report.changed);
    if (!violations.isEmpty()) {
      report.fail(Outcome.OWNERSHIP_VIOLATION, "changed " + violations.size() + " path(s) it does not own: "
          + violations.stream().limit(5).map(Object::toString).collect(java.util.stream.Collectors.joining(", ")));
      publishViolation(violations);
      return;
    }

    if (offer.verify().isPresent()) {
      enter("verify", offer.verify().get());
      ChildProcess.Result verify = ChildProcess.runIsolated(List.of("sh", "-c", offer.verify().get()), worktree, env,
          offer.agent().timeout(), Optional.of(logs.resolve("verify.log")), line -> {}, stop);
      report.verifyExit = verify.exit();
      report.verifyTail = verify.output();
      if (!verify.ok()) {
        report.fail(Outcome.VERIFY_FAILED, verify.stopped().map(why -> "verify stopped: " + why)
            .orElse(verify.timedOut() ? "verify timed out" : "verify exited with " + verify.exit()));
        return;
      }
    }
    if (!report.changed.isEmpty()) {
      enter("push", offer.branch());
      mirror.push(offer.branch());
    }
    report.outcome = Outcome.PASSED;
  }

  private OwnershipGuard guard() {
    return new OwnershipGuard(offer.owns().stream().map(Claim::parse).toList());
  }

  private void publishViolation(List<OwnershipGuard.Violation> violations) {
    bus.publish(new Finding(offer.run(), offer.task(), offer.epoch(), config.id(), Finding.OWNERSHIP_VIOLATION,
        "changed paths outside its claims " + offer.owns() + ": "
            + violations.stream().map(Object::toString).collect(java.util.stream.Collectors.joining(", ")),
        violations.stream().map(OwnershipGuard.Violation::path).toList()));
  }

  private String readGitLink() {
    try {
      Path link = worktree.resolve(".git");
      return Files.isRegularFile(link, java.nio.file.LinkOption.NOFOLLOW_LINKS) ? Files.readString(link) : "<not a file>";
    } catch (IOException e) {
      return "<unreadable: " + e.getMessage() + ">";
    }
  }

  /** The agent's argv: placeholders are replaced inside each element, in one pass, and never seen by a shell. */
  List<String> argv() {
    Map<String, String> values = Map.of("prompt", offer.prompt(), "task", offer.task(), "worktree", worktree.toString());
    return offer.agent().command().stream().map(arg -> substitute(arg, values)).toList();
  }

  static String substitute(String arg, Map<String, String> values) {
    Matcher m = PLACEHOLDER.matcher(arg);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      m.appendReplacement(out, Matcher.quoteReplacement(values.get(m.group(1))));
    }
    m.appendTail(out);
    return out.toString();
  }

  private Map<String, String> environment() {
    Map<String, String> env = new HashMap<>();
    env.put("LANES_RUN", offer.run());
    env.put("LANES_PLAN", offer.plan());
    env.put("LANES_TASK", offer.task());
    env.put("LANES_EPOCH", Integer.toString(offer.epoch()));
    env.put("LANES_TITLE", offer.title());
    env.put("LANES_PROMPT", offer.prompt());
    env.put("LANES_OWNS", String.join("\n", offer.owns()));
    env.put("LANES_WORKTREE", worktree.toString());
    env.put("LANES_BASE_COMMIT", offer.baseCommit());
    env.put("LANES_BRANCH", offer.branch());
    env.put("LANES_WORKER", config.id());
    return env;
  }

  private String commitMessage() {
    return offer.title() + "\n\nLanes-Task: " + offer.task() + "\nLanes-Run: " + offer.run() + "\nLanes-Worker: "
        + config.id() + "\n";
  }

  private void enter(String next, String detail) {
    phase = next;
    bus.publish(new Heartbeat(offer.run(), offer.task(), offer.epoch(), config.id(), next, detail));
  }

  private void createDirectories() {
    try {
      Files.createDirectories(worktree.getParent());
      Files.createDirectories(logs);
    } catch (IOException e) {
      throw new WorkerException("cannot create " + worktree.getParent() + ": " + e.getMessage(), e);
    }
  }

  private void cleanUp() {
    try {
      mirror.removeWorktree(worktree, offer.branch());
    } catch (WorkerException e) {
      LOG.warn("could not remove worktree {}: {}", worktree, e.getMessage());
    }
  }

  /** What the attempt found out, filled in as it goes. */
  private static final class Report {
    Outcome outcome = Outcome.ERROR;
    Optional<String> commit = Optional.empty();
    List<String> changed = List.of();
    int agentExit = -1;
    int verifyExit = -1;
    String agentTail = "";
    String verifyTail = "";
    String error;

    /** The attempt failed: nothing of it is pushed, so the result names no commit. */
    void fail(Outcome why, String text) {
      outcome = why;
      error = text;
      commit = Optional.empty();
    }
  }
}
