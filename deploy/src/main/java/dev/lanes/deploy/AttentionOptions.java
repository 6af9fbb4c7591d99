package dev.lanes.deploy;

import dev.lanes.coordinator.Lead;
import dev.lanes.coordinator.Notifier;
import dev.lanes.protocol.Durations;
import java.util.Optional;
import picocli.CommandLine.Option;

/** How the lead reaches a person: the options {@code lanes run} and {@code lanes coordinator} share. */
final class AttentionOptions {
  @Option(names = "--notify-command", paramLabel = "COMMAND",
      description = "Run this command for each new item of the inbox (a question, a parked task, a stuck agent, a lost"
          + " worker, a budget reached), with the item as JSON on its standard input; split into arguments at spaces,"
          + " '...' and \"...\" keep spaces, never run by a shell. Each item is sent once, at a bounded rate. While"
          + " notifications are on, a run whose tasks wait for a person stays open until they are settled.")
  String notifyCommand;

  @Option(names = "--webhook", paramLabel = "URL",
      description = "POST each new item of the inbox as JSON to this http(s) URL; once per item, at a bounded rate.")
  String webhook;

  @Option(names = "--stuck-after", paramLabel = "DURATION", defaultValue = "10m",
      description = "An attempt that makes no progress (no new phase, no new output) for this long is reported stuck"
          + " in the inbox (default: ${DEFAULT-VALUE}).")
  String stuckAfter;

  Lead.Attention attention() {
    return Lead.Attention.of(Notifier.Settings.parse(Optional.ofNullable(notifyCommand), Optional.ofNullable(webhook)),
        Durations.parse("--stuck-after", stuckAfter));
  }
}
