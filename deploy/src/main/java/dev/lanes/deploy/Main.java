package dev.lanes.deploy;

import dev.lanes.bus.BusException;
import dev.lanes.coordinator.LeadException;
import dev.lanes.protocol.ProtocolException;
import dev.lanes.protocol.Redactor;
import java.io.PrintStream;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code lanes} command line. Exit codes: 0 all went well, 1 the work failed (or conflicts were found),
 * 2 bad input or usage.
 */
@Command(
    name = "lanes",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = {
      "Coordinates a team of coding agents working on one repository in parallel.",
      "",
      "lanes help COMMAND (or lanes COMMAND --help) shows a command's options. Every command exits 0 when all went well,"
          + " 1 when the work failed or Kafka did not answer, and 2 for bad input or usage."
    },
    subcommands = {RunCommand.class, CheckCommand.class, DemoCommand.class, BrokerCommand.class,
        CoordinatorCommand.class, WorkerCommand.class, SubmitCommand.class, StatusCommand.class, CostCommand.class,
        BudgetCommand.class, CredentialsCommand.class, WatchCommand.class, LogsCommand.class,
        BenchCommand.class, GcCommand.class, HelpCommand.class})
public final class Main implements Runnable {
  static final int OK = 0;
  static final int FAILED = 1;
  static final int BAD_INPUT = 2;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    // First, before anything prints or logs: whatever this process writes leaves it redacted.
    System.setOut(new PrintStream(Redactor.redacting(System.out, Redactor::process), true));
    System.setErr(new PrintStream(Redactor.redacting(System.err, Redactor::process), true));
    String level = System.getenv("LANES_LOG");
    if (level != null && !level.isBlank()) {
      System.setProperty("org.slf4j.simpleLogger.log.dev.lanes", level);
    }
    directJit(args);
    System.exit(execute(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
  }

  /** Directs the JIT as the command in {@code args} runs: see {@link Jit}. */
  static void directJit(String... args) {
    if (args.length > 0) {
      Jit.forCommand(args[0]);
    }
  }

  /** Runs one command line with the given streams; the return value is the exit code. */
  static int execute(PrintWriter out, PrintWriter err, String... args) {
    CommandLine cl = new CommandLine(new Main());
    cl.setOut(out);
    cl.setErr(err);
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
      if (e instanceof ProtocolException || e instanceof LeadException || e instanceof IllegalArgumentException
          || e instanceof dev.lanes.worker.WorkerException) {
        err.println("lanes: " + e.getMessage());
        return BAD_INPUT;
      } else if (e instanceof BusException) {
        err.println("lanes: " + e.getMessage());
        return FAILED;
      } else if (e instanceof org.apache.kafka.common.KafkaException) {
        // A call the bus did not translate: still one line, not Kafka's stack.
        err.println("lanes: Kafka: " + e.getMessage());
        return FAILED;
      }
      throw e;
    });
    return cl.execute(args);
  }

  @Override
  public void run() {
    // No command is a usage error like any other: the usage goes to standard error, and the exit code says so.
    throw new CommandLine.ParameterException(spec.commandLine(), "lanes: which command? (lanes help lists them)");
  }

  /** Reads the version from the jar's manifest. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"lanes " + (v == null ? "(development build)" : v)};
    }
  }
}
