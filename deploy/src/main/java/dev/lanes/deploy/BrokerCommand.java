package dev.lanes.deploy;

import dev.lanes.bus.BrokerDir;
import dev.lanes.bus.ClientFiles;
import dev.lanes.bus.EmbeddedBroker;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code lanes broker}: the embedded Kafka broker as a process of its own, secured unless told otherwise. */
@Command(
    name = "broker",
    mixinStandardHelpOptions = true,
    description = {
      "Runs a single-node Kafka broker for Lanes until stopped.",
      "",
      "The broker (KRaft, in this process) keeps its data in --dir across restarts. For other machines to reach it, give --host an address they can connect to.",
      "",
      "It is secured: on first start it makes a CA, a certificate for --host, and a password for each role (lead, worker, submit), listens with SASL_SSL (SCRAM-SHA-512), lets each role do only what it needs, and writes a client file per role to DIR/clients/ for --kafka-config. Later starts reuse them. --insecure listens in plaintext with no credentials instead.",
      "",
      "Exit 0 when stopped (Ctrl-C, SIGTERM), 1 when it could not start (a port in use, a broken DIR), 2 for bad input."
    })
final class BrokerCommand implements Callable<Integer> {
  @Option(names = "--port", paramLabel = "PORT", defaultValue = "9092", description = "Port for Kafka clients (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--host", paramLabel = "HOST", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
  String host;

  @Option(names = "--dir", paramLabel = "DIR", description = "Data directory (default: ~/.local/state/lanes/broker).")
  Path dir;

  @Option(names = "--insecure",
      description = "Plaintext, no credentials, no ACLs: anyone who reaches the port can read and write every topic.")
  boolean insecure;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("--port: " + port + " is not a port number (1-65535)");
    }
    PrintWriter out = spec.commandLine().getOut();
    Path data = dir != null ? dir.toAbsolutePath() : Daemons.stateDir("broker");
    if (insecure) {
      PrintWriter err = spec.commandLine().getErr();
      err.println("lanes: WARNING: --insecure: this broker accepts anyone who reaches " + host + ":" + port
          + " with no credentials; any process that can connect can submit plans, forge grants and results, and "
          + "read every task. Use it only on a network you fully trust.");
      err.flush();
      EmbeddedBroker broker = EmbeddedBroker.start(data, host, port);
      out.println("Kafka broker for Lanes on " + broker.bootstrapServers() + " (INSECURE: plaintext, no credentials)"
          + ", data in " + data + " (Ctrl-C stops it)");
      out.flush();
      return Daemons.runUntilStopped(broker, "broker", out);
    }
    // Said at once: a secured start takes from seconds to a minute (keys on its first start, TLS and SCRAM for its
    // admin client on every start), and a terminal that shows nothing for that long looks hung.
    out.println("Starting the Kafka broker for Lanes in " + data + " (a first start also makes its keys, certificates"
        + " and client files; on a busy machine this takes up to a minute)...");
    out.flush();
    long start = System.nanoTime();
    BrokerDir secured = BrokerDir.open(data, host);
    long keys = System.nanoTime();
    EmbeddedBroker broker = EmbeddedBroker.startSecure(secured, host, port);
    out.println("Kafka broker for Lanes on " + broker.bootstrapServers() + " (SASL_SSL), data in " + data
        + " (Ctrl-C stops it); ready in " + (System.nanoTime() - start) / 1_000_000 + " ms (keys and certificates "
        + (keys - start) / 1_000_000 + " ms)");
    out.println("Client files (give one to each party with --kafka-config; keep them secret):");
    for (String role : new String[] {"lead", "worker", "submit"}) {
      out.println("  " + role + ": " + ClientFiles.path(secured.path(), role));
    }
    out.flush();
    return Daemons.runUntilStopped(broker, "broker", out);
  }
}
