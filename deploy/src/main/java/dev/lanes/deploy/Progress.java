package dev.lanes.deploy;

import dev.lanes.bus.Bus;
import dev.lanes.coordinator.RunReport;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.RunFinished;
import dev.lanes.protocol.RunStarted;
import dev.lanes.protocol.TaskState;
import dev.lanes.protocol.TaskUpdate;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;

/**
 * Prints a run as it happens, one line per state change, read from the lead's events topic (what {@code lanes status}
 * sees too), and a summary table at the end.
 */
final class Progress implements Bus.Listener {
  private final PrintWriter out;
  private final String run;
  private final long start = System.nanoTime();

  Progress(PrintWriter out, String run) {
    this.out = out;
    this.run = run;
  }

  @Override
  public void onMessage(Message message) {
    if (message instanceof TaskUpdate u && u.run().equals(run)) {
      line(String.format(Locale.ROOT, "%-14s %-9s %s", u.task(), u.state().toString().toLowerCase(Locale.ROOT),
          u.detail()));
    } else if (message instanceof RunStarted s && s.run().equals(run)) {
      line("run " + s.run() + ": " + s.tasks().size() + " tasks from " + s.baseCommit().substring(0, 10) + " to "
          + s.target());
    } else if (message instanceof RunFinished f && f.run().equals(run)) {
      line("run finished: " + f.landed().size() + " landed, " + f.failed().size() + " not");
    }
  }

  private synchronized void line(String text) {
    double seconds = (System.nanoTime() - start) / 1e9;
    out.printf(Locale.ROOT, "%7.1fs  %s%n", seconds, text);
    out.flush();
  }

  /** The table printed when the run is over. */
  static void summary(PrintWriter out, RunReport report) {
    out.println();
    String format = "%-14s %-9s %-8s %5s %8s  %-10s  %s%n";
    out.printf(Locale.ROOT, format, "TASK", "STATE", "WORKER", "TRIES", "TIME", "COMMIT", "DETAIL");
    for (RunReport.Row row : report.tasks()) {
      out.printf(Locale.ROOT, format, row.task(), row.state().toString().toLowerCase(Locale.ROOT),
          row.worker().isEmpty() ? "-" : row.worker(), row.attempts(), seconds(row.elapsed()),
          row.commit().isEmpty() ? "-" : row.commit(), row.detail());
    }
    long landed = report.tasks().stream().filter(r -> r.state() == TaskState.LANDED).count();
    out.printf(Locale.ROOT, "%n%d of %d tasks landed on %s (at %s) in %s%n", landed, report.tasks().size(),
        report.target(), report.targetCommit().isEmpty() ? "-" : report.targetCommit().substring(0, 10),
        seconds(report.elapsed()));
  }

  private static String seconds(Duration d) {
    return String.format(Locale.ROOT, "%.1fs", d.toMillis() / 1000.0);
  }
}
