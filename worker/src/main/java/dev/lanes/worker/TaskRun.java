package dev.lanes.worker;

import dev.lanes.process.ChildProcess;
import dev.lanes.process.Environment;
import dev.lanes.process.ProcessException;
import dev.lanes.bus.Bus;
import dev.lanes.protocol.AgentUsage;
import dev.lanes.protocol.Claim;
import dev.lanes.protocol.Durations;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.OwnershipRules;
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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One granted attempt at a task, from worktree to result: a worktree on the task's branch at exactly the offered base
 * commit, the agent, a commit of whatever it changed, the verify command, a push, and a result that says how it went.
 * A passed attempt's worktree is removed; a failed one is kept, with its logs, for a person to look at.
 */
final class TaskRun implements Worker.Attempt {
  private static final Logger LOG = LoggerFactory.getLogger(TaskRun.class);
  /** The least time between two heartbeats that tell what the agent is doing. */
  private static final Duration PROGRESS_EVERY = Duration.ofSeconds(1);

  private final TaskOffered offer;
  private final Worker.Config config;
  private final WorkDir workDir;
  private final Mirror mirror;
  private final Bus bus;
  private final Clock clock;
  private final Path worktree;
  private final Path logs;
  private final ChildProcess.Stop stop = new ChildProcess.Stop();
  private volatile String phase = "setup";
  private volatile String detail = "";
  private Instant nextProgress = Instant.MIN;
  /** Set once the worktree exists: from then on the attempt ends either removed (passed) or kept. */
  private WorkDir.Attempt placed;

  TaskRun(TaskOffered offer, Worker.Config config, WorkDir workDir, Bus bus, Clock clock) {
    this.offer = offer;
    this.config = config;
    this.workDir = workDir;
    this.mirror = workDir.mirror();
    this.bus = bus;
    this.clock = clock;
    // The ids are checked when the attempt is set up; until then these paths are only names.
    String attempt = offer.task() + "-e" + offer.epoch();
    this.worktree = workDir.root().resolve("worktrees").resolve(offer.run()).resolve(attempt);
    this.logs = workDir.root().resolve("logs").resolve(offer.run()).resolve(attempt);
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
  public String detail() {
    return detail;
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
    } catch (RuntimeException e) {
      // Whatever went wrong, the lead hears of it now rather than when the lease runs out.
      report.fail(Outcome.ERROR, e instanceof WorkerException || e instanceof ProcessException ? e.getMessage() : e.toString());
      // Said here as well as in the result: a worker whose every attempt fails this way (a repository gone, a fetch
      // refused) should say why in its own output.
      LOG.warn("task {} of run {}, attempt {}: {}", offer.task(), offer.run(), offer.epoch(), report.error);
    }
    long ms = Duration.between(start, clock.instant()).toMillis();
    publishFindings();
    publishResult(report, ms);
    if (placed == null) {
      return;
    } else if (report.outcome == Outcome.PASSED) {
      cleanUp();
    } else {
      keep(report);
    }
  }

  /** Most paths a result lists, and most characters of each output tail: a result must fit in one message. */
  private static final int MAX_PATHS = 2_000;
  private static final int MAX_TAIL = 16 * 1024;

  private void publishResult(Report report, long ms) {
    List<String> changed = report.changed.size() > MAX_PATHS ? report.changed.subList(0, MAX_PATHS) : report.changed;
    try {
      bus.publish(new TaskResult(offer.run(), offer.task(), offer.epoch(), config.id(), report.outcome,
          offer.branch(), report.commit, changed, report.agentExit, report.verifyExit, tail(report.agentTail),
          tail(report.verifyTail), ms, Optional.ofNullable(report.error), report.usage, kept(report))).join();
    } catch (RuntimeException e) {
      LOG.error("task {}: the result could not be published: {}", offer.task(), e.toString());
    }
  }

  /** Where a failed attempt stays (see {@link #keep}), for the person who reads the lead's account of the task. */
  private Optional<String> kept(Report report) {
    if (placed == null || report.outcome == Outcome.PASSED) {
      return Optional.empty();
    }
    return Optional.of("on " + config.host() + ": logs " + placed.logs() + ", worktree " + placed.worktree());
  }

