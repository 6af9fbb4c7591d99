package dev.lanes.deploy;

import dev.lanes.bus.Envelope;
import dev.lanes.bus.MessageKeys;
import java.io.PrintWriter;
import java.util.Map;
import java.util.Optional;
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

  /**
   * How a command's messages are signed and checked: with the keys in the {@code lanes.*} properties of its client file
   * (see {@link MessageKeys}), as worker {@code workerId} with its own key kept in {@code workerDir} when it is a worker.
   * Without keys the command runs unsigned and says so loudly: it then believes anyone who reaches the broker, and a
   * lead that signs refuses what it sends.
   */
  static Envelope envelope(Map<String, String> lanes, Optional<String> workerId, Optional<Path> workerDir,
      PrintWriter err) {
    Optional<MessageKeys> keys = MessageKeys.of(lanes);
    if (keys.isEmpty()) {
      err.println("lanes: WARNING: no message keys (lanes.* properties of the client file from lanes broker): this"
          + " party's messages are NOT signed, and it believes any record anyone writes to the topics");
      err.flush();
      return Envelope.unsigned();
    }
    if (workerId.isPresent()) {
      keys.get().withWorkerKey(workerId.get(), workerDir.orElseThrow());
    }
    return Envelope.of(keys.get());
  }

  /**
   * Returns once the cluster answers, within {@code --timeout}; else closes {@code bus} and throws, so that a daemon
   * started against a wrong address says so in one line instead of whichever of its first calls times out.
   */
  static void awaitReachable(dev.lanes.bus.KafkaBus bus) {
    try {
      bus.awaitReachable();
    } catch (RuntimeException e) {
      bus.close();
      throw e;
    }
  }

  /** Runs until the process is asked to stop (Ctrl-C, SIGTERM), then closes {@code resource} and says so. */
  static int runUntilStopped(AutoCloseable resource, String what, PrintWriter out) {
    return runUntilStopped(resource, what, out, new java.util.concurrent.CompletableFuture<>(), out);
  }

  /**
   * The same, or until {@code refused} completes with why the daemon may not go on: then it says so on {@code err},
   * closes {@code resource} and returns {@link Main#BAD_INPUT}.
   */
  static int runUntilStopped(AutoCloseable resource, String what, PrintWriter out,
      java.util.concurrent.CompletableFuture<String> refused, PrintWriter err) {
    CountDownLatch stopped = new CountDownLatch(1);
    refused.thenRun(stopped::countDown);
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
    if (refused.isDone() && removed(hook)) {
      err.println("lanes: " + refused.join());
      err.flush();
      hook.run(); // closes the resource here, as the hook would have
      return Main.BAD_INPUT;
    }
    return Main.OK;
  }

  private static boolean removed(Thread hook) {
    try {
      return Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      return false; // the JVM is stopping: the hook closes the resource
    }
  }
}
