package dev.lanes.protocol;

/**
 * The lead refused what a client asked of a run (a {@link BudgetRequested}); nothing changed. Recorded under the
 * request's own key, apart from the run's records, for the client that waits for its answer.
 *
 * @param action what was asked, such as {@code raise-budget}
 * @param reason why not, naming the field, the value and the rule
 */
public record ActionRefused(String request, String run, String action, String reason) implements Message {
  @Override
  public String key() {
    return TaskRef.rejectedKey(request);
  }
}
