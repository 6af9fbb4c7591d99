package dev.lanes.protocol;

/**
 * Base type of every error raised by the protocol module: an invalid plan, claim or message.
 * Its message always names the field, the value and the rule that was broken.
 */
public class ProtocolException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ProtocolException(String message) {
    super(message);
  }

  public ProtocolException(String message, Throwable cause) {
    super(message, cause);
  }
}
