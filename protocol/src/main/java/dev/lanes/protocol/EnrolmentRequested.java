package dev.lanes.protocol;

/**
 * A worker asks the lead to know it by a key of its own: {@code publicKey} is the worker's X25519 public key (X.509,
 * base64). The record proves twice who sent it: it carries a tag under the fleet's enrolment secret (so only a holder
 * of {@code worker.properties} can enrol) and a tag under the key agreed from this very public key (so the sender holds
 * the private half). The first key enrolled under an id is the one the lead keeps; a second key for the same id is
 * refused. Sent by a worker each time it announces itself, so a lead that never recorded it learns it again.
 */
public record EnrolmentRequested(String worker, String publicKey) implements Message {
  @Override
  public String key() {
    return worker;
  }
}
