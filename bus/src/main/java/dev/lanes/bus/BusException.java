package dev.lanes.bus;

/** The bus failed: the broker cannot be reached, a topic cannot be created, a publish was not acknowledged. */
public class BusException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public BusException(String message, Throwable cause) {
    super(message, cause);
  }
}
