package dev.lanes.git;

import java.util.List;

/** A git command ran and exited with a code other than the ones its caller expects; git's own message is kept. */
public final class GitCommandException extends GitException {
  private static final long serialVersionUID = 1L;
  private final List<String> args;
  private final int exit;
  private final String stderr;

  GitCommandException(List<String> args, java.nio.file.Path dir, int exit, String stderr) {
    super("git " + String.join(" ", args) + " failed in " + dir + " (exit " + exit + ")"
        + (stderr.isBlank() ? "" : ": " + stderr.strip()));
    this.args = List.copyOf(args);
    this.exit = exit;
    this.stderr = stderr;
  }

  /** The arguments after {@code git} and the options the layer adds. */
  public List<String> args() {
    return args;
  }

  public int exit() {
    return exit;
  }

  /** What git printed on standard error (its last 64 KiB). */
  public String stderr() {
    return stderr;
  }
}
