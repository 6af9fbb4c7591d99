package dev.lanes.coordinator;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.lanes.protocol.ClaimGranted;
import dev.lanes.protocol.Heartbeat;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.LeadServing;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.Plan;
import dev.lanes.protocol.PlanRevised;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import dev.lanes.protocol.UsageRecorded;
import dev.lanes.protocol.WorkerStatus;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.math.BigDecimal;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a person watching the lead sees: its runs and their tasks, the workers, the merge queues, the inbox and what
 * was spent, as the HTTP API serves it ({@code /api/state}), and a numbered stream of the changes to it
 * ({@code /api/events}).
 *
 * <p>It is a read model, fed on the lead's loop with every message the lead records, sends or tells (through the
 * {@link Outbox}) and with the reports it accepts; it decides nothing. Other threads only read: every row is an
 * immutable record held in a concurrent map and replaced whole on a change, so a reader never sees a half-changed task
 * and the loop never waits for a reader. A state read while changes happen may mix rows from before and after one of
 * them; it says the number of the last change it is sure to include ({@link State#eventId}), and a client that then
 * follows the stream from that number applies the later ones again, which is harmless since each event carries the
 * whole row it changes.
 *
 * <p>Everything is bounded: the events kept for a client that reconnects ({@link #EVENTS_KEPT}), finished runs
 * ({@link #FINISHED_RUNS_KEPT}), evictions per run, and the output tails of tasks (a Caffeine cache).
 */
public final class Board {
  private static final Logger LOG = LoggerFactory.getLogger(Board.class);
  /** The changes kept for a client that reconnects with {@code Last-Event-ID}; one further behind is told to reset. */
  public static final int EVENTS_KEPT = 4096;
  static final int FINISHED_RUNS_KEPT = 20;
  static final int EVICTIONS_KEPT = 20;
  static final long LOGS_KEPT = 10_000;
  static final int DAYS_KEPT = 8;

  private final Clock clock;
  private final int window;
  private final Map<String, RunRow> runs = new ConcurrentHashMap<>();
  private final Map<String, TaskRow> tasks = new ConcurrentHashMap<>();
  private final Map<String, WorkerRow> workers = new ConcurrentHashMap<>();
  /**
   * The attempts each worker runs ({@code run/task}, sorted), kept as tasks change: a worker's lane is shown at every
   * grant and end of an attempt, and finding its tasks by walking every task shown made that cost grow with the runs.
   */
  private final Map<String, java.util.NavigableSet<String>> holding = new ConcurrentHashMap<>();
  /**
   * Each run's tasks in its merge queue (queued or landing), in the order they came, kept as tasks change: the queue
   * is shown at each change of it, and walking every task of a run for that made each landing cost the run's size.
   */
  private final Map<String, Map<String, TaskState>> queues = new ConcurrentHashMap<>();
  private final Cache<String, TaskLog> logs = Caffeine.newBuilder().maximumSize(LOGS_KEPT)
      .executor(Runnable::run).build();
  /** When each unanswered offer went out, by its task and epoch (loop only): the start of the dispatch latency. */
  private final Map<String, Long> offered = new HashMap<>();
  private volatile LeadView lead;
  private volatile Spent spent = Spent.NONE;
  private volatile java.util.function.Supplier<List<?>> inbox = List::of;
  /** False while the log is read back (loop only): meters count only what happens while this lead serves. */
  private boolean live = true;
  private final Deque<Event> ring = new ArrayDeque<>();
  private long lastId;
  private final List<Consumer<Event>> watchers = new CopyOnWriteArrayList<>();
  private final Meters meters;

  /** A board for the lead {@code name}, which shows no time it serves since until it holds the lead role. */
  public Board(String name, Clock clock, int window, MeterRegistry registry) {
    this.lead = new LeadView(name, "");
    this.clock = clock;
    this.window = window;
    this.meters = new Meters(registry);
  }

  // ---- fed on the loop ----

  /** A message the lead recorded, sent or told, or read back from its log when it took the lead role. */
  void recorded(Message message) {
    if (message instanceof RunStarted s) {
      started(s);
    } else if (message instanceof PlanRevised r) {
      revised(r);
    } else if (message instanceof TaskUpdate u) {
      updated(u);
    } else if (message instanceof RunFinished f) {
      finished(f);
    } else if (message instanceof TaskOffered o) {
      offered.putIfAbsent(o.key() + "#" + o.epoch(), clock.millis());
    } else if (message instanceof ClaimGranted g) {
      granted(g);
    } else if (message instanceof UsageRecorded u) {
      charged(u);
    } else if (message instanceof dev.lanes.protocol.RunBudget b) {
      budgeted(b);
    } else if (message instanceof dev.lanes.protocol.ActionTaken a) {
      emit("action", a);
    } else if (message instanceof LeadServing l && l.lead().equals(lead.name())) {
      lead = new LeadView(l.lead(), l.since());
      emit("lead", lead);
    }
  }

  /**
   * A record read back from the log when the lead took the lead role: shown as it was recorded, but counted by no
   * meter (they count what this lead saw happen, and a counter must not count a thing twice).
   */
  void replayed(Message message) {
    live = false;
    try {
      recorded(message);
    } finally {
      live = true;
    }
  }

  /**
   * A report the lead took: a worker's announcement, a finding; a heartbeat or result, which the board keeps only
   * when it is of the attempt it shows as current, from that attempt's worker (it is handed them before the lead
   * acts on them, so that a result's output is there when the changes it brings are).
   */
  void accepted(Message report) {
    if (report instanceof WorkerStatus w) {
      WorkerRow row = new WorkerRow(w.worker(), w.host(), w.slots(), w.capabilities(), clock.instant().toString());
      workers.put(w.worker(), row);
      emit("worker", workerView(row));
    } else if (report instanceof Heartbeat h) {
      beat(h);
    } else if (report instanceof TaskResult t) {
      result(t);
    }
  }

  /**
   * Where the items of the inbox come from (the lead's inbox, which keeps them), read with the rest of the state
   * from any thread; each item is shown as {@code items} gives it.
   */
  void inbox(java.util.function.Supplier<List<?>> items) {
    this.inbox = items;
  }

  /** An inbox item came ({@code added}) or went (answered, resolved): an {@code inbox} event with the item. */
  void inboxChanged(Object item, boolean added) {
    emit("inbox", new InboxEvent(item, added));
  }

  /** The lead set a report aside (dead-lettered it). */
  void deadLettered() {
    meters.deadLettered.increment();
  }

  /** The bus refused a record before the lead saw it (unsigned, forged, malformed). */
  void rejected() {
    meters.rejected.increment();
  }

  /** The lead lost or took the lead role: what it showed is forgotten, and it is read again from the log. */
  void forget() {
    runs.clear();
    tasks.clear();
    holding.clear();
    queues.clear();
    workers.clear();
    logs.invalidateAll();
    offered.clear();
    spent = Spent.NONE;
    meters.clear();
    emit("reset", new Reset("the lead took or gave up the lead role; read the state again"));
  }

  private void started(RunStarted s) {
    Plan plan = s.definition().orElse(null);
    if (plan == null) {
      return; // a record from before plans were logged: nothing to show
    }
    Instant at = s.startedAt().map(Instant::parse).orElse(clock.instant());
    RunRow row = new RunRow(s.run(), s.plan(), s.target(), "running", Optional.empty(), at.toString(),
        plan.budget().map(b -> b.usd().doubleValue()), 0, ids(plan), orderings(plan, Map.of(), "in the plan"), List.of(), 0);
    runs.put(s.run(), row);
    for (Plan.Task task : plan.tasks()) {
      putTask(new TaskRow(s.run(), task.id(), task.title(), TaskState.WAITING, 0, 0, "", "", 0, 0, 0, claims(task),
          task.after(), ""));
    }
    emit("run", header(row));
  }

  /** The run's budget changed, or paused or resumed the run: the run shows {@code paused} with the reason. */
  private void budgeted(dev.lanes.protocol.RunBudget b) {
    RunRow row = runs.get(b.run());
    if (row == null || row.state().equals("finished")) {
      return;
    }
    RunRow next = row.withBudget(b.budgetUsd().map(java.math.BigDecimal::doubleValue), b.paused());
    runs.put(b.run(), next);
    emit("run", header(next));
  }

  private void revised(PlanRevised r) {
    RunRow row = runs.get(r.run());
    if (row == null) {
      return;
    }
    Map<String, String> known = new HashMap<>();
    row.orderings().forEach(o -> known.put(o.before() + ">" + o.after(), o.why()));
    for (Plan.Task task : r.definition().tasks()) {
      TaskRow t = tasks.get(key(r.run(), task.id()));
      putTask(t == null
          ? new TaskRow(r.run(), task.id(), task.title(), TaskState.WAITING, 0, 0, "", "", 0, 0, 0, claims(task),
              task.after(), "")
          : t.withPlan(task.title(), claims(task), task.after()));
    }
    RunRow next = row.withPlan(ids(r.definition()), orderings(r.definition(), known, r.reason()));
    runs.put(r.run(), next);
    emit("run", header(next));
    r.definition().tasks().forEach(t -> emit("task", taskEvent(tasks.get(key(r.run(), t.id())))));
  }

  private void updated(TaskUpdate u) {
    TaskRow before = tasks.get(key(u.run(), u.task()));
    if (before == null || !runs.containsKey(u.run())) {
      return;
    }
    long now = clock.millis();
    boolean running = u.state() == TaskState.RUNNING || u.state() == TaskState.REVIEWING;
    boolean wasRunning = before.state() == TaskState.RUNNING || before.state() == TaskState.REVIEWING;
    long since = running && (!wasRunning || u.epoch() != before.epoch()) ? now : before.since();
    long until = running ? 0 : before.until() == 0 && before.since() != 0 ? now : before.until();
    int attempt = u.tally().map(TaskUpdate.Tally::attempts).filter(n -> n > 0).orElse(Math.max(before.attempt(),
        u.epoch()));
    String phase = running ? before.phase() : "";
    TaskRow next = new TaskRow(u.run(), u.task(), before.title(), u.state(), attempt, u.epoch(), u.worker(), phase,
        since, until, before.costUsd(), before.claims(), before.after(), u.detail());
    putTask(next);
    if (u.state() != before.state() && u.detail().startsWith(Run.EVICTED)) {
      if (live) {
        meters.evictions.increment();
      }
      RunRow row = runs.get(u.run());
      List<Eviction> evictions = new ArrayList<>(row.evictions());
      evictions.add(new Eviction(u.task(), u.detail().substring(Run.EVICTED.length()), clock.instant().toString()));
      runs.put(u.run(), row.withEvictions(evictions.subList(Math.max(0, evictions.size() - EVICTIONS_KEPT),
          evictions.size())));
    }
    if (live && u.state() != before.state() && u.detail().startsWith(Run.LEASE_OF)) {
      meters.leaseExpiries.increment();
    }
    emit("task", taskEvent(next));
    if (queued(before.state()) || queued(u.state()) || u.detail().startsWith(Run.EVICTED)) {
      emit("queue", queueView(runs.get(u.run())));
    }
    if (!before.worker().isEmpty() && (wasRunning != running || !before.worker().equals(u.worker()))) {
      Optional.ofNullable(workers.get(before.worker())).ifPresent(w -> emit("worker", workerView(w)));
    }
    if (running && !u.worker().equals(before.worker()) || running && !wasRunning) {
      Optional.ofNullable(workers.get(u.worker())).ifPresent(w -> emit("worker", workerView(w)));
    }
  }

  private void granted(ClaimGranted g) {
    meters.attempts.increment();
    Long at = offered.remove(g.key() + "#" + g.epoch());
    if (at != null) {
      meters.dispatch.record(Math.max(0, clock.millis() - at), TimeUnit.MILLISECONDS);
    }
  }

  private void finished(RunFinished f) {
    RunRow row = runs.get(f.run());
    if (row == null) {
      return;
    }
    RunRow done = row.finished(lastId + 1);
    runs.put(f.run(), done);
    offered.keySet().removeIf(k -> k.startsWith(f.run() + "/"));
    emit("run", header(done));
    List<RunRow> over = runs.values().stream().filter(r -> r.finishedAt() > 0)
        .sorted(Comparator.comparingLong(RunRow::finishedAt)).toList();
    for (RunRow old : over.subList(0, Math.max(0, over.size() - FINISHED_RUNS_KEPT))) {
      runs.remove(old.run());
      queues.remove(old.run());
      old.tasks().forEach(t -> {
        TaskRow gone = tasks.remove(key(old.run(), t));
        if (gone != null) {
          meters.count(gone.state(), -1);
          hold(gone, null);
        }
        logs.invalidate(key(old.run(), t));
      });
    }
  }

  private void beat(Heartbeat h) {
    TaskRow row = tasks.get(key(h.run(), h.task()));
    if (row == null || row.epoch() != h.epoch() || !row.worker().equals(h.worker())) {
      return;
    }
    TaskLog log = logs.getIfPresent(row.key());
    logs.put(row.key(), (log == null || log.epoch() != h.epoch() ? TaskLog.empty(h.run(), h.task(), h.epoch(),
        h.worker()) : log).beat(h.phase(), h.detail(), clock.instant().toString()));
    if (!h.phase().equals(row.phase())) {
      TaskRow next = row.withPhase(h.phase());
      putTask(next);
      emit("task", taskEvent(next));
    }
  }

  private void result(TaskResult t) {
    String k = key(t.run(), t.task());
    TaskRow current = tasks.get(k);
    if (current == null || current.epoch() != t.epoch() || !current.worker().equals(t.worker())) {
      return;
    }
    TaskLog log = logs.getIfPresent(k);
    logs.put(k, (log == null || log.epoch() != t.epoch() ? TaskLog.empty(t.run(), t.task(), t.epoch(), t.worker())
        : log).result(t, clock.instant().toString()));
  }

  /**
   * An attempt's entry in the cost ledger, as the lead records it (or as its log has it, on a takeover): it adds to
   * its task, its run, its plan and its UTC day. Totals are kept in exact decimals, as the ledger is.
   */
  private void charged(UsageRecorded u) {
    if (u.costUsd().signum() <= 0) {
      return;
    }
    Spent was = spent;
    Map<String, BigDecimal> byPlan = new TreeMap<>(was.byPlan());
    byPlan.merge(u.plan(), u.costUsd(), BigDecimal::add);
    TreeMap<String, BigDecimal> byDay = new TreeMap<>(was.byDay());
    byDay.merge(day(u.at()), u.costUsd(), BigDecimal::add);
    while (byDay.size() > DAYS_KEPT) {
      byDay.pollFirstEntry();
    }
    spent = new Spent(was.total().add(u.costUsd()), byPlan, byDay);
    meters.cost(u.plan());
    TaskRow task = tasks.get(key(u.run(), u.task()));
    if (task != null) {
      TaskRow next = task.withCost(task.costUsd() + u.costUsd().doubleValue());
      putTask(next);
      emit("task", taskEvent(next));
    }
    RunRow run = runs.get(u.run());
    if (run != null) {
      RunRow next = run.withCost(run.costUsd() + u.costUsd().doubleValue());
      runs.put(u.run(), next);
      emit("run", header(next));
    }
    emit("cost", cost());
  }

  /** The UTC day of an ISO-8601 instant; a record without a readable one counts on the board's today. */
  private String day(String at) {
    try {
      return LocalDate.ofInstant(Instant.parse(at), ZoneOffset.UTC).toString();
    } catch (java.time.format.DateTimeParseException e) {
      return LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC).toString();
    }
  }

  /** The cost totals, today being the board's clock's UTC day. */
  private CostView cost() {
    Spent s = spent;
    Map<String, Double> byPlan = new TreeMap<>();
    s.byPlan().forEach((plan, usd) -> byPlan.put(plan, usd.doubleValue()));
    Map<String, Double> byDay = new TreeMap<>();
    s.byDay().forEach((day, usd) -> byDay.put(day, usd.doubleValue()));
    String today = LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC).toString();
    return new CostView(s.total().doubleValue(), s.byDay().getOrDefault(today, BigDecimal.ZERO).doubleValue(), byPlan,
        byDay);
  }

  /** What the ledger says was spent, in all, by plan and by UTC day (the last {@link #DAYS_KEPT}). */
  private record Spent(BigDecimal total, Map<String, BigDecimal> byPlan, Map<String, BigDecimal> byDay) {
    static final Spent NONE = new Spent(BigDecimal.ZERO, Map.of(), Map.of());

    Spent {
      byPlan = Map.copyOf(byPlan);
      byDay = Map.copyOf(byDay);
    }
  }

  private void putTask(TaskRow row) {
    TaskRow was = tasks.put(row.key(), row);
    hold(was, row);
    enqueue(was, row);
    if (was == null || was.state() != row.state()) {
      if (was != null) {
        meters.count(was.state(), -1);
      }
      meters.count(row.state(), 1);
    }
  }

  /** Keeps {@link #queues} true when a task's row goes from {@code was} to {@code now}. */
  private void enqueue(TaskRow was, TaskRow now) {
    if (was != null && queued(was.state()) && !queued(now.state())) {
      Optional.ofNullable(queues.get(was.run())).ifPresent(q -> q.remove(was.task()));
    }
    if (queued(now.state())) {
      queues.computeIfAbsent(now.run(), r -> java.util.Collections.synchronizedMap(new java.util.LinkedHashMap<>()))
          .put(now.task(), now.state());
    }
  }

  /** Keeps {@link #holding} true when a task's row goes from {@code was} to {@code now} (null: none). */
  private void hold(TaskRow was, TaskRow now) {
    boolean held = was != null && was.running();
    boolean holds = now != null && now.running();
    if (held && (!holds || !was.worker().equals(now.worker()))) {
      java.util.Set<String> of = holding.get(was.worker());
      if (of != null) {
        of.remove(was.run() + "/" + was.task());
      }
    }
    if (holds) {
      holding.computeIfAbsent(now.worker(), w -> new java.util.concurrent.ConcurrentSkipListSet<>())
          .add(now.run() + "/" + now.task());
    }
  }

  // ---- the change stream ----

  /** A numbered change: its kind ({@code run}, {@code task}, {@code worker}, …) and the row as it now is. */
  public static final class Event {
    private final long id;
    private final String kind;
    private final Object data;
    private volatile String json;

    Event(long id, String kind, Object data) {
      this.id = id;
      this.kind = kind;
      this.data = data;
    }

    public long id() {
      return id;
    }

    public String kind() {
      return kind;
    }

    /** The row as JSON, made by the first reader that needs it rather than by the loop. */
    public String json() {
      String j = json;
      if (j == null) {
        j = Board.json(data);
        json = j;
      }
      return j;
    }
  }

  /**
   * The events after {@code lastSeen}, or empty when some of them are no longer kept (the client must read the state
   * again). The live ones that follow come to {@code watcher}, which is added in the same step so none is missed or
   * given twice; it must not block (it is called on the lead's loop).
   */
  public synchronized Optional<List<Event>> follow(long lastSeen, Consumer<Event> watcher) {
    watchers.add(watcher);
    if (lastSeen >= lastId) {
      return Optional.of(List.of());
    }
    Event first = ring.peekFirst();
    if (lastSeen < 0 || first == null || first.id() > lastSeen + 1) {
      return Optional.empty();
    }
    return Optional.of(ring.stream().filter(e -> e.id() > lastSeen).toList());
  }

  /** Stops handing events to {@code watcher}. */
  public void unfollow(Consumer<Event> watcher) {
    watchers.remove(watcher);
  }

  /** The number of the last change so far. */
  public synchronized long lastEventId() {
    return lastId;
  }

  private void emit(String kind, Object data) {
    Event event;
    synchronized (this) {
      event = new Event(++lastId, kind, data);
      ring.addLast(event);
      if (ring.size() > EVENTS_KEPT) {
        ring.removeFirst();
      }
      // Handing over inside the lock keeps every watcher's events in order with what follow() gave it.
      for (Consumer<Event> w : watchers) {
        try {
          w.accept(event);
        } catch (RuntimeException e) {
          LOG.warn("a watcher of the board failed; it is dropped: {}", e.toString());
          watchers.remove(w);
        }
      }
    }
  }

  // ---- reading, from any thread ----

  /** The whole state as it stands. */
  public State state() {
    long id = lastEventId();
    List<RunView> runViews = runs.values().stream().sorted(Comparator.comparing(RunRow::started)
        .thenComparing(RunRow::run)).map(this::runView).toList();
    List<WorkerView> workerViews = workers.values().stream().sorted(Comparator.comparing(WorkerRow::worker))
        .map(this::workerView).toList();
    List<QueueView> queues = runs.values().stream().filter(r -> r.finishedAt() == 0)
        .sorted(Comparator.comparing(RunRow::started)).map(this::queueView).toList();
    return new State(lead, runViews, workerViews, queues, List.copyOf(inbox.get()), cost(), id);
  }

  /** Free slots over all workers: their slots less the attempts the board shows them running. */
  private double freeSlots() {
    return workers.values().stream().mapToInt(w -> Math.max(0, w.slots() - running(w.worker()).size())).sum();
  }

  /** The output tails of a task's latest attempt, from its result and its latest heartbeat. */
  public Optional<TaskLog> log(String run, String task) {
    return Optional.ofNullable(logs.getIfPresent(key(run, task)))
        .or(() -> Optional.ofNullable(tasks.get(key(run, task)))
            .map(t -> TaskLog.empty(run, task, t.epoch(), t.worker())));
  }

  /** Whether the board shows this run. */
  public boolean knows(String run) {
    return runs.containsKey(run);
  }

  private RunView runView(RunRow r) {
    List<TaskView> views = new ArrayList<>();
    for (String id : r.tasks()) {
      Optional.ofNullable(tasks.get(key(r.run(), id))).ifPresent(t -> views.add(taskView(t)));
    }
    return new RunView(r.run(), r.plan(), r.target(), r.state(), r.paused(), r.started(), r.budgetUsd(), r.costUsd(),
        views, r.orderings());
  }

  private static RunHeader header(RunRow r) {
    return new RunHeader(r.run(), r.plan(), r.target(), r.state(), r.paused(), r.started(), r.budgetUsd(),
        r.costUsd(), r.orderings());
  }

  private TaskEvent taskEvent(TaskRow t) {
    return new TaskEvent(t.run(), taskView(t));
  }

  private TaskView taskView(TaskRow t) {
    long elapsed = t.since() == 0 ? 0 : Math.max(0, (t.until() == 0 ? clock.millis() : t.until()) - t.since());
    return new TaskView(t.task(), t.title(), t.state().name(), t.attempt(), t.epoch(), t.worker(), t.phase(), elapsed,
        t.costUsd(), t.claims(), t.after(), t.detail());
  }

  private WorkerView workerView(WorkerRow w) {
    List<String> holding = running(w.worker());
    return new WorkerView(w.worker(), w.host(), w.slots(), Math.max(0, w.slots() - holding.size()), w.capabilities(),
        w.lastSeen(), holding);
  }

  private List<String> running(String worker) {
    return List.copyOf(holding.getOrDefault(worker, java.util.Collections.emptyNavigableSet()));
  }

  private QueueView queueView(RunRow r) {
    List<QueueEntry> entries = new ArrayList<>();
    Map<String, TaskState> queue = queues.get(r.run());
    if (queue != null) {
      synchronized (queue) {
        queue.forEach((task, state) -> entries.add(new QueueEntry(task, state.name())));
      }
    }
    return new QueueView(r.run(), window, entries, r.evictions());
  }

  private static boolean queued(TaskState state) {
    return state == TaskState.QUEUED || state == TaskState.LANDING;
  }

  /**
   * A value as JSON with this process's secrets redacted, as the bus redacts what it publishes: the board holds the
   * lead's messages as they were before they were published, and what it serves leaves the process too.
   */
  public static String json(Object value) {
    return new String(jsonBytes(value), java.nio.charset.StandardCharsets.UTF_8);
  }

  /** {@link #json} as UTF-8 bytes, for a response: the state of a large run is not copied once more as a string. */
  public static byte[] jsonBytes(Object value) {
    try {
      return dev.lanes.protocol.Redactor.process().redactJson(Json.mapper().writeValueAsBytes(value));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("could not write " + value.getClass().getSimpleName() + " as JSON", e);
    }
  }

  private static String key(String run, String task) {
    return run + "/" + task;
  }

  private static List<String> ids(Plan plan) {
    return plan.tasks().stream().map(Plan.Task::id).toList();
  }

  private static List<String> claims(Plan.Task task) {
    return task.owns().stream().map(dev.lanes.protocol.Claim::text).toList();
  }

  /** Every ordering of the plan; one that {@code known} does not name was added by {@code why}. */
  private static List<Ordering> orderings(Plan plan, Map<String, String> known, String why) {
    List<Ordering> all = new ArrayList<>();
    for (Plan.Task task : plan.tasks()) {
      for (String before : task.after()) {
        all.add(new Ordering(before, task.id(), known.getOrDefault(before + ">" + task.id(), why)));
      }
    }
    return List.copyOf(all);
  }

  // ---- rows (held) and views (served) ----

  private record RunRow(String run, String plan, String target, String state, Optional<String> paused,
      String started, Optional<Double> budgetUsd, double costUsd, List<String> tasks, List<Ordering> orderings,
      List<Eviction> evictions, long finishedAt) {
    RunRow {
      tasks = List.copyOf(tasks);
      evictions = List.copyOf(evictions);
    }

    RunRow withPlan(List<String> ids, List<Ordering> next) {
      return new RunRow(run, plan, target, state, paused, started, budgetUsd, costUsd, ids, next, evictions,
          finishedAt);
    }

    RunRow withEvictions(List<Eviction> next) {
      return new RunRow(run, plan, target, state, paused, started, budgetUsd, costUsd, tasks, orderings, next,
          finishedAt);
    }

    RunRow withBudget(Optional<Double> usd, Optional<String> pause) {
      return new RunRow(run, plan, target, pause.isPresent() ? "paused" : "running", pause, started, usd, costUsd,
          tasks, orderings, evictions, finishedAt);
    }

    RunRow withCost(double usd) {
      return new RunRow(run, plan, target, state, paused, started, budgetUsd, usd, tasks, orderings, evictions,
          finishedAt);
    }

    RunRow finished(long at) {
      return new RunRow(run, plan, target, "finished", Optional.empty(), started, budgetUsd, costUsd, tasks,
          orderings, evictions, at);
    }
  }

  /** @param since when the current attempt started running (epoch millis), 0 before; {@code until} when it stopped */
  private record TaskRow(String run, String task, String title, TaskState state, int attempt, int epoch, String worker,
      String phase, long since, long until, double costUsd, List<String> claims, List<String> after, String detail) {
    String key() {
      return Board.key(run, task);
    }

    boolean running() {
      return (state == TaskState.RUNNING || state == TaskState.REVIEWING) && !worker.isEmpty();
    }

    TaskRow withPlan(String named, List<String> owns, List<String> deps) {
      return new TaskRow(run, task, named, state, attempt, epoch, worker, phase, since, until, costUsd, owns, deps,
          detail);
    }

    TaskRow withPhase(String next) {
      return new TaskRow(run, task, title, state, attempt, epoch, worker, next, since, until, costUsd, claims, after,
          detail);
    }

    TaskRow withCost(double usd) {
      return new TaskRow(run, task, title, state, attempt, epoch, worker, phase, since, until, usd, claims, after,
          detail);
    }
  }

  private record WorkerRow(String worker, String host, int slots, List<String> capabilities, String lastSeen) {}

  /** The whole state, as {@code /api/state} serves it; {@code eventId} is the last change it is sure to include. */
  public record State(LeadView lead, List<RunView> runs, List<WorkerView> workers, List<QueueView> queue,
      List<?> inbox, CostView cost, long eventId) {
    /** The state as JSON. */
    public String json() {
      return Board.json(this);
    }

    /** The state as JSON, in UTF-8. */
    public byte[] jsonBytes() {
      return Board.jsonBytes(this);
    }
  }

  public record LeadView(String name, String since) {}

  public record RunView(String run, String plan, String target, String state, Optional<String> paused,
      String started, Optional<Double> budgetUsd, double costUsd, List<TaskView> tasks, List<Ordering> orderings) {}

  /** A run without its tasks, for the change stream (each task changes on its own). */
  public record RunHeader(String run, String plan, String target, String state, Optional<String> paused,
      String started, Optional<Double> budgetUsd, double costUsd, List<Ordering> orderings) {}

  public record TaskView(String task, String title, String state, int attempt, int epoch, String worker, String phase,
      long elapsedMs, double costUsd, List<String> claims, List<String> after, String detail) {}

  public record TaskEvent(String run, TaskView task) {}

  /** {@code after} runs only once {@code before} has landed; {@code why} says who ordered them. */
  public record Ordering(String before, String after, String why) {}

  public record WorkerView(String worker, String host, int slots, int free, List<String> capabilities,
      String lastSeen, List<String> tasks) {}

  public record QueueView(String run, int window, List<QueueEntry> entries, List<Eviction> evictions) {}

  public record QueueEntry(String task, String state) {}

  public record Eviction(String task, String why, String at) {}

  /** What the agents reported: in all, today, by plan, and by UTC day for the last {@value #DAYS_KEPT} days. */
  public record CostView(double totalUsd, double today, Map<String, Double> byPlan, Map<String, Double> byDay) {
    public CostView {
      byPlan = Map.copyOf(byPlan);
      byDay = Map.copyOf(byDay);
    }
  }

  public record Reset(String why) {}

  /** An inbox item that came ({@code added}) or went. */
  public record InboxEvent(Object item, boolean added) {}

  /**
   * A task's latest attempt as its worker reported it: the last heartbeat's phase and detail while it runs, the
   * agent's and verify's output tails once it ended.
   */
  public record TaskLog(String run, String task, int epoch, String worker, String phase, String detail,
      Optional<String> outcome, String agentTail, String verifyTail, String at) {
    static TaskLog empty(String run, String task, int epoch, String worker) {
      return new TaskLog(run, task, epoch, worker, "", "", Optional.empty(), "", "", "");
    }

    TaskLog beat(String nextPhase, String nextDetail, String when) {
      return new TaskLog(run, task, epoch, worker, nextPhase, nextDetail, outcome, agentTail, verifyTail, when);
    }

    TaskLog result(TaskResult r, String when) {
      return new TaskLog(run, task, epoch, worker, phase, r.error().orElse(detail), Optional.of(r.outcome().name()),
          r.agentTail(), r.verifyTail(), when);
    }
  }

  /** The lead's meters, named {@code lanes_…} in Prometheus text. */
  private final class Meters {
    private final AtomicIntegerArray byState = new AtomicIntegerArray(TaskState.values().length);
    private final MeterRegistry registry;
    final Counter attempts;
    final Counter evictions;
    final Counter leaseExpiries;
    final Counter deadLettered;
    final Counter rejected;
    final Timer dispatch;

    Meters(MeterRegistry registry) {
      this.registry = registry;
      for (TaskState s : TaskState.values()) {
        Gauge.builder("lanes.tasks", byState, a -> a.get(s.ordinal())).tag("state", s.name().toLowerCase())
            .description("Tasks of the runs shown, by state").register(registry);
      }
      Gauge.builder("lanes.queue.depth", tasks, m -> m.values().stream().filter(t -> queued(t.state())).count())
          .description("Entries in the merge queues of all runs").register(registry);
      Gauge.builder("lanes.queue.window", () -> window)
          .description("Merge-queue entries verified at once, speculatively").register(registry);
      Gauge.builder("lanes.workers", workers, Map::size).description("Workers that announced themselves")
          .register(registry);
      Gauge.builder("lanes.worker.slots.free", Board.this, Board::freeSlots)
          .description("Free slots over all workers").register(registry);
      attempts = Counter.builder("lanes.attempts").description("Attempts granted to a worker").register(registry);
      evictions = Counter.builder("lanes.evictions").description("Tasks evicted from a merge queue")
          .register(registry);
      leaseExpiries = Counter.builder("lanes.lease.expiries").description("Attempts whose lease ran out")
          .register(registry);
      deadLettered = Counter.builder("lanes.messages.dead.lettered")
          .description("Reports the lead set aside on the dead-letter topic").register(registry);
      rejected = Counter.builder("lanes.messages.rejected")
          .description("Records refused before the lead read them (unsigned, forged, malformed)").register(registry);
      dispatch = Timer.builder("lanes.dispatch.latency").description("From a task's offer to its grant")
          .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
          .maximumExpectedValue(Duration.ofSeconds(30)).register(registry);
    }

    void count(TaskState state, int delta) {
      byState.addAndGet(state.ordinal(), delta);
    }

    /** A gauge per plan, read from the ledger's totals: a lead that takes over shows what the log says. */
    void cost(String plan) {
      Gauge.builder("lanes.cost.usd", Board.this, b -> b.spent.byPlan().getOrDefault(plan, BigDecimal.ZERO)
          .doubleValue()).tag("plan", plan).description("Dollars the agents reported, by plan, in the ledger")
          .register(registry);
    }

    void clear() {
      for (int i = 0; i < byState.length(); i++) {
        byState.set(i, 0);
      }
    }
  }
}
