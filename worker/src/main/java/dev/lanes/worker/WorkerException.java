package dev.lanes.worker;

/** Base type of the worker's errors. {@link Retryable} marks those worth another attempt. */
public class WorkerException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public WorkerException(String message) {
    super(message);
  }

  public WorkerException(String message, Throwable cause) {
    super(message, cause);
  }

  /** A failure of the environment rather than of the task (a remote that did not answer, a lock held). */
  public static final class Retryable extends WorkerException {
    private static final long serialVersionUID = 1L;

    public Retryable(String message) {
      super(message);
    }
  }
}
