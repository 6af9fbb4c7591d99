package dev.lanes.protocol;

/**
 * The lead's answer to an {@link EnrolmentRequested} it refused: worker {@code worker} introduced {@code publicKey}, but
 * the id is taken by another key (or revoked), for the reason given, which says where the id's holder last announced
 * itself from. Sent on the work topic and tagged for the holder of {@code publicKey} alone, so the refused worker can
 * tell that the lead said it, and stop instead of waiting for work that never comes; a worker that holds another key
 * for the id passes it over.
 */
public record EnrolmentRefused(String worker, String publicKey, String reason) implements Message {
  @Override
  public String key() {
    return worker;
  }
}
