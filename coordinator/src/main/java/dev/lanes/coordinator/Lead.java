package dev.lanes.coordinator;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.lanes.bus.Bus;
import dev.lanes.coordinator.git.TargetBranch;
import dev.lanes.coordinator.git.TargetLock;
import dev.lanes.protocol.ActionRefused;
import dev.lanes.protocol.ActionTaken;
import dev.lanes.protocol.BudgetRequested;
import dev.lanes.protocol.ExistingTarget;
import dev.lanes.coordinator.git.VerifyTrees;
import dev.lanes.protocol.PlanRevised;
import dev.lanes.protocol.ClaimRequested;
import dev.lanes.protocol.EnrolmentRequested;
import dev.lanes.protocol.WorkerEnrolled;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.LeadOnline;
import dev.lanes.protocol.LeadServing;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.PlanException;
import dev.lanes.protocol.PlanParser;
import dev.lanes.protocol.PlanRejected;
import dev.lanes.protocol.PlanSubmitted;
import dev.lanes.protocol.ProtocolException;
import dev.lanes.protocol.RunBudget;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.UsageRecorded;
import dev.lanes.protocol.Usd;
import dev.lanes.protocol.Topics;
import dev.lanes.protocol.WorkerStatus;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lead: the only party that decides. It turns plans into runs, grants claims, accepts results and lands them.
 *
 * <p>Leads are members of one consumer group on the one-partition reports topic, so at most one of them holds it and
 * acts; another one waits, and takes over when the first one goes away. Taking over means replaying the events topic
 * (every decision ever recorded) into the runs that are not finished, and continuing them (see {@link Run}). The
 * group's committed position means reports sent while no lead was there are read when one comes back.
 *
 * <p>Every report is handed to one event-loop thread, which owns all run state: decisions are made in the order
 * reports arrive and no state is shared between threads. The subscription hands over a batch of reports and waits
 * until the loop has handled them before it reads the next batch, so its position is committed only for handled
 * reports.
 */
