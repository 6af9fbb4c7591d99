package dev.lanes.deploy;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Help.ColorScheme;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code lanes help [COMMAND [SUBCOMMAND...]]}: the usage of the command the path names. picocli's own help command
 * reads one name only, so {@code lanes help credentials add-worker} showed the help of {@code credentials} and took
 * any word after it without a complaint; this one follows the whole path and refuses a name it does not know.
 */
@Command(
    name = "help",
    helpCommand = true,
    description = {
      "Shows the help of COMMAND, or of this command without one.",
      "",
      "A path of names reaches a subcommand: lanes help credentials add-worker.",
      "",
      "Exit 0 when the help was shown, 2 for bad input (a COMMAND that does not exist)."
    })
final class HelpCommand implements CommandLine.IHelpCommandInitializable2, Runnable {
  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
  boolean help;

  @Parameters(paramLabel = "COMMAND", arity = "0..*",
      description = "The command whose help to show, followed by the names of its subcommands down to the one meant.")
  List<String> path = new ArrayList<>();

  private CommandLine self;
  private PrintWriter out;
  private ColorScheme colors;

  @Override
  public void init(CommandLine helpCommandLine, ColorScheme colorScheme, PrintWriter out, PrintWriter err) {
    this.self = helpCommandLine;
    this.colors = colorScheme;
    this.out = out;
  }

  @Override
  public void run() {
    CommandLine shown = self.getParent();
    for (String name : path) {
      CommandLine next = shown.getSubcommands().get(name);
      if (next == null) {
        List<String> known = shown.getSubcommands().keySet().stream().filter(n -> !n.equals("help")).toList();
        throw new CommandLine.ParameterException(shown, "COMMAND: \"" + name + "\" is not a command of "
            + shown.getCommandSpec().qualifiedName() + (known.isEmpty() ? ", which has none"
                : " (its commands: " + String.join(", ", known) + ")"));
      }
      shown = next;
    }
    shown.usage(out, colors);
  }
}
