package dev.lanes.git;

/**
 * Something git could not do: a command that failed, timed out or could not start, an object or ref JGit could not
 * read. The base of every exception of this module; the message says what was asked, where, and what git said.
 */
public class GitException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public GitException(String message) {
    super(message);
  }

  public GitException(String message, Throwable cause) {
    super(message, cause);
  }
}
