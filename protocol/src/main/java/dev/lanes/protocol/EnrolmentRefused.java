package dev.lanes.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Optional;

/**
 * The lead's answer to an {@link EnrolmentRequested} it refused: worker {@code worker} introduced {@code publicKey}, but
 * the id is taken by another key (or revoked), for the reason given, which says where the id's holder last announced
 * itself from. Sent on the work topic and tagged for the holder of {@code publicKey} alone, so the refused worker can
 * tell that the lead said it, and stop instead of waiting for work that never comes; a worker that holds another key
 * for the id passes it over.
 *
 * <p>The lead sends it too to a second worker process that uses an id another one serves under, told apart by
 * {@code instance} (see {@link WorkerStatus.Instance}) where keys cannot tell them apart: only that instance stops.
 *
 * @param instance the refused worker process, when the refusal is for one instance rather than for a key
 */
public record EnrolmentRefused(String worker, String publicKey, String reason,
    @JsonInclude(JsonInclude.Include.NON_ABSENT) Optional<String> instance) implements Message {
  public EnrolmentRefused {
    instance = instance == null ? Optional.empty() : instance;
  }

  /** A refusal of a key. */
  public EnrolmentRefused(String worker, String publicKey, String reason) {
    this(worker, publicKey, reason, Optional.empty());
  }

  @Override
  public String key() {
    return worker;
  }
}
