package dev.lanes.deploy;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/** What the daemon commands share: where their state lives by default, and how they wait to be stopped. */
final class Daemons {
  private Daemons() {}

  /** {@code $XDG_STATE_HOME/lanes/<name>}, else {@code ~/.local/state/lanes/<name>}. */
  static Path stateDir(String name) {
    String xdg = System.getenv("XDG_STATE_HOME");
    Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".local", "state");
    return base.resolve("lanes").resolve(name);
  }

  /** Runs until the process is asked to stop (Ctrl-C, SIGTERM), then closes {@code resource} and says so. */
  static int runUntilStopped(AutoCloseable resource, String what, PrintWriter out) {
    CountDownLatch stopped = new CountDownLatch(1);
    Thread hook = new Thread(() -> {
      try {
        resource.close();
      } catch (Exception e) {
        System.err.println("lanes: stopping " + what + ": " + e);
      }
      out.println(what + " stopped");
      out.flush();
      stopped.countDown();
    }, "lanes-stop");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      stopped.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return Main.OK;
  }
}
