package dev.lanes.protocol;

/**
 * The lead's record that {@code worker} speaks with {@code publicKey} (X25519, X.509, base64) from now on, or, when
 * {@code revoked}, that it may not speak at all. A lead rebuilds the set of workers it believes by replaying these
 * records; keyed by {@code worker:ID}, so compaction keeps the latest word on each worker and no run or task key can
 * collide with it.
 */
public record WorkerEnrolled(String worker, String publicKey, boolean revoked) implements Message {
  @Override
  public String key() {
    return "worker:" + worker;
  }
}
