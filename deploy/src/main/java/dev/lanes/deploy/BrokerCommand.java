package dev.lanes.deploy;

import dev.lanes.bus.EmbeddedBroker;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code lanes broker}: the embedded Kafka broker as a process of its own. */
@Command(
    name = "broker",
    mixinStandardHelpOptions = true,
    description = {
      "Runs a single-node Kafka broker for Lanes until stopped.",
      "",
      "The broker (KRaft, in this process) keeps its data in --dir across restarts. For other machines to reach it, give --host an address they can connect to."
    })
final class BrokerCommand implements Callable<Integer> {
  @Option(names = "--port", defaultValue = "9092", description = "Port for Kafka clients (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
  String host;

  @Option(names = "--dir", paramLabel = "DIR", description = "Data directory (default: ~/.local/state/lanes/broker).")
  Path dir;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("--port: " + port + " is not a port number (1-65535)");
    }
    PrintWriter out = spec.commandLine().getOut();
    Path data = dir != null ? dir.toAbsolutePath() : Daemons.stateDir("broker");
    EmbeddedBroker broker = EmbeddedBroker.start(data, host, port);
    out.println("Kafka broker for Lanes on " + broker.bootstrapServers() + ", data in " + data + " (Ctrl-C stops it)");
    out.flush();
    return Daemons.runUntilStopped(broker, "broker", out);
  }
}
