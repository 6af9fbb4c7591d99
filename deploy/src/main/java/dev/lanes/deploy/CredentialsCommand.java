package dev.lanes.deploy;

import dev.lanes.bus.BrokerDir;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code lanes credentials}: per-worker principals of a running secured {@code lanes broker}. */
@Command(
    name = "credentials",
    mixinStandardHelpOptions = true,
    description = "Manages the per-worker credentials of a running lanes broker, with the admin password kept in its --dir.",
    subcommands = {CredentialsCommand.AddWorker.class, CredentialsCommand.Revoke.class,
        HelpCommand.class})
final class CredentialsCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** What both subcommands take: a worker id and the broker's directory. */
  static final class WorkerOptions {
    @Parameters(paramLabel = "ID", description = "The worker's id (letters, digits, '.', '_', '-').")
    String id;

    @Option(names = "--dir", paramLabel = "DIR", description = "The broker's directory (default: ~/.local/state/lanes/broker).")
    Path dir;

    /** The broker's directory, once the id is known to be one. */
    BrokerDir broker() {
      BrokerDir.workerPrincipal(id);
      return BrokerDir.existing(dir != null ? dir.toAbsolutePath() : Daemons.stateDir("broker"));
    }
  }

  @Command(
      name = "add-worker",
      mixinStandardHelpOptions = true,
      description = {
        "Makes the principal worker-ID with the workers' rights and writes DIR/clients/worker-ID.properties for it.",
        "",
        "Adding an ID again gives it a new password.",
        "",
        "Exit 0 when the file was written, 1 when the broker did not answer, 2 for bad input (an ID that is not one,"
            + " a DIR that is not a broker's)."
      })
  static final class AddWorker implements Callable<Integer> {
    @picocli.CommandLine.Mixin WorkerOptions worker;

    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      Path file = worker.broker().addWorker(worker.id);
      spec.commandLine().getOut().println("worker-" + worker.id + ": " + file);
      return Main.OK;
    }
  }

  @Command(
      name = "revoke",
      mixinStandardHelpOptions = true,
      description = {
        "Deletes the credential of worker-ID, its ACLs and its client file.",
        "",
        "It can no longer connect, and a connection it holds may do nothing more.",
        "",
        "Exit 0 when revoked, 1 when ID had no credential or the broker did not answer, 2 for bad input (an ID that"
            + " is not one, a DIR that is not a broker's)."
      })
  static final class Revoke implements Callable<Integer> {
    @picocli.CommandLine.Mixin WorkerOptions worker;

    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      boolean known = worker.broker().revokeWorker(worker.id);
      spec.commandLine().getOut().println(known ? "worker-" + worker.id + " revoked" : "worker-" + worker.id
          + " had no credential; its ACLs and client file, if any, are gone");
      return known ? Main.OK : Main.FAILED;
    }
  }
}
