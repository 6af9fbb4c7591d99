package dev.lanes.protocol;

/** A worker with a free slot asks for an offered task; the lead grants the first valid claim. */
public record ClaimRequested(String run, String task, int epoch, String worker) implements Message {
  @Override
  public String key() {
    return TaskRef.key(run, task);
  }
}