  private static String tail(String text) {
    return text.length() <= MAX_TAIL ? text : "…" + text.substring(text.length() - MAX_TAIL);
  }

  private void attempt(Report report) {
    enter("setup", "");
    placed = workDir.prepare(offer);
    String gitLink = readGitLink();
    Map<String, String> lanes = lanesVariables();

    if (offer.review().isPresent()) {
      review(report, lanes);
      return;
    }
    if (!runAgent(TaskPrompt.build(offer), "agent", lanes, report)) {
      return;
    }

    if (!gitLink.equals(readGitLink())) {
      // The worktree's .git file says which repository git works on; an agent that rewrote it could make the
      // commit below land somewhere else. Nothing of this attempt is committed.
      report.fail(Outcome.OWNERSHIP_VIOLATION, "the agent changed the worktree's .git link");
      publishViolation(List.of(new OwnershipRules.Violation(".git", "the worktree's link to its repository")));
      return;
    }

    enter("commit", "");
    // Nothing left to commit may still mean work: an agent that committed by itself left a clean tree on top of it.
    String commit = mirror.commitAll(worktree, commitMessage()).orElseGet(() -> mirror.head(worktree));
    report.commit = Optional.of(commit);
    report.changed = commit.equals(offer.baseCommit()) ? List.of() : mirror.changedFiles(worktree, offer.baseCommit(), commit);
    List<OwnershipRules.Violation> violations = guard().check(worktree, report.changed);
    if (!violations.isEmpty()) {
      report.fail(Outcome.OWNERSHIP_VIOLATION, "changed " + violations.size() + " path(s) it does not own: "
          + violations.stream().limit(5).map(Object::toString).collect(java.util.stream.Collectors.joining(", ")));
      publishViolation(violations);
      return;
    }

    if (offer.verify().isPresent()) {
      enter("verify", offer.verify().get());
      ChildProcess.Result verify = ChildProcess.runIsolated(List.of("sh", "-c", offer.verify().get()), worktree,
          environment(List.of(), lanes),
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

  /**
   * Runs the agent in the worktree with {@code prompt}; false (with the report failed) when it did not exit 0.
   *
   * @param phase what the heartbeats call this step
   */
  private boolean runAgent(String prompt, String phase, Map<String, String> lanes, Report report) {
    AgentAdapter adapter = AgentAdapter.of(offer.agent());
    AgentAdapter.Request request = new AgentAdapter.Request(prompt, offer.task(), worktree);
    enter(phase, adapter.describe());
    AgentAdapter.Watch watch = adapter.watch(request, this::progress, stop);
    ChildProcess.Result agent = ChildProcess.runIsolated(adapter.argv(request), worktree,
        environment(adapter.environment(), lanes),
        offer.agent().timeout(), Optional.of(logs.resolve("agent.log")), watch::line, stop);
    report.agentExit = agent.exit();
    report.agentTail = watch.tail(agent.output());
    report.usage = watch.usage();
    Optional<String> failure = watch.failure(agent);
    if (agent.stopped().isPresent()) {
      report.fail(Outcome.AGENT_FAILED, "agent stopped: " + agent.stopped().get());
      return false;
    } else if (agent.timedOut()) {
      report.fail(Outcome.AGENT_FAILED, "agent timed out after " + Durations.format(offer.agent().timeout()));
      return false;
    } else if (failure.isPresent()) {
      report.fail(Outcome.AGENT_FAILED, failure.get());
      return false;
    } else if (agent.exit() != 0) {
      report.fail(Outcome.AGENT_FAILED, "agent exited with " + agent.exit());
      return false;
    }
    return true;
  }

  /**
   * A review attempt: the agent reads the writer's change in a worktree at the writer's commit and gives its verdict
   * in the findings file. Nothing it changes is committed or pushed; the result names the reviewed commit.
   */
  private void review(Report report, Map<String, String> lanes) {
    TaskOffered.Review review = offer.review().orElseThrow();
    String diff = mirror.diff(worktree, review.since(), offer.baseCommit(), logs.resolve("review.diff"),
        MAX_TAIL * 4);
    if (!runAgent(TaskPrompt.review(offer, diff), "review", lanes, report)) {
      return;
    }
    report.commit = Optional.of(offer.baseCommit());
    report.outcome = Outcome.PASSED;
  }

  private OwnershipGuard guard() {
    return new OwnershipGuard(offer.owns().stream().map(Claim::parse).toList());
  }

  private void publishViolation(List<OwnershipRules.Violation> violations) {
    bus.publish(new Finding(offer.run(), offer.task(), offer.epoch(), config.id(), Finding.OWNERSHIP_VIOLATION,
        "changed paths outside its claims " + offer.owns() + ": "
            + violations.stream().map(Object::toString).collect(java.util.stream.Collectors.joining(", ")),
        violations.stream().map(OwnershipRules.Violation::path).toList()));
  }

  private String readGitLink() {
    try {
      Path link = worktree.resolve(".git");
      if (!Files.isRegularFile(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        return "<not a file>";
      }
      // The agent may have replaced the link with anything, a file larger than the heap included: a real one is short.
      try (var in = Files.newInputStream(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        return new String(in.readNBytes(4096 + 1), java.nio.charset.StandardCharsets.UTF_8);
      }
    } catch (IOException e) {
      return "<unreadable: " + e.getMessage() + ">";
    }
  }

  /**
   * What an agent or the verify command sees: the default allow-list of the worker's environment, what the adapter
   * needs ({@code adapter}), what the worker passes ({@code --pass-env}) and the plan's agent asks for, then the
   * worker's configured variables and the attempt's {@code LANES_*} ones on top.
   */
  private Environment environment(List<String> adapter, Map<String, String> lanes) {
    return Environment.allowing(adapter).allow(config.passEnv()).allow(offer.agent().env())
        .with(config.agentEnvironment()).with(lanes);
  }

  private Map<String, String> lanesVariables() {
    Map<String, String> env = new HashMap<>();
    env.put("LANES_RUN", offer.run());
    env.put("LANES_PLAN", offer.plan());
    env.put("LANES_TASK", offer.task());
    env.put("LANES_EPOCH", Integer.toString(offer.epoch()));
    env.put("LANES_TITLE", offer.title());
    env.put("LANES_PROMPT", TaskPrompt.build(offer));
    env.put("LANES_TASK_PROMPT", offer.prompt());
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

  /**
   * Tells the lead what the agent is doing, at most once every {@link #PROGRESS_EVERY}: an agent may report many
   * steps a second. Called on the thread that reads the agent's output, which must never fail.
   */
  private void progress(String detail) {
    Instant now = clock.instant();
    if (now.isBefore(nextProgress)) {
      return;
    }
    nextProgress = now.plus(PROGRESS_EVERY);
    this.detail = detail;
    try {
      bus.publish(new Heartbeat(offer.run(), offer.task(), offer.epoch(), config.id(), "agent", detail));
    } catch (RuntimeException e) {
      LOG.warn("task {}: progress heartbeat not sent: {}", offer.task(), e.toString());
    }
  }

  private void enter(String next, String detail) {
    phase = next;
    this.detail = detail;
    bus.publish(new Heartbeat(offer.run(), offer.task(), offer.epoch(), config.id(), next, detail));
  }

  /** What the agent left in .lanes/findings.json, read also when it failed: it may say why. */
  private void publishFindings() {
    if (placed != null) {
      Findings.read(worktree).forEach(item ->
          bus.publish(item.toFinding(offer.run(), offer.task(), offer.epoch(), config.id())));
    }
  }

  private void cleanUp() {
    try {
      workDir.finish(placed);
    } catch (WorkerException e) {
      // a worktree left behind is removed by the crash recovery when the worker next starts
      LOG.warn("could not remove worktree {}: {}", worktree, e.getMessage());
    }
  }

  /** A failed attempt's worktree, branch and logs stay for a person to look at, listed as kept. */
  private void keep(Report report) {
    try {
      workDir.keep(placed, WorkDir.outcomeName(report.outcome), report.error == null ? "" : report.error);
    } catch (WorkerException e) {
      LOG.error("task {} {}: could not record its kept worktree {}: {}", offer.task(), report.outcome, worktree,
          e.getMessage());
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
    Optional<AgentUsage> usage = Optional.empty();

    /** The attempt failed: nothing of it is pushed, so the result names no commit. */
    void fail(Outcome why, String text) {
      outcome = why;
      error = text;
      commit = Optional.empty();
    }
  }
}
