package dev.lanes.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Optional;

/**
 * The lead changed a task's state: its decision, recorded before it takes effect. {@code detail} says why in words,
 * for people watching the run.
 *
 * @param base the commit the current attempt starts from, once offered
 * @param commit the commit being landed or landed; for a task under review or in the merge queue, its worker's commit
 * @param context what the lead adds to the task's prompt for the current attempt (why the last one was sent back: the
 *     conflict, the failing verify output, the reviewer's requests); absent when nothing is added
 * @param tally the task's counts so far, so that a lead that restarts keeps them; absent in records from before it
 *     was added, and then read as all zero
 */
public record TaskUpdate(String run, String task, TaskState state, int epoch, String worker, String detail,
    Optional<String> base, Optional<String> commit,
    @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<String> context,
    @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<Tally> tally) implements Message {
  public TaskUpdate {
    base = base == null ? Optional.empty() : base;
    commit = commit == null ? Optional.empty() : commit;
    context = context == null ? Optional.empty() : context;
    tally = tally == null ? Optional.empty() : tally;
  }

  /** A change of state that carries no prompt context and no counts. */
  public TaskUpdate(String run, String task, TaskState state, int epoch, String worker, String detail,
      Optional<String> base, Optional<String> commit) {
    this(run, task, state, epoch, worker, detail, base, commit, Optional.empty(), Optional.empty());
  }

  @Override
  public String key() {
    return TaskRef.key(run, task);
  }

  /**
   * What the lead counts per task.
   *
   * @param failures attempts that failed (agent, verify, lease, ownership)
   * @param sentBack times its work was sent back: evicted from the merge queue, or changes requested by a review
   * @param verifyRetries attempts given again because the verify command failed, with its output in the prompt
   * @param writer the worker whose commit is under review or in the queue; a review goes to another worker
   * @param attempts attempts started, whatever caused them, the one {@code --max-attempts} bounds; 0 in records from
   *     before it was counted
   * @param causes what started each attempt, in order ({@code "first"}, {@code "after a failure"}, …)
   */
  public record Tally(int failures, int sentBack, int verifyRetries, String writer, int attempts,
      List<String> causes) {
    public static final Tally NONE = new Tally(0, 0, 0, "");

    public Tally {
      causes = causes == null ? List.of() : List.copyOf(causes);
    }

    /** A tally from before attempts were counted. */
    public Tally(int failures, int sentBack, int verifyRetries, String writer) {
      this(failures, sentBack, verifyRetries, writer, 0, List.of());
    }
  }
}
