package dev.lanes.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Optional;

/**
 * The lead offers one attempt ({@code epoch}) at a task to every worker. It holds everything a worker needs to run
 * the task without reading the plan: the exact commit to start from and the branch to push the result to.
 *
 * @param verify the shell command that decides whether the task passed; empty when the plan has none
 * @param preferred the idle worker the lead expects to claim this offer; other workers hold back their claims for a
 *     moment, so that one offer does not draw a claim from every idle worker. Any claim still wins if it comes first.
 * @param review present when this attempt reviews another worker's work rather than doing the task: the worktree
 *     starts at {@code baseCommit}, the commit under review, and nothing the reviewing agent changes is kept
 */
public record TaskOffered(
    String run,
    String plan,
    String task,
    int epoch,
    String title,
    String prompt,
    List<String> owns,
    List<String> requires,
    AgentSpec agent,
    Optional<String> verify,
    String baseCommit,
    String branch,
    Optional<String> preferred,
    @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<Review> review)
    implements Message {
  public TaskOffered {
    owns = List.copyOf(owns);
    requires = List.copyOf(requires);
    preferred = preferred == null ? Optional.empty() : preferred; // absent in messages from older leads
    review = review == null ? Optional.empty() : review;
  }

  /** An offer to do the task (not to review it). */
  public TaskOffered(String run, String plan, String task, int epoch, String title, String prompt, List<String> owns,
      List<String> requires, AgentSpec agent, Optional<String> verify, String baseCommit, String branch,
      Optional<String> preferred) {
    this(run, plan, task, epoch, title, prompt, owns, requires, agent, verify, baseCommit, branch, preferred,
        Optional.empty());
  }

  /**
   * What a review attempt looks at.
   *
   * @param writer the worker that wrote the change; it does not review its own work
   * @param since the commit the change started from: the review reads {@code since..baseCommit}
   */
  public record Review(String writer, String since) {}

  @Override
  public String key() {
    return TaskRef.key(run, task);
  }
}
