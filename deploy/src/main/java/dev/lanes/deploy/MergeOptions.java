package dev.lanes.deploy;

import dev.lanes.coordinator.Lead;
import picocli.CommandLine.Option;

/** How the lead's merge queue behaves: the options {@code lanes run} and {@code lanes coordinator} share. */
final class MergeOptions {
  @Option(names = "--max-evictions", defaultValue = "" + Lead.Settings.DEFAULT_EVICTIONS, paramLabel = "N",
      description = "Times a task's work may be sent back (evicted from the merge queue, or changes requested by a"
          + " review) before it is parked as needing a human (default: ${DEFAULT-VALUE}); each fix is also one of"
          + " --max-attempts.")
  int maxEvictions = Lead.Settings.DEFAULT_EVICTIONS;

  @Option(names = "--merge-window", defaultValue = "" + Lead.Settings.DEFAULT_WINDOW, paramLabel = "N",
      description = "Merge-queue entries verified at once on their merged trees, speculatively (default:"
          + " ${DEFAULT-VALUE}).")
  int mergeWindow = Lead.Settings.DEFAULT_WINDOW;

  Lead.Settings applyTo(Lead.Settings settings) {
    return settings.withMerging(maxEvictions, mergeWindow);
  }
}
