package dev.lanes.protocol;

/** Names derived from a run and a task id, in one place so that lead and workers agree on them. */
public final class TaskRef {
  private TaskRef() {}

  /** The bus key of every message about a task: all of them go to one partition, in order. */
  public static String key(String run, String task) {
    return run + "/" + task;
  }

  /**
   * The branch a worker pushes an attempt to. It lives outside {@code lanes/} so that it can never clash with a
   * target branch such as {@code lanes/<plan>} (git cannot hold both {@code a} and {@code a/b} as refs).
   */
  public static String branch(String run, String task, int epoch) {
    return "lanes-work/" + run + "/" + task + "/e" + epoch;
  }
}
