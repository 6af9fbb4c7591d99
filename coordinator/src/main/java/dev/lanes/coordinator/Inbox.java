package dev.lanes.coordinator;

import dev.lanes.protocol.Message;
import dev.lanes.protocol.RunBudget;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * What needs a person now: one item for each thing only a person can settle, each once, saying what happened and what
 * can be done about it. Items leave when what they are about is settled (the task moves on, the worker comes back,
 * the budget is raised, the run ends).
 *
 * <p>The inbox decides nothing and keeps nothing the event log does not: task items are read from the decisions the
 * lead records ({@link #recorded}), so a lead that replays the log has the same inbox, and an item's id is made of
 * what it is about ({@code question:RUN/TASK/EPOCH}), so the same decision read twice is the same item. What is not a
 * decision, an agent that stopped making progress or a worker that went silent, is told by the run and the lead as it
 * is seen ({@link #stuck}, {@link #workerLost}). It is fed on the lead's loop; other threads read {@link #items}, an
 * immutable list replaced whole on each change, and listeners ({@link #listen}) hear each change on the loop, except
 * during a replay, when nothing is new: what a replay brings back was told when it happened.
 *
 * <p>The kinds, from the recorded detail of a task's state (the run writes it; {@link Run} owns the wording):
 * {@code question} (parked: the agent asks), {@code parked} (parked: sent back by the merge queue too often),
 * {@code needs-human} (parked: no attempt left, or none that could end differently), {@code violation} (work outside
 * the task's claims), {@code stuck}, {@code worker-lost} and {@code budget}.
 */
public final class Inbox {
  /** How long an attempt may go without progress before it is reported stuck ({@code --stuck-after}). */
  static final Duration DEFAULT_STUCK_AFTER = Duration.ofMinutes(10);
  /** The longest detail an item carries: it is shown in a list and pushed to a phone. */
  static final int MAX_DETAIL = 4000;

  static final String QUESTION = "question";
  static final String PARKED = "parked";
  static final String NEEDS_HUMAN = "needs-human";
  static final String VIOLATION = "violation";
  static final String STUCK = "stuck";
  static final String WORKER_LOST = "worker-lost";
  static final String BUDGET = "budget";
  /** The action that clears an item no decision settles ({@code stuck}, {@code worker-lost}): a person saw it. */
  public static final String DISMISS = "dismiss";
  /** The most {@code worker-lost} items kept: a fleet of short-lived workers must not grow the inbox without end. */
  static final int WORKER_LOST_KEPT = 100;

  /**
   * One thing that needs a person, as {@code /api/state} serves it and a notification carries it.
   *
   * @param actions what can be done about it, by the names of {@link Action.Kind#wire}
   */
  public record Item(String id, String kind, Optional<String> run, Optional<String> task, String title,
      String detail, List<String> actions, Instant at) {
    public Item {
      Objects.requireNonNull(id, "id");
      actions = List.copyOf(actions);
      detail = detail.length() > MAX_DETAIL ? detail.substring(0, MAX_DETAIL) + "…" : detail;
    }

    /** The item as the {@link Notifier} pushes it. */
    Notice notice() {
      return new Notice(id, kind, run, task, title, detail, actions, at);
    }

    /** The item as {@code /api/state} and {@code lanes status --json} show it: absent run or task as null. */
    public Map<String, Object> view() {
      Map<String, Object> view = new LinkedHashMap<>();
      view.put("id", id);
      view.put("kind", kind);
      view.put("run", run.orElse(null));
      view.put("task", task.orElse(null));
      view.put("title", title);
      view.put("detail", detail);
      view.put("actions", actions);
      view.put("at", at.toString());
      return view;
    }

    /** Whether only a person can move the run on from here: the task is parked or failed and waits for them. */
    boolean holdsRun() {
      return kind.equals(QUESTION) || kind.equals(PARKED) || kind.equals(NEEDS_HUMAN) || kind.equals(VIOLATION);
    }
  }

  /** A change: the item came ({@code added}) or left. */
  public record Change(Item item, boolean added) {}

  private final Clock clock;
  private final Duration stuckAfter;
  /** Open items by id, in the order they came; loop only. */
  private final Map<String, Item> open = new LinkedHashMap<>();
  private volatile List<Item> snapshot = List.of();
  private final List<Consumer<Change>> listeners = new CopyOnWriteArrayList<>();
  private boolean replaying;
  /** Whether a run's end leaves its items (for a reader of the whole log, which shows finished runs on request). */
  private boolean keepFinished;

  /** An inbox that only reads a log, as {@code lanes status} does: what it holds is what the decisions say. */
  public static Inbox reading(Clock clock) {
    Inbox inbox = new Inbox(clock, DEFAULT_STUCK_AFTER);
    inbox.keepFinished = true;
    return inbox;
  }

  Inbox(Clock clock, Duration stuckAfter) {
    this.clock = clock;
    this.stuckAfter = stuckAfter;
  }

  /** How long an attempt may go without progress before it is reported stuck. */
  Duration stuckAfter() {
    return stuckAfter;
  }

  /** The open items, oldest first; from any thread. */
  public List<Item> items() {
    return snapshot;
  }

  /** Hears every item that comes or leaves, on the lead's loop; a listener must not block it. */
  public void listen(Consumer<Change> listener) {
    listeners.add(listener);
  }

  /** While the log is replayed, items come and go without a word to listeners. */
  void replaying(boolean on) {
    replaying = on;
  }

  /** Forgets everything, when the lead gives up its role: the next one rebuilds the inbox from the log. */
  void forget() {
    List.copyOf(open.keySet()).forEach(this::remove);
  }

  /** Whether an item waits for a person to move run {@code run} on (see {@link Item#holdsRun}). */
  boolean holds(String run) {
    return open.values().stream().anyMatch(i -> i.holdsRun() && i.run().filter(run::equals).isPresent());
  }

  /** Takes a decision the lead recorded: a task's new state may open or settle its items; a run's end settles all. */
  public void recorded(Message message) {
    if (message instanceof TaskUpdate u) {
      task(u);
    } else if (message instanceof RunBudget b) {
      budget(b);
    } else if (message instanceof RunFinished f && !keepFinished) {
      List.copyOf(open.values()).stream().filter(i -> i.run().filter(f.run()::equals).isPresent())
          .forEach(i -> remove(i.id()));
    }
  }

  private void task(TaskUpdate u) {
    if (u.detail().startsWith(Run.REJECTED)) {
      return; // recorded with the task as it is: it changes nothing about the task
    }
    Optional<Item> wanted = itemFor(u);
    String prefix = u.run() + "/" + u.task() + "/";
    for (Item i : List.copyOf(open.values())) {
      boolean mine = i.id().contains(":" + prefix) && (i.id().startsWith(STUCK + ":") || i.holdsRun());
      boolean settled = i.id().startsWith(STUCK + ":")
          ? u.epoch() != epochOf(i) || !u.state().equals(TaskState.RUNNING) && !u.state().equals(TaskState.REVIEWING)
          : wanted.map(w -> !w.id().equals(i.id())).orElse(true);
      if (mine && settled) {
        remove(i.id());
      }
    }
    wanted.ifPresent(this::add);
  }

  private static int epochOf(Item stuck) {
    return Integer.parseInt(stuck.id().substring(stuck.id().lastIndexOf('/') + 1));
  }

  /** What a recorded state of a task asks of a person, if anything. */
  private Optional<Item> itemFor(TaskUpdate u) {
    String detail = u.detail();
    String where = u.run() + "/" + u.task() + "/" + u.epoch();
    String context = u.context().orElse("");
    if (u.state() == TaskState.PARKED && detail.startsWith(Run.ASKS)) {
      return Optional.of(item(QUESTION + ":" + where, QUESTION, u, "The agent of " + u.task() + " asks a question",
          detail.substring(Run.ASKS.length()), List.of("answer", "retry", "cancel-task")));
    } else if (detail.contains("ownership violation") && (u.state() == TaskState.PARKED
        || u.state() == TaskState.FAILED)) {
      return Optional.of(item(VIOLATION + ":" + where, VIOLATION, u, u.task() + " changed files outside its claims",
          detail, List.of("retry", "cancel-task")));
    } else if (u.state() == TaskState.PARKED && detail.startsWith(Run.SENT_BACK)) {
      return Optional.of(item(PARKED + ":" + where, PARKED, u, u.task() + " was sent back too often to land",
          detail + (context.isEmpty() ? "" : "\n\n" + context), List.of("retry", "approve", "cancel-task")));
    } else if (u.state() == TaskState.PARKED) {
      return Optional.of(item(NEEDS_HUMAN + ":" + where, NEEDS_HUMAN, u, u.task() + " cannot land without help",
          detail, List.of("retry", "cancel-task")));
    }
    return Optional.empty();
  }

  private Item item(String id, String kind, TaskUpdate u, String title, String detail, List<String> actions) {
    Item known = open.get(id);
    return known != null ? known
        : new Item(id, kind, Optional.of(u.run()), Optional.of(u.task()), title, detail, actions, clock.instant());
  }

  /**
   * The current attempt of a task made no progress for {@code quiet}: no new phase, no new output. Told once per
   * attempt by the run; settled by the next progress ({@link #progressed}) or a new state of the task.
   *
   * @param lastOutput the last thing the attempt was heard saying, for the person to judge; may be empty
   */
  void stuck(String run, String task, int epoch, String worker, Duration quiet, String lastOutput) {
    String id = STUCK + ":" + run + "/" + task + "/" + epoch;
    add(new Item(id, STUCK, Optional.of(run), Optional.of(task), "The agent of " + task + " on " + worker
        + " made no progress for " + dev.lanes.protocol.Durations.format(quiet), lastOutput.isBlank() ? "it has said nothing yet"
        : "last heard: " + lastOutput, List.of("cancel-task", "retry", DISMISS), clock.instant()));
  }

  /** The attempt of a task was heard making progress again. */
  void progressed(String run, String task, int epoch) {
    remove(STUCK + ":" + run + "/" + task + "/" + epoch);
  }

  /** A worker went silent while it held attempts: they end, and a person may want to look at the machine. */
  void workerLost(String worker, String why) {
    add(new Item(WORKER_LOST + ":" + worker, WORKER_LOST, Optional.empty(), Optional.empty(), "Worker " + worker
        + " was lost", why, List.of(DISMISS), clock.instant()));
    List<String> lost = open.values().stream().filter(i -> i.kind().equals(WORKER_LOST)).map(Item::id).toList();
    lost.subList(0, Math.max(0, lost.size() - WORKER_LOST_KEPT)).forEach(this::remove);
  }

  /**
   * A person saw item {@code id} and clears it: only an item that no recorded decision settles (a stuck agent, a
   * lost worker) may be dismissed; the others leave when what they are about is settled by an action on the task or
   * run. A dismissed item is not told again for the same attempt or the same loss.
   *
   * @throws Action.Refused when there is no such item, or it is not one a person dismisses
   */
  Item dismiss(String id) {
    Item item = open.get(id);
    if (item == null) {
      throw new Action.Refused(Action.Refused.Why.NOT_FOUND, "id: \"" + id + "\" is not an open item of the"
          + " inbox");
    }
    if (!item.actions().contains(DISMISS)) {
      throw new Action.Refused(Action.Refused.Why.CONFLICT, "id: \"" + id + "\" is a " + item.kind() + " item,"
          + " which leaves when it is settled (" + String.join(", ", item.actions()) + "), not dismissed");
    }
    remove(id);
    return item;
  }

  /** A worker was heard from again. */
  void workerBack(String worker) {
    remove(WORKER_LOST + ":" + worker);
  }

  /**
   * A run's budget decision, as the cost ledger recorded it: a pause opens an item (one for each pause, so a run
   * paused again after a raise is told again), and a decision that the run goes on settles it.
   */
  private void budget(RunBudget b) {
    String prefix = BUDGET + ":" + b.run() + "@";
    if (b.paused().isEmpty()) {
      List.copyOf(open.keySet()).stream().filter(id -> id.startsWith(prefix)).forEach(this::remove);
    } else if (open.keySet().stream().noneMatch(id -> id.startsWith(prefix))) {
      boolean daily = b.paused().get().equals(RunBudget.DAILY_BUDGET);
      add(new Item(prefix + b.at(), BUDGET, Optional.of(b.run()), Optional.empty(), "Run " + b.run() + " is paused: "
          + (daily ? "the daily budget" : "its budget") + " is reached", b.detail(),
          daily ? List.of("cancel-run") : List.of("raise-budget", "cancel-run"), clock.instant()));
    }
  }

  private void add(Item item) {
    if (open.containsKey(item.id())) {
      return;
    }
    open.put(item.id(), item);
    changed(new Change(item, true));
  }

  private void remove(String id) {
    Item gone = open.remove(id);
    if (gone != null) {
      changed(new Change(gone, false));
    }
  }

  private void changed(Change change) {
    snapshot = List.copyOf(new ArrayList<>(open.values()));
    if (!replaying) {
      listeners.forEach(l -> l.accept(change));
    }
  }
}
