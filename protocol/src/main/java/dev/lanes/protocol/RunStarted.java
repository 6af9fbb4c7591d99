package dev.lanes.protocol;

import java.util.List;
import java.util.Optional;

/**
 * The lead accepted a plan and started a run of it: what it will land, where, and starting from which commit.
 *
 * @param definition the whole plan as the lead runs it (with any ordering the ownership check added), so that a lead
 *     that restarts can rebuild the run from its log; empty only in records from before it was added
 * @param startedAt when the run started (ISO-8601): since when it holds its target
 * @param holder which process holds the target for the run, on which host, and who asked for it; the log records it
 *     so that a second run on the same target is refused by name, by this lead or the next one
 */
public record RunStarted(String run, String plan, String target, String baseCommit, List<String> tasks,
    Optional<Plan> definition, Optional<String> startedAt, Optional<String> holder) implements Message {
  public RunStarted {
    tasks = List.copyOf(tasks);
    definition = definition == null ? Optional.empty() : definition;
    startedAt = startedAt == null ? Optional.empty() : startedAt;
    holder = holder == null ? Optional.empty() : holder;
  }

  /** A start that does not say when or by whom, as records from before those fields were added. */
  public RunStarted(String run, String plan, String target, String baseCommit, List<String> tasks,
      Optional<Plan> definition) {
    this(run, plan, target, baseCommit, tasks, definition, Optional.empty(), Optional.empty());
  }

  /** The longest holder a run records; a longer one is cut ({@link #holderOf}). */
  public static final int MAX_HOLDER = 1024;

  /** {@code text} as a run's holder: cut to {@link #MAX_HOLDER} characters, since part of it may come from the wire. */
  public static String holderOf(String text) {
    return text.length() > MAX_HOLDER ? text.substring(0, MAX_HOLDER - 3) + "..." : text;
  }

  /**
   * The size on the bus of the record that starts a run of {@code plan}, with room for the longest run id, base
   * commit, start time and holder a run may have: what must fit in {@link Json#MAX_MESSAGE_BYTES}.
   */
  public static int recordedSize(Plan plan) {
    List<String> ids = plan.tasks().stream().map(Plan.Task::id).toList();
    return Json.encode(new RunStarted("r".repeat(128), plan.name(), plan.target(), "0".repeat(64), ids,
        Optional.of(plan), Optional.of("2026-01-01T00:00:00.000000000+00:00"), Optional.of("h".repeat(MAX_HOLDER)))).length;
  }

  @Override
  public String key() {
    return run;
  }
}
