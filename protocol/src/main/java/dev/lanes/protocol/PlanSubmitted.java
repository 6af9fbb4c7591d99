package dev.lanes.protocol;

/**
 * A client asks the lead to run a plan ({@code lanes submit}). The lead answers with {@link RunStarted} or
 * {@link PlanRejected}, both naming the same {@code request}.
 */
public record PlanSubmitted(String request, Plan definition, String submitter) implements Message {
  @Override
  public String key() {
    return request;
  }
}