public final class Lead implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Lead.class);
  /** A run id is a branch component and an event-log key prefix: no '/', nothing git or a path would read. */
  private static final Pattern RUN_ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,99}");
  /** A client's request id: it names the lead's answer on the log, so it is held to the rules of a run id. */
  private static final Pattern REQUEST_ID = RUN_ID;
  private static final DateTimeFormatter RUN_TIME = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);
  /** The consumer group whose single member is the acting lead. */
  public static final String GROUP = Topics.LEAD_GROUP;

  /**
   * How the lead paces itself.
   *
   * @param reofferEvery how often offers nobody claimed are published again
   * @param failUnschedulableAfter when present, a task no known worker can run fails after this long; absent, it is
   *     reported and waits for a capable worker to join
   * @param lease how long a granted attempt lives without a heartbeat
   * @param maxAttempts how many attempts a task gets in all, whatever starts them (a failure, a claim extended, a fix
   *     after an eviction or a review); then it is parked (1: failed). A lost grant offered again uses none
   * @param maxEvictions how many times a task's work may be sent back (evicted from the merge queue, or changes
   *     requested by a review) before it is parked as needing a human; each fix is also one of {@code maxAttempts}
   * @param mergeWindow how many merge-queue entries may be verified at once, speculatively
   * @param passEnv names of the lead's environment variables its verify commands and lead agent may see, besides the
   *     default allow-list ({@code --pass-env})
   * @param dailyBudgetUsd what all runs together may spend on their agents in a UTC day ({@code --daily-budget-usd});
   *     absent: no daily budget
   */
  public record Settings(Duration reofferEvery, Optional<Duration> failUnschedulableAfter, Duration lease,
      int maxAttempts, int maxEvictions, int mergeWindow, List<String> passEnv,
      Optional<java.math.BigDecimal> dailyBudgetUsd) {
    public static final Duration DEFAULT_LEASE = Duration.ofMinutes(2);

    public Settings {
      passEnv = List.copyOf(passEnv);
      passEnv.forEach(name -> dev.lanes.protocol.AgentSpec.envNameProblem(name).ifPresent(rule -> {
        throw new IllegalArgumentException("--pass-env: " + rule);
      }));
      if (lease.isNegative() || lease.isZero()) {
        throw new IllegalArgumentException("--lease: " + lease + " must be longer than zero");
      }
      if (maxAttempts < 1) {
        throw new IllegalArgumentException("--max-attempts: " + maxAttempts + " must be at least 1");
      }
      if (maxEvictions < 1) {
        throw new IllegalArgumentException("--max-evictions: " + maxEvictions + " must be at least 1");
      }
      if (mergeWindow < 1) {
        throw new IllegalArgumentException("--merge-window: " + mergeWindow + " must be at least 1");
      }
      dailyBudgetUsd.flatMap(usd -> Usd.budgetProblem("--daily-budget-usd", usd)).ifPresent(problem -> {
        throw new IllegalArgumentException(problem);
      });
    }

    /** Settings without a daily budget. */
    public Settings(Duration reofferEvery, Optional<Duration> failUnschedulableAfter, Duration lease,
        int maxAttempts, int maxEvictions, int mergeWindow, List<String> passEnv) {
      this(reofferEvery, failUnschedulableAfter, lease, maxAttempts, maxEvictions, mergeWindow, passEnv,
          Optional.empty());
    }

    /** These settings with a budget for all runs of a UTC day. */
    public Settings withDailyBudget(Optional<java.math.BigDecimal> usd) {
      return new Settings(reofferEvery, failUnschedulableAfter, lease, maxAttempts, maxEvictions, mergeWindow,
          passEnv, usd);
    }

    public static final int DEFAULT_EVICTIONS = 2;
    public static final int DEFAULT_WINDOW = 4;

    /** For a long-running lead whose workers come and go. */
    public static Settings daemon() {
      return new Settings(Duration.ofSeconds(10), Optional.empty(), DEFAULT_LEASE, 3, DEFAULT_EVICTIONS, DEFAULT_WINDOW,
          List.of());
    }

    /** For a lead whose workers are all started with it, as in {@code lanes run}. */
    public static Settings fixedWorkers() {
      return new Settings(Duration.ofSeconds(10), Optional.of(Duration.ofSeconds(5)), DEFAULT_LEASE, 1,
          DEFAULT_EVICTIONS, DEFAULT_WINDOW, List.of());
    }

    public Settings withLease(Duration lease) {
      return new Settings(reofferEvery, failUnschedulableAfter, lease, maxAttempts, maxEvictions, mergeWindow, passEnv,
          dailyBudgetUsd);
    }

    public Settings withMaxAttempts(int attempts) {
      return new Settings(reofferEvery, failUnschedulableAfter, lease, attempts, maxEvictions, mergeWindow, passEnv,
          dailyBudgetUsd);
    }

    public Settings withMerging(int evictions, int window) {
      return new Settings(reofferEvery, failUnschedulableAfter, lease, maxAttempts, evictions, window, passEnv,
          dailyBudgetUsd);
    }

    /** These settings with {@code names} of the lead's environment passed to its verify commands and lead agent. */
    public Settings withPassEnv(List<String> names) {
      return new Settings(reofferEvery, failUnschedulableAfter, lease, maxAttempts, maxEvictions, mergeWindow, names,
          dailyBudgetUsd);
    }

    /** What the lead's verify commands and lead agent see of its environment, before their own variables. */
    public dev.lanes.process.Environment childEnvironment() {
      return dev.lanes.process.Environment.allowing(passEnv);
    }
  }

  private final Bus bus;
  private final TargetBranch repo;
  private final Clock clock;
  private final Settings settings;
  private final ScheduledExecutorService loop;
  /** The runs that are not finished; a run leaves when it finishes, for {@link #finished}. */
  private final Map<String, Run> runs = new LinkedHashMap<>();
  /**
   * The final reports of recently finished runs, weighed by their tasks, for a while: a lead that runs for months
   * must not keep every run it ever ran. What {@code lanes status} and a replay need of a finished run is its
   * {@code RunFinished} in the event log, not this.
   */
  private final Cache<String, RunReport> finished;
  /** The end of each run started here, kept across replays, which rebuild the runs themselves. */
  private final Map<String, CompletableFuture<RunReport>> endings = new java.util.concurrent.ConcurrentHashMap<>();
  /**
   * The start of each unfinished run, by target: a target is held by one run at a time, and the log says which, so a
   * lead that takes over refuses what the last one would have.
   */
  private final Map<String, RunStarted> holds = new HashMap<>();
  /** The lock file each run this lead holds keeps on its target, for the processes of this machine. */
  private final Map<String, TargetLock> locks = new HashMap<>();
  /** Every run id in the log, finished ones too: a plan submitted again under a known id is not started twice. */
  private final java.util.Set<String> known = new java.util.HashSet<>();
  private final String name = "lead-" + ProcessHandle.current().pid() + "-" + HexFormat.of().formatHex(randomBytes());
  private final CompletableFuture<Void> firstActive = new CompletableFuture<>();
  private final Bus.Subscription reports;
  private final Outbox outbox;
  private final Attention attention;
  /** What needs a person; fed with what the outbox sees and what the runs notice. */
  private final Inbox inbox;
  private final Notifier notifier;
  /** What people watching see (the HTTP API), and the lead's meters. */
  private final io.micrometer.prometheusmetrics.PrometheusMeterRegistry meters =
      new io.micrometer.prometheusmetrics.PrometheusMeterRegistry(io.micrometer.prometheusmetrics.PrometheusConfig.DEFAULT);
  private final Board board;
  private final VerifyTrees verifyTrees;
  /** Where lead agents run: they may take minutes, and the loop must not wait for them. */
  private final java.util.concurrent.ExecutorService background = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "lanes-lead-agent");
    t.setDaemon(true);
    return t;
  });
  private Workers workers = new Workers();
  /** What the unfinished runs and the recent UTC days spent, for their budgets; rebuilt from the log on a takeover. */
  private Ledger ledger = new Ledger();
  /** The UTC day of the last tick: a new one lifts the daily budget's pause. */
  private java.time.LocalDate today;
  /** The key the log records for each enrolled worker: an enrolment is recorded once, not at every announcement. */
  private final Map<String, String> enrolled = new HashMap<>();
  private boolean active;
  /** When the last tick ran; 0 before the first, which follows start-up's own work and so is no sign of a pause. */
  private long lastTick;
  /** A gap between two ticks (one a second) longer than this means the lead was paused. */
  private static final Duration PAUSED = Duration.ofSeconds(4);
  private volatile boolean closing;

  /** Tasks, over all the finished runs whose reports are kept, and how long one is kept. */
  static final long FINISHED_TASKS_KEPT = 100_000;
  static final Duration FINISHED_KEPT_FOR = Duration.ofHours(1);

  private Lead(Bus bus, TargetBranch repo, Clock clock, Settings settings, long finishedTasksKept,
      Attention attention) {
    this.bus = bus;
    this.attention = attention;
    this.inbox = new Inbox(clock, attention.stuckAfter());
    this.notifier = Notifier.start(attention.notifications(), clock, Path.of(""));
    // Each item that comes is pushed once (the notifier keeps the ids it sent); one that leaves is not news.
    inbox.listen(change -> {
      if (change.added()) {
        notifier.offer(change.item().notice());
      }
    });
    // Maintenance on the caller's thread (the loop) rather than a pool of Caffeine's: nothing else touches the cache.
    this.finished = Caffeine.newBuilder().maximumWeight(finishedTasksKept)
        .weigher((String id, RunReport r) -> r.tasks().size() + 1).expireAfterWrite(FINISHED_KEPT_FOR)
        .ticker(() -> TimeUnit.MILLISECONDS.toNanos(clock.millis())).executor(Runnable::run).build();
    this.repo = repo;
    this.clock = clock;
    this.settings = settings;
    this.verifyTrees = new VerifyTrees(repo.commonGitDir());
    this.loop = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "lanes-lead");
      t.setDaemon(true);
      return t;
    });
    bus.createTopics();
    this.board = new Board(name, clock, settings.mergeWindow(), meters);
    // The board shows the inbox's items as the API serves them, and each that comes or goes as an event.
    board.inbox(() -> inbox.items().stream().map(Inbox.Item::view).toList());
    inbox.listen(change -> board.inboxChanged(change.item().view(), change.added()));
    this.outbox = new Outbox(bus, message -> {
      board.recorded(message);
      inbox.recorded(message);
    });
    this.reports = bus.subscribeExclusive(Topics.REPORTS, GROUP, new Reports(),
        gained -> onLoopAndWait(() -> setActive(gained)));
    long every = settings.reofferEvery().toMillis();
    loop.scheduleWithFixedDelay(() -> guarded(() -> activeRuns().forEach(Run::reoffer)), every, every,
        TimeUnit.MILLISECONDS);
    loop.scheduleWithFixedDelay(() -> guarded(this::tick), 1, 1, TimeUnit.SECONDS);
  }

  /** Starts a lead on the bus that lands results in the repository at {@code repoDir}. */
  public static Lead start(Bus bus, Path repoDir, Clock clock) {
    return start(bus, repoDir, clock, Settings.daemon());
  }

  public static Lead start(Bus bus, Path repoDir, Clock clock, Settings settings) {
    return start(bus, repoDir, clock, settings, Attention.NONE);
  }

  /** A lead that tells a person what needs them as {@code attention} says. */
  public static Lead start(Bus bus, Path repoDir, Clock clock, Settings settings, Attention attention) {
    return new Lead(bus, TargetBranch.open(repoDir, clock), clock, settings, FINISHED_TASKS_KEPT, attention);
  }

  /** A lead that keeps the reports of finished runs up to {@code finishedTasksKept} tasks (for tests). */
  static Lead start(Bus bus, Path repoDir, Clock clock, Settings settings, long finishedTasksKept) {
    return new Lead(bus, TargetBranch.open(repoDir, clock), clock, settings, finishedTasksKept, Attention.NONE);
  }

  /**
   * How the lead reaches a person: where items of its inbox are pushed ({@code --notify-command}, {@code --webhook}),
   * when an attempt without progress counts as stuck ({@code --stuck-after}), and whether a run waits for a person.
   *
   * <p>The rule for waiting: a run whose tasks have all ended, but one of which waits for a person (a parked question,
   * a task parked after evictions or out of attempts, an ownership violation), does not finish while
   * {@code waitForPeople} holds: it stays answerable, and finishes once every such item is settled (answered,
   * retried, approved or cancelled). It holds when the lead can tell a person (notifications are on) or is asked to
   * ({@link #waiting}: a person said they watch the dashboard, {@code --http} given); without either a run ends as
   * before, and its parked tasks are listed by {@code lanes status}.
   */
  public record Attention(Notifier.Settings notifications, Duration stuckAfter, boolean waitForPeople) {
    public static final Attention NONE = new Attention(Notifier.Settings.NONE, Inbox.DEFAULT_STUCK_AFTER, false);

    public Attention {
      if (stuckAfter.isNegative() || stuckAfter.isZero()) {
        throw new IllegalArgumentException("--stuck-after: " + stuckAfter + " must be longer than zero");
      }
    }

    /** Notifications as {@code notify} says, a run waiting for a person whenever they are on. */
    public static Attention of(Notifier.Settings notify, Duration stuckAfter) {
      return new Attention(notify, stuckAfter, notify.enabled());
    }

    /** This attention, with runs waiting for a person ({@code true}) or not. */
    public Attention waiting(boolean wait) {
      return new Attention(notifications, stuckAfter, wait);
    }
  }

  /** A fresh run id: the plan's name, the time, and a random suffix ({@code demo-20261123-153012-9f3a}). */
  public static String newRunId(Plan plan, Clock clock) {
    return plan.name() + "-" + RUN_TIME.format(clock.instant()) + "-" + HexFormat.of().formatHex(randomBytes());
  }

  /** Starts a run of a validated plan under a fresh run id. */
  public RunHandle submit(Plan plan) {
    return submit(plan, newRunId(plan, clock));
  }

  /**
   * Starts a run under a run id chosen by the caller, who may want to watch for it before it starts. Checks the plan
   * and the id, resolves the base and prepares the target branch first, so a plan that cannot run here fails now: with
   * a {@link PlanException} naming each problem, or a {@link LeadException}. Waits (up to 30 s) for this lead to hold
   * the lead role.
   */
  public RunHandle submit(Plan plan, String id) {
    return submit(plan, id, Optional.empty(), "lanes run");
  }

  /**
   * Starts a run as {@link #submit(Plan, String)} does, doing with a target that exists and is ahead of the base
   * what {@code existing} says (empty: refuse), for {@code submitter}, who is named as asking for the run.
   */
  public RunHandle submit(Plan plan, String id, Optional<ExistingTarget> existing, String submitter) {
    awaitActive(Duration.ofSeconds(30));
    Run run = onLoop(() -> startRun(plan, id, existing, submitter));
    return new RunHandle(id, run.baseCommit(), run.done(), () -> onLoop(run::report));
  }

  /** Whether this lead holds the lead role now. */
  public boolean isActive() {
    return onLoop(() -> active);
  }

  /** What needs a person now; its items are read from any thread. */
  Inbox inbox() {
    return inbox;
  }

  /** What people watching this lead see; read from any thread. */
  public Board board() {
    return board;
  }

  /** The lead's meters, for {@code /metrics}. */
  public io.micrometer.prometheusmetrics.PrometheusMeterRegistry meters() {
    return meters;
  }

  /** How many workers have announced themselves to this lead. */
  public int knownWorkers() {
    return onLoop(() -> workers.size());
  }

  /** Whether the lead has heard from this worker (for tests that play workers). */
  boolean knows(String worker) {
    return onLoop(() -> workers.knows(worker));
  }

  /** Waits until this lead holds the lead role for the first time. */
  public void awaitActive(Duration patience) {
    try {
      firstActive.get(patience.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new LeadException("another lead is active on these topics (waited " + patience.toSeconds()
          + "s); submit the plan to it with lanes submit");
    } catch (ExecutionException e) {
      throw new LeadException("the lead failed to start: " + e.getCause().getMessage(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new LeadException("interrupted while waiting for the lead role", e);
    }
  }

  /**
   * A run's report: as it stands while the run goes on, then its final one while this lead keeps it; empty for a run
   * this lead does not know or no longer keeps (the event log has the end of every run, as {@code lanes status}
   * shows).
   */
  public Optional<RunReport> report(String runId) {
    return onLoop(() -> run(runId).map(Run::report).or(() -> Optional.ofNullable(finished.getIfPresent(runId))));
  }

  /** How many runs this lead holds in memory, unfinished and finished (for tests). */
  long runsInMemory() {
    return onLoop(() -> {
      finished.cleanUp();
      return runs.size() + finished.estimatedSize();
    });
  }

  /** Cancels a run: running attempts are withdrawn from their workers, waiting tasks skipped. */
  public void cancel(String runId, String reason) {
    onLoop(() -> {
      run(runId).ifPresent(r -> r.cancel(reason));
      return null;
    });
  }

  /**
   * Takes an action a person asked for (see {@link Action}), on the loop: the run (and task) must be one this lead
   * holds and the action must apply to it; then it is recorded ({@link ActionTaken}, naming who asked) before it takes
   * effect.
   *
   * @return the decision recorded
   * @throws Action.Refused naming why nothing was done: the field, the value and the rule
   */
  public ActionTaken act(Action action) {
    return onLoop(() -> take(action));
  }

  /**
   * Clears an item of the inbox that no decision settles (a stuck agent, a lost worker) once a person has seen it
   * ({@link Inbox#dismiss}). Nothing about a run changes, so nothing is recorded; the lead's log names who asked.
   *
   * @return the item cleared
   * @throws Action.Refused when there is no such item, or it leaves only when settled
   */
  public Inbox.Item dismiss(String id, String by) {
    return onLoop(() -> {
      requireActive();
      Inbox.Item gone = inbox.dismiss(id);
      LOG.info("inbox item {} dismissed by {}", gone.id(), by);
      return gone;
    });
  }

  /** A person's request reaches only the lead that holds the role; on the loop. */
  private void requireActive() {
    if (!active) {
      throw new Action.Refused(Action.Refused.Why.CONFLICT, "this lead does not hold the lead role; ask the lead that"
          + " does");
    }
  }

  /** {@link #act}, for a caller on the loop (a request that came over the bus). */
  ActionTaken take(Action action) {
    return take(action, Optional.empty());
  }

  /**
   * {@link #act} on the loop, for {@code request}, the client's request the action answers ({@link BudgetRequested}):
   * the decision names it, for the client that waits for it.
   */
  private ActionTaken take(Action action, Optional<String> request) {
    requireActive();
    Run run = runs.get(action.run());
    if (run == null || run.finished()) {
      throw known.contains(action.run())
          ? new Action.Refused(Action.Refused.Why.CONFLICT, "run: \"" + action.run() + "\" has finished")
          : new Action.Refused(Action.Refused.Why.NOT_FOUND, "run: \"" + action.run()
              + "\" is not a run this lead holds");
    }
    Optional<RunReport.Row> task = action.task().map(id -> run.report().tasks().stream()
        .filter(row -> row.task().equals(id)).findFirst().orElseThrow(() -> new Action.Refused(
            Action.Refused.Why.NOT_FOUND, "task: \"" + id + "\" is not a task of run " + action.run())));
    switch (action.kind()) {
      case CANCEL_RUN:
        ActionTaken cancelled = taken(action, "cancelled by " + action.by());
        run.cancel("cancelled by " + action.by());
        return cancelled;
      case RAISE_BUDGET:
        java.math.BigDecimal usd = java.math.BigDecimal.valueOf(action.usd().orElseThrow());
        run.budgetProblem(usd).ifPresent(problem -> {
          throw new Action.Refused(Action.Refused.Why.INVALID, problem);
        });
        ActionTaken raised = taken(action, "budget set to " + Usd.format(Usd.exact(usd)) + " by " + action.by());
        run.raiseBudget(usd, action.by(), request);
        return raised;
      case CANCEL_TASK:
      case RETRY:
      case ANSWER:
      case APPROVE:
      case PAUSE:
      case RESUME:
        Runnable effect = run.act(action);
        ActionTaken decided = taken(action, action.text().orElse(action.kind().wire() + " by " + action.by()));
        effect.run();
        return decided;
      default:
        throw new Action.Refused(Action.Refused.Why.NOT_AVAILABLE, action.kind().wire()
            + ": this lead cannot take this action yet");
    }
  }

  /** Records the action before it takes effect. */
  private ActionTaken taken(Action action, String detail) {
    ActionTaken taken = new ActionTaken(HexFormat.of().formatHex(randomBytes(6)), action.run(), action.task(),
        action.kind().wire(), action.by(), detail, clock.instant().truncatedTo(java.time.temporal.ChronoUnit.SECONDS)
            .toString());
    outbox.record(taken);
    LOG.info("{} asked for {}: {}", action.by(), action.describe(), detail);
    return taken;
  }

  private Run startRun(Plan plan, String id, Optional<ExistingTarget> existing, String submitter) {
    if (!active) {
      throw new LeadException("this lead lost the lead role to another one; submit the plan there");
    }
    if (runs.containsKey(id)) {
      return runs.get(id);
    }
    if (known.contains(id)) {
      throw new LeadException("run " + id + " already ran; submit the plan again for a new run");
    }
    admit(plan, id);
    refuseIfHeld(plan, id);
    String base = repo.resolveBase(plan.base());
    TargetLock lock = TargetLock.acquire(repo.commonGitDir(),
        TargetLock.Holder.of(id, plan.target(), clock.instant(), "lead " + name));
    try {
      repo.prepare(plan.target(), base, existing, id);
    } catch (RuntimeException e) {
      lock.close();
      throw e;
    }
    locks.put(id, lock);
    Run run = new Run(id, plan, base, context(), ending(id));
    runs.put(id, run);
    retireWhenDone(run);
    known.add(id);
    RunStarted start = run.start(RunStarted.holderOf(name + " on " + lock.holder().host() + ", submitted by "
        + submitter));
    if (!run.finished()) {
      holds.put(plan.target(), start);
    }
    return run;
  }

  /**
   * One run per target: a plan whose target an unfinished run holds is refused, naming that run, since when and who
   * holds it; the very plan of that run submitted again is recognised as such.
   */
  private void refuseIfHeld(Plan plan, String id) {
    RunStarted holder = holds.get(plan.target());
    if (holder == null) {
      return;
    }
    String who = "run " + holder.run() + holder.startedAt().map(t -> " since " + t).orElse("")
        + holder.holder().map(h -> " (" + h + ")").orElse("");
    if (holder.definition().filter(plan::equals).isPresent()) {
      throw new LeadException("the same plan is already running as " + who + "; it is not started twice");
    }
    throw new LeadException("target: \"" + plan.target() + "\" is held by " + who
        + "; one run per target: wait for it to end, or give the plan another target");
  }

  /**
   * Where a plan enters the lead, from the bus or from this process: it is held to the rules of a plan file, tasks that
   * may run at once must own disjoint paths, and the run id must be one that names a branch and an event-log key
   * safely. Nothing is touched before it passes: no branch, no record, no offer.
   *
   * @throws PlanException listing every problem, each naming the field, the value and the rule
   */
  static void admit(Plan plan, String run) {
    if (!RUN_ID.matcher(run).matches()) {
      throw new PlanException("plan", List.of("request: \"" + run + "\" is not a valid run id: lower-case letters,"
          + " digits and '-', starting with a letter or digit, at most 100 characters"));
    }
    PlanParser.runnable(plan);
  }

  /** Gaining the role: replay the log, continue the unfinished runs, call the roll. Losing it: forget everything. */
  private void setActive(boolean gained) {
    if (gained == active) {
      return;
    }
    runs.values().forEach(Run::close);
    runs.clear();
    releaseTargets();
    known.clear();
    enrolled.clear();
    workers = new Workers();
    ledger = new Ledger();
    board.forget();
    inbox.forget();
    active = gained;
    if (gained) {
      long start = System.nanoTime();
      try {
        replay();
      } catch (RuntimeException e) {
        // Acting on a half-read log would be worse than not acting: give the role up for another try.
        LOG.error("{} could not replay the log, so it does not act: {}", name, e.toString(), e);
        runs.clear();
        active = false;
        return;
      }
      for (Run run : List.copyOf(runs.values())) {
        try {
          holdTarget(run);
          run.resume();
        } catch (RuntimeException e) {
          LOG.error("{} could not resume run {}: {}", name, run.id(), e.toString(), e);
        }
      }
      LOG.info("{} holds the lead role; {} unfinished run(s) resumed from the log in {} ms", name, runs.size(),
          (System.nanoTime() - start) / 1_000_000);
      // The log says who serves and since when, for lanes status; the broker's group says whether it still does.
      outbox.record(new LeadServing(name, host(),
          clock.instant().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString()));
      bus.publish(new LeadOnline(name));
      firstActive.complete(null);
    } else if (closing) {
      LOG.info("{} gave up the lead role", name);
    } else {
      LOG.warn("{} lost the lead role to another lead; it stops deciding", name);
    }
  }

  /** Takes the lock file of a resumed run's target; a run on it here that is not ours is logged, not fatal. */
  private void holdTarget(Run run) {
    Optional<RunStarted> held = holds.values().stream().filter(s -> s.run().equals(run.id())).findFirst();
    if (held.isEmpty()) {
      return; // a second unfinished run on one target, from before targets were held: the log's last start holds it
    }
    RunStarted start = held.get();
    try {
      locks.put(run.id(), TargetLock.acquire(repo.commonGitDir(), TargetLock.Holder.of(run.id(), start.target(),
          clock.instant(), "lead " + name)));
    } catch (LeadException e) {
      LOG.warn("{} resumes run {}, but: {}", name, run.id(), e.getMessage());
    }
  }

  private void releaseTargets() {
    locks.values().forEach(TargetLock::close);
    locks.clear();
    holds.clear();
  }

  /**
   * What a finished run leaves: its target's hold, and the task branches of the tasks that landed (their work is on
   * the target now; a task that did not land keeps its branches for a person, until {@code lanes gc}).
   */
  private void release(String runId, RunReport report) {
    holds.values().removeIf(s -> s.run().equals(runId));
    Optional.ofNullable(locks.remove(runId)).ifPresent(TargetLock::close);
    java.util.Set<String> landed = new java.util.HashSet<>();
    for (RunReport.Row row : report.tasks()) {
      if (row.state() == dev.lanes.protocol.TaskState.LANDED) {
        landed.add(row.task());
      }
    }
    String prefix = "lanes-work/" + runId + "/";
    List<String> branches;
    try {
      // One listing for the run, not one per task: each listing reads the ref database again, which for a run of
      // thousands of tasks kept the lead's loop busy for seconds at the run's end.
      branches = landed.isEmpty() ? List.of() : repo.workBranches(prefix);
    } catch (RuntimeException e) {
      LOG.warn("could not list the task branches of run {}: {}", runId, e.getMessage());
      return;
    }
    for (String branch : branches) {
      String rest = branch.substring(prefix.length()); // TASK/eN
      int slash = rest.indexOf('/');
      if (slash > 0 && landed.contains(rest.substring(0, slash))) {
        try {
          repo.deleteBranch(branch);
        } catch (RuntimeException e) {
          LOG.warn("could not delete the task branch {} of run {}: {}", branch, runId, e.getMessage());
        }
      }
    }
  }

  private static String host() {
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException e) {
      return "localhost";
    }
  }

  private Run.Context context() {
    return new Run.Context(outbox, repo, verifyTrees, workers, clock, settings, loop, background, name, ledger, inbox,
        attention.waitForPeople());
  }

  /**
   * Moves a run that finishes from the runs to the finished reports. The run completes its end on the loop, so this
   * runs there too; every walk over the runs that may finish one walks a copy.
   */
  private void retireWhenDone(Run run) {
    run.done().thenAccept(report -> {
      if (runs.get(run.id()) == run) {
        release(run.id(), report);
        runs.remove(run.id());
        ledger.forget(run.id());
        endings.remove(run.id());
        finished.put(run.id(), report);
      }
    });
  }

  private CompletableFuture<RunReport> ending(String run) {
    return endings.computeIfAbsent(run, k -> new CompletableFuture<>());
  }

  /**
   * Rebuilds the unfinished runs from the log. A run is built from its latest plan (the last revision, else the plan
   * it started with), then every task update is applied in log order: compaction may have dropped older revisions
   * and left updates of tasks they added before the revision that survives, so the plan must be complete first.
   */
  private void replay() {
    Map<String, RunStarted> starts = new LinkedHashMap<>();
    Map<String, Plan> plans = new HashMap<>();
    Map<String, List<TaskUpdate>> updates = new HashMap<>();
    Map<String, RunBudget> budgets = new HashMap<>();
    Map<String, Optional<String>> paused = new HashMap<>();
    inbox.replaying(true);
    try {
      replayInto(starts, plans, updates, budgets, paused);
    } finally {
      inbox.replaying(false);
    }
    for (RunStarted s : starts.values()) {
      Run run = new Run(s.run(), plans.get(s.run()), s.baseCommit(), context(), ending(s.run()));
      updates.getOrDefault(s.run(), List.of()).forEach(run::restore);
      Optional.ofNullable(budgets.get(s.run())).ifPresent(run::restore);
      paused.getOrDefault(s.run(), Optional.empty()).ifPresent(run::pause);
      runs.put(s.run(), run);
      retireWhenDone(run);
    }
    ledger.retain(runs.keySet());
  }

  private void replayInto(Map<String, RunStarted> starts, Map<String, Plan> plans, Map<String, List<TaskUpdate>> updates,
      Map<String, RunBudget> budgets, Map<String, Optional<String>> paused) {
    bus.replay(Topics.EVENTS, message -> {
      board.replayed(message);
      inbox.recorded(message);
      if (message instanceof ActionTaken a && (a.action().equals(Action.Kind.PAUSE.wire())
          || a.action().equals(Action.Kind.RESUME.wire()))) {
        paused.put(a.run(), a.action().equals(Action.Kind.PAUSE.wire()) ? Optional.of("paused by " + a.by())
            : Optional.empty());
      }
      if (message instanceof RunStarted s) {
        known.add(s.run());
        if (s.definition().isPresent()) {
          starts.put(s.run(), s);
          holds.put(s.target(), s);
          plans.putIfAbsent(s.run(), s.definition().get());
        }
      } else if (message instanceof PlanRevised r) {
        plans.put(r.run(), r.definition());
      } else if (message instanceof TaskUpdate u) {
        updates.computeIfAbsent(u.run(), k -> new ArrayList<>()).add(u);
      } else if (message instanceof UsageRecorded u) {
        ledger.add(u);
      } else if (message instanceof RunBudget b) {
        budgets.put(b.run(), b);
      } else if (message instanceof RunFinished f) {
        known.add(f.run()); // after compaction, a finished run's end may be all that is left of it
        starts.remove(f.run());
        holds.values().removeIf(s -> s.run().equals(f.run()));
      } else if (message instanceof WorkerEnrolled w) {
        // The bus believes the key from here on (see Envelope); the lead only remembers that it is recorded.
        enrolled.putIfAbsent(w.worker(), w.revoked() ? "" : w.publicKey());
      }
    });
  }

  /**
   * A result or a finding for a run this lead holds no longer (finished, its report kept or not) or never held: it is
   * set aside with the reason and logged, so that a worker that wakes from a freeze after its run ended is told why
   * nothing came of its work. Findings the lead published itself come back here too and are passed over.
   */
  private void late(Message message, String what) {
    if (message instanceof Finding f && f.fromLead()) {
      return;
    }
    String run = message instanceof TaskResult t ? t.run() : ((Finding) message).run();
    String why = what + ": run " + run + (known.contains(run) ? " has finished" : " is not known to this lead");
    LOG.warn("{}", why);
    deadLetter(message, why);
  }

  /** Sets a report aside on the dead-letter topic with why, and counts it. */
  private void deadLetter(Message report, String why) {
    board.deadLettered();
    bus.deadLetter(Topics.REPORTS, dev.lanes.protocol.Json.encode(report), why);
  }

  private void dispatch(Message message) {
    if (!active) {
      return;
    }
    if (message instanceof ClaimRequested c) {
      if (!workers.knows(c.worker())) {
        // Only workers that announced themselves (and so their capabilities and slots) get work.
        deadLetter(c, "claim from unknown worker \"" + c.worker() + "\": it never announced itself");
        return;
      }
      run(c.run()).ifPresent(r -> r.onClaim(c));
    } else if (message instanceof Heartbeat h) {
      inbox.workerBack(h.worker());
      run(h.run()).ifPresent(r -> {
        board.accepted(h); // first: the board keeps it only for the attempt it shows as current
        r.onHeartbeat(h);
      });
    } else if (message instanceof TaskResult t) {
      Optional<String> unbelievable = t.usage().flatMap(dev.lanes.protocol.AgentUsage::problem);
      if (unbelievable.isPresent()) {
        // What a worker says it spent enters the ledger and every budget read from it: a report no attempt could
        // make is refused whole, and the attempt ends as one that never reported (its lease runs out).
        String why = "refused the result of attempt " + t.epoch() + " of task " + t.task() + " from " + t.worker()
            + ": " + unbelievable.get();
        LOG.warn("{}", why);
        deadLetter(t, why);
        return;
      }
      run(t.run()).ifPresentOrElse(r -> {
        // First: the board shows the result's output with the changes it brings (a landing may follow at once).
        board.accepted(t);
        r.onResult(t).ifPresent(why -> deadLetter(t, why));
      }, () -> late(t, "rejected the result of attempt " + t.epoch()
          + " of task " + t.task() + " from " + t.worker()));
      if (settings.dailyBudgetUsd().isPresent() && t.usage().isPresent()) {
        // What one run spent counts against every run's day.
        activeRuns().forEach(r -> r.checkBudget("spent"));
      }
    } else if (message instanceof Finding f) {
      run(f.run()).ifPresentOrElse(r -> r.onFinding(f).ifPresentOrElse(why -> deadLetter(f, "finding refused: " + why),
          () -> board.accepted(f)),
          () -> late(f, "finding refused: " + f.kind() + " on task " + f.task() + " from " + f.worker()));
    } else if (message instanceof WorkerStatus w) {
      Optional<String> clash = workers.clash(w);
      if (clash.isPresent()) {
        refuseInstance(w, clash.get());
        return;
      }
      board.accepted(w);
      inbox.workerBack(w.worker());
      if (workers.update(w)) {
        LOG.info("worker {} joined ({} slots, capabilities {})", w.worker(), w.slots(), w.capabilities());
        activeRuns().forEach(Run::reoffer);
      }
      if (w.holds().isPresent()) {
        activeRuns().forEach(r -> r.onStatus(w));
        cancelFinished(w);
      }
    } else if (message instanceof PlanSubmitted p) {
      onSubmitted(p);
    } else if (message instanceof EnrolmentRequested e) {
      onEnrolment(e);
    } else if (message instanceof BudgetRequested b) {
      onBudgetRequested(b);
    } else {
      throw new IllegalStateException("the lead does not handle " + message.getClass().getSimpleName() + " on "
          + Topics.REPORTS);
    }
  }

  /**
   * A client's request for a run's budget ({@code lanes budget}), signed by a submitter: taken as the same action the
   * HTTP API takes ({@link #take}), and answered on the log either way, so that the client learns the outcome; a
   * refusal changes nothing.
   */
  private void onBudgetRequested(BudgetRequested request) {
    if (!REQUEST_ID.matcher(request.request()).matches()) {
      deadLetter(request, "budget request: \"" + cut(request.request()) + "\" is not a request id: lower-case"
          + " letters, digits and '-', at most 100 characters");
      return;
    }
    // Named in the records the lead writes: a name no run or person has is refused before it is written anywhere.
    Optional<String> unfit = !RUN_ID.matcher(request.run()).matches()
        ? Optional.of("run: \"" + cut(request.run()) + "\" is not a run id")
        : request.requester().length() > 200 || request.requester().chars().anyMatch(Character::isISOControl)
            ? Optional.of("requester: \"" + cut(request.requester()) + "\" is not a name of at most 200 printable"
                + " characters")
            : Optional.empty();
    if (unfit.isPresent()) {
      outbox.record(new ActionRefused(request.request(), cut(request.run()), Action.Kind.RAISE_BUDGET.wire(),
          unfit.get()));
      return;
    }
    try {
      take(new Action(Action.Kind.RAISE_BUDGET, request.run(), Optional.empty(), Optional.empty(),
          Optional.of(request.usd().doubleValue()), request.requester() + " (lanes budget)"),
          Optional.of(request.request()));
    } catch (Action.Refused e) {
      LOG.warn("refused budget request {} for run {} from {}: {}", request.request(), request.run(),
          request.requester(), e.getMessage());
      outbox.record(new ActionRefused(request.request(), request.run(), Action.Kind.RAISE_BUDGET.wire(),
          e.getMessage()));
    }
  }

  /** A text from a client, short and printable enough to quote in a record or a log line. */
  private static String cut(String text) {
    String shown = text.length() > 100 ? text.substring(0, 100) + "…" : text;
    return shown.replaceAll("\\p{Cntrl}", "?");
  }

  /** Attempts a worker still runs for runs that have finished: their cancel was lost, or never needed until now. */
  private void cancelFinished(WorkerStatus status) {
    for (WorkerStatus.Hold hold : status.holds().orElseThrow()) {
      if (hold.running() && !runs.containsKey(hold.run()) && known.contains(hold.run())) {
        String why = "run " + hold.run() + " has finished";
        LOG.warn("cancelled again attempt {} of {} on {}: {}", hold.epoch(), hold.task(), status.worker(), why);
        outbox.send(new dev.lanes.protocol.TaskCancelled(hold.run(), hold.task(), hold.epoch(), why));
      }
    }
  }

  /**
   * A worker the bus has just believed for the first time (it checked the enrolment secret and that the id had no other
   * key): the lead records it, so a lead that replays the log believes the same key and no other.
   */
  private void onEnrolment(EnrolmentRequested enrolment) {
    if (enrolled.putIfAbsent(enrolment.worker(), enrolment.publicKey()) == null) {
      LOG.info("worker {} enrolled its key", enrolment.worker());
      outbox.record(new WorkerEnrolled(enrolment.worker(), enrolment.publicKey(), false));
    }
  }

  /**
   * A worker introduced a second key for an enrolled id (or a revoked id's): the bus refused it, and the lead tells that
   * worker why and where the id's holder last announced itself from, so that it stops rather than wait for work that
   * never comes to it.
   */
  private void onRefusedEnrolment(dev.lanes.bus.Envelope.RefusedEnrolment refused) {
    EnrolmentRequested request = refused.request();
    String reason = refused.why() + workers.host(request.worker())
        .map(host -> " (the worker with that key last announced itself from host " + host + ")").orElse("");
    LOG.warn("refused the enrolment of worker {}: {}", request.worker(), reason);
    bus.publish(new dev.lanes.protocol.EnrolmentRefused(request.worker(), request.publicKey(), reason));
  }

  /**
   * A second process announced itself under an id another one serves under (the two say which instance they are):
   * where message keys tell workers apart the bus refuses it, but on an unsigned cluster, or with one key given to two
   * workers, only their instances do. The first one keeps the id; the second is told why, naming where the first runs,
   * and stops; what it says is not taken.
   */
  private void refuseInstance(WorkerStatus second, String why) {
    String instance = second.instance().orElseThrow().id();
    LOG.warn("refused worker {} on host {} (directory {}): {}", second.worker(), second.host(),
        second.instance().get().dir(), why);
    try {
      bus.publish(new dev.lanes.protocol.EnrolmentRefused(second.worker(), enrolled.getOrDefault(second.worker(), ""),
          why, Optional.of(instance)));
    } catch (RuntimeException e) {
      LOG.warn("could not tell worker {} (instance {}) that it was refused: {}", second.worker(), instance,
          e.toString());
    }
  }

  private void onSubmitted(PlanSubmitted submitted) {
    if (known.contains(submitted.request())) {
      return; // read again after a restart: it was answered then
    }
    try {
      startRun(submitted.definition(), submitted.request(), submitted.existingTarget(), submitted.submitter());
      LOG.info("started run {} submitted by {}", submitted.request(), submitted.submitter());
    } catch (PlanException e) {
      LOG.warn("refused the plan of request {} from {}: {}", submitted.request(), submitted.submitter(),
          e.getMessage());
      bus.publish(new PlanRejected(submitted.request(), submitted.definition().name(), e.problems()));
    } catch (LeadException | ProtocolException e) {
      LOG.warn("refused the plan of request {} from {}: {}", submitted.request(), submitted.submitter(),
          e.getMessage());
      bus.publish(new PlanRejected(submitted.request(), submitted.definition().name(), List.of(e.getMessage())));
    }
  }

  /**
   * The lead's clock. After a pause (a frozen process, a suspended machine) every lease looks expired, but another
   * lead may have taken over meanwhile: this one skips that tick, and by the next one its subscription has learnt
   * whether it still holds the lead role.
   */
  private void tick() {
    long now = System.nanoTime();
    long gap = lastTick == 0 ? 0 : now - lastTick;
    lastTick = now;
    if (gap > PAUSED.toNanos()) {
      LOG.warn("{} was paused for {} ms; it checks that it still holds the lead role before it acts", name,
          gap / 1_000_000);
      return;
    }
    activeRuns().forEach(r -> r.tick(clock.instant()));
    java.time.LocalDate day = Ledger.day(clock.instant());
    if (today != null && !day.equals(today)) {
      activeRuns().forEach(r -> r.checkBudget("a new UTC day began"));
    }
    today = day;
  }

  private List<Run> activeRuns() {
    return active ? runs.values().stream().filter(r -> !r.finished()).toList() : List.of();
  }

  private Optional<Run> run(String id) {
    return Optional.ofNullable(runs.get(id));
  }

  /** A failure in one report must not stop the loop that serves all of them. */
  private static void guarded(Runnable action) {
    try {
      action.run();
    } catch (RuntimeException | AssertionError | LinkageError e) {
      LOG.error("lead failed handling a report: {}", e.toString(), e);
    }
  }

  /**
   * Hands reports to the loop as they come and waits once a batch, for the subscription's thread: its position moves
   * only past handled reports, and the thread that reads the next batch does not wait on the loop for each report.
   */
  private final class Reports implements Bus.Listener {
    /** The last report handed over; the loop runs one task at a time, in order, so it ends after all earlier ones. */
    private CompletableFuture<Void> last = CompletableFuture.completedFuture(null);

    @Override
    public void onMessage(Message message) {
      handOver(() -> dispatch(message));
    }

    @Override
    public void onInvalid(String where, ProtocolException problem) {
      Bus.Listener.super.onInvalid(where, problem);
      board.rejected();
      if (problem instanceof dev.lanes.bus.Envelope.RefusedEnrolment refused) {
        handOver(() -> onRefusedEnrolment(refused));
      }
    }

    private void handOver(Runnable action) {
      try {
        last = CompletableFuture.runAsync(() -> guarded(action), loop);
      } catch (RejectedExecutionException e) {
        // Closing: the report is not handled, so the batch must not count as handled either (see handled()).
        last = CompletableFuture.failedFuture(e);
      }
    }

    /**
     * Waits for the batch. Throws when a report of it could not be handed over, or was dropped when the loop stopped,
     * and the subscription then commits nothing more: the next lead reads those reports again.
     */
    @Override
    public void handled() {
      while (true) {
        try {
          last.get(1, TimeUnit.SECONDS);
          return;
        } catch (TimeoutException e) {
          if (loop.isTerminated() && !last.isDone()) {
            throw new IllegalStateException("the lead stopped before it handled the batch");
          }
        } catch (ExecutionException e) {
          throw new IllegalStateException("the lead could not take the batch: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted waiting for the lead's loop", e);
        }
      }
    }
  }

  /** Runs on the loop and waits, for the subscription's thread: its position moves only past handled reports. */
  private void onLoopAndWait(Runnable action) {
    try {
      CompletableFuture.runAsync(() -> guarded(action), loop).join();
    } catch (RejectedExecutionException e) {
      // closing: the report stays unhandled and uncommitted, for the next lead
    }
  }

  private <T> T onLoop(Supplier<T> what) {
    try {
      return CompletableFuture.supplyAsync(what, loop).join();
    } catch (java.util.concurrent.CompletionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw e;
    }
  }

  private static byte[] randomBytes() {
    return randomBytes(2);
  }

  private static byte[] randomBytes(int n) {
    byte[] b = new byte[n];
    new SecureRandom().nextBytes(b);
    return b;
  }

  @Override
  public void close() {
    closing = true;
    reports.close();
    // Queued work runs to its end (a caller may be waiting on it); the periodic ticks stop.
    loop.shutdown();
    try {
      if (!loop.awaitTermination(5, TimeUnit.SECONDS)) {
        loop.shutdownNow();
      }
    } catch (InterruptedException e) {
      loop.shutdownNow();
      Thread.currentThread().interrupt();
    }
    runs.values().forEach(Run::close);
    releaseTargets();
    background.shutdownNow();
    notifier.close();
    outbox.close();
    repo.close();
  }

  /** A started run: its id, the commit it started from, and its report once every task is final, or now. */
  public record RunHandle(String id, String baseCommit, CompletableFuture<RunReport> done,
      Supplier<RunReport> snapshot) {}
}
