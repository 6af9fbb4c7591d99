package dev.lanes.protocol;

import java.util.Optional;

/**
 * A person asked the lead to act on a run (cancel, retry, answer, approve, pause, resume, raise its budget) and the
 * lead took the action: its decision, recorded before it takes effect, naming who asked.
 *
 * @param id random, unique to this action: every action keeps a record of its own on the compacted log
 * @param task the task acted on; empty for an action on the whole run
 * @param action the kind of action ({@code cancel-task}, {@code cancel-run}, {@code retry}, {@code answer},
 *     {@code approve}, {@code pause}, {@code resume}, {@code raise-budget})
 * @param by who asked: {@code http} for the lead's HTTP API, else the principal of the party that sent the request
 * @param detail what the action carries or did, in words (the answer's text, the new budget, the reason)
 * @param at when the lead took it, an ISO-8601 instant in UTC
 */
public record ActionTaken(String id, String run, Optional<String> task, String action, String by, String detail,
    String at) implements Message {
  public ActionTaken {
    task = task == null ? Optional.empty() : task;
  }

  @Override
  public String key() {
    return TaskRef.actionKey(run, id);
  }
}
