package dev.lanes.coordinator;

import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One thing that needs a person, as it is pushed out by the {@link Notifier}: the fields of an inbox item in
 * {@code /api/state} ({@code id, kind, run, task, title, detail, actions, at}), so an inbox item maps onto it one field
 * to one field. The id is what makes a notice once-only: the same id is never notified twice.
 *
 * @param kind what happened: {@code question}, {@code parked}, {@code needs-human}, {@code budget}, {@code violation},
 *     {@code stuck}, {@code worker-lost}; {@code more} for the notice that stands for items the rate limit held back
 * @param run the run it concerns, if any (a lost worker may have none)
 * @param task the task it concerns, if any (a budget concerns a run)
 * @param actions what the person can do about it ({@code answer}, {@code approve}, {@code retry}, ...)
 */
public record Notice(String id, String kind, Optional<String> run, Optional<String> task, String title, String detail,
    List<String> actions, Instant at) {
  public Notice {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(run, "run");
    Objects.requireNonNull(task, "task");
    Objects.requireNonNull(title, "title");
    Objects.requireNonNull(detail, "detail");
    Objects.requireNonNull(at, "at");
    actions = List.copyOf(actions);
    if (id.isBlank()) {
      throw new IllegalArgumentException("id: a notice needs an id, the key it is sent once by");
    }
  }
}
