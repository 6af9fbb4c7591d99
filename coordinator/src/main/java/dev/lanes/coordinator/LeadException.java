package dev.lanes.coordinator;

/** Base type of the lead's errors: a repository it cannot use, a base it cannot resolve, a target it must not move. */
public class LeadException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public LeadException(String message) {
    super(message);
  }

  public LeadException(String message, Throwable cause) {
    super(message, cause);
  }
}
