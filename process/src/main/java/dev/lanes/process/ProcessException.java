package dev.lanes.process;

/** A child process could not be started or waited for; the message names the program and the directory. */
public final class ProcessException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ProcessException(String message) {
    super(message);
  }

  public ProcessException(String message, Throwable cause) {
    super(message, cause);
  }
}
