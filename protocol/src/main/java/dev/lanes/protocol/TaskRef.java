package dev.lanes.protocol;

/** Names derived from a run and a task id, in one place so that lead and workers agree on them. */
public final class TaskRef {
  private TaskRef() {}

  /**
   * The bus key of every message about a task: all of them go to one partition, in order.
   *
   * <p>On the compacted events topic, where only the latest record of each key is kept, every kind of record has a
   * namespace of its own under its run, so that no task id can take the key of another record: {@code <run>} for the
   * run's start and then its end, {@link #planKey} for its latest plan, {@code <run>/task/<id>} for each task's latest
   * state, {@link #rejectedKey} for a refused request, {@link #actionKey} for each action a person took,
   * {@link #usageKey} for each attempt's cost, {@link #budgetKey} for its budget. A run id holds no {@code /} (the lead
   * admits no other), so the namespaces cannot meet. The lead replays records by their type, not their key, so records written under earlier
   * keys replay as before.
   */
  public static String key(String run, String task) {
    return run + "/task/" + task;
  }

  /** The key of a run's plan revisions: compaction keeps the latest one next to the run's start. */
  public static String planKey(String run) {
    return run + "/plan";
  }

  /** The key of one action taken on a run ({@link ActionTaken}): each keeps its own record. */
  public static String actionKey(String run, String id) {
    return run + "/action/" + id;
  }

  /** The key of one attempt's entry in the cost ledger: one per attempt, so that compaction keeps every one. */
  public static String usageKey(String run, String task, int epoch) {
    return run + "/usage/" + task + "/e" + epoch;
  }

  /** The key of a run's budget decisions: compaction keeps the latest, the run's budget and whether it is paused. */
  public static String budgetKey(String run) {
    return run + "/budget";
  }

  /** The key of the lead's answer to a request it refused, apart from the run the request would have started. */
  public static String rejectedKey(String request) {
    return request + "/rejected";
  }

  /**
   * The branch a worker pushes an attempt to. It lives outside {@code lanes/} so that it can never clash with a
   * target branch such as {@code lanes/<plan>} (git cannot hold both {@code a} and {@code a/b} as refs).
   */
  public static String branch(String run, String task, int epoch) {
    return "lanes-work/" + run + "/" + task + "/e" + epoch;
  }
}
