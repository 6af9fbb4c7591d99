package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.protocol.Durations;
import dev.lanes.protocol.ProtocolException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Every command's help speaks with one voice: the same placeholder for the same thing, a duration wherever time is
 * given, the exit codes, whole sentences; and {@code lanes help PATH} is the help of the command the path names.
 */
class HelpTest {
  /**
   * The placeholders of Lanes' help, each spelt one way: picocli's {@code <field>}, {@code PATH} beside {@code DIR} or
   * a bare number of seconds would each be a second voice.
   */
  private static final Set<String> PLACEHOLDERS = Set.of("DIR", "FILE", "PLAN", "ID", "HOST", "PORT", "HOST:PORT",
      "URL", "N", "NAME", "CAP", "LEG", "DURATION", "RUN/TASK/eN", "COMMAND", "RUN", "USD", "GROUP");
  /**
   * The one option whose placeholder differs between commands, for a reason: a worker fetches from {@code --repo} (a
   * URL, a plain path counting as one), the lead and {@code lanes run} work in it (a directory of this machine).
   */
  private static final Map<String, String> OWN_PLACEHOLDER = Map.of("lanes worker --repo", "URL");
  /** A description that speaks of time; its option must take a DURATION. */
  private static final Pattern TIME = Pattern.compile(
      "(?i)\\bhow (long|often)\\b|\\b(milliseconds|seconds|minutes|hours|timeout|duration)\\b");
  /** picocli's placeholder for an option without a label, or one a description writes in angle brackets. */
  private static final Pattern ANGLED = Pattern.compile("<[A-Za-z][\\w-]*>");
  /** The line every command that does something ends its description with. */
  private static final Pattern EXIT = Pattern.compile("Exit 0 when .+, 2 for bad input( \\(.+\\))?\\.");

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  /** Every command below {@code lanes}, by its full name, the help command of each level included. */
  static List<Named<CommandLine>> commands() {
    List<CommandLine> all = new ArrayList<>();
    collect(new CommandLine(new Main()), all);
    return all.stream().map(c -> Named.of(c.getCommandSpec().qualifiedName(), c)).toList();
  }

  private static void collect(CommandLine command, List<CommandLine> into) {
    for (CommandLine sub : command.getSubcommands().values()) {
      into.add(sub);
      collect(sub, into);
    }
  }

  @Test
  void helpWithoutACommandShowsTheCommands() {
    int code = lanes("help");

    assertThat(code).isZero();
    assertThat(out.toString()).startsWith("Usage: lanes [-hV] [COMMAND]").contains("  status ", "  submit ");
    assertThat(out.toString().replaceAll("\\s+", " "))
        .contains("exits 0 when all went well, 1 when the work failed or Kafka did not answer, and 2 for bad input");
    assertThat(err.toString()).isEmpty();
  }

  @Test
  void noCommandAtAllIsAUsageErrorShowingTheCommands() {
    int code = lanes();

    assertThat(code).isEqualTo(2);
    assertThat(out.toString()).isEmpty();
    assertThat(err.toString()).startsWith("lanes: which command? (lanes help lists them)")
        .contains("Usage: lanes [-hV] [COMMAND]", "  status ");
  }

  @Test
  void helpOfACommandIsItsUsage() {
    int code = lanes("help", "status");

    assertThat(code).isZero();
    assertThat(out.toString()).startsWith("Usage: lanes status ").contains("--timeout=DURATION");
  }

  @Test
  void helpOfAnUnknownCommandIsAUsageError() {
    assertThat(lanes("help", "nope")).isEqualTo(2);
  }

  @Test
  void helpOfAnUnknownSubcommandIsAUsageErrorNamingTheCommandsThereAre() {
    int code = lanes("help", "credentials", "nope");

    assertThat(code).isEqualTo(2);
    assertThat(out.toString()).isEmpty();
    assertThat(err.toString()).startsWith("COMMAND: \"nope\" is not a command of lanes credentials (its commands:"
        + " add-worker, revoke)\n");
    assertThat(lanes("help", "status", "nope")).isEqualTo(2);
    assertThat(err.toString()).contains("COMMAND: \"nope\" is not a command of lanes status, which has none\n");
  }

  /** {@code lanes help credentials add-worker} showed the help of {@code credentials}: a path is followed to its end. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("commands")
  void helpOfAPathIsTheHelpOfTheCommandItNames(CommandLine command) {
    List<String> path = new ArrayList<>();
    for (CommandLine c = command; c.getParent() != null; c = c.getParent()) {
      path.add(0, c.getCommandName());
    }
    List<String> asked = new ArrayList<>(List.of("help"));
    asked.addAll(path);
    path.add("--help");

    assertThat(lanes(asked.toArray(String[]::new))).as(String.join(" ", asked) + ": " + err).isZero();
    String viaHelp = out.toString();
    out.getBuffer().setLength(0);
    assertThat(lanes(path.toArray(String[]::new))).isZero();

    assertThat(viaHelp).startsWith("Usage: " + command.getCommandSpec().qualifiedName() + " ").isEqualTo(out.toString());
  }

  /**
   * Walks every command's help and lists each inconsistency: a placeholder outside the one vocabulary, an option
   * spelt with another placeholder elsewhere, an angle-bracketed placeholder anywhere in the text, an option about
   * time that does not take a DURATION (or whose default is none), a paragraph cut before its full stop, and a
   * command without its exit codes.
   */
  @Test
  void everyCommandsHelpSpeaksWithOneVoice() {
    List<String> problems = new ArrayList<>();
    Map<String, String> labels = new TreeMap<>();
    for (Named<CommandLine> named : commands()) {
      CommandSpec command = named.getPayload().getCommandSpec();
      String name = command.qualifiedName();
      for (OptionSpec option : command.options()) {
        if (option.arity().max() == 0) {
          continue;
        }
        String where = name + " " + option.longestName();
        String label = option.paramLabel();
        if (!PLACEHOLDERS.contains(label)) {
          problems.add(where + ": placeholder " + label + " is not one of " + new TreeSet<>(PLACEHOLDERS));
        }
        String elsewhere = OWN_PLACEHOLDER.containsKey(where) ? OWN_PLACEHOLDER.get(where)
            : labels.putIfAbsent(option.longestName(), label);
        if (elsewhere != null && !elsewhere.equals(label)) {
          problems.add(where + ": placeholder " + label + ", elsewhere " + elsewhere);
        }
        boolean aboutTime = TIME.matcher(String.join(" ", option.description())).find()
            || option.defaultValue() != null && isDuration(option.defaultValue());
        if (aboutTime && !label.equals("DURATION")) {
          problems.add(where + ": speaks of time but takes " + label + ", not a DURATION");
        }
        if (label.equals("DURATION")) {
          if (option.type() != String.class && option.type() != Duration.class) {
            problems.add(where + ": a DURATION read as " + option.type().getSimpleName());
          }
          if (option.defaultValue() != null && !isDuration(option.defaultValue())) {
            problems.add(where + ": default " + option.defaultValue() + " is not a duration (such as 30s or 2m)");
          }
        }
      }
      command.positionalParameters().stream().filter(p -> !PLACEHOLDERS.contains(p.paramLabel()))
          .forEach(p -> problems.add(name + ": placeholder " + p.paramLabel() + " is not one of the vocabulary"));

      out.getBuffer().setLength(0);
      List<String> path = new ArrayList<>(List.of(name.substring("lanes ".length()).split(" ")));
      path.add("--help");
      lanes(path.toArray(String[]::new));
      Matcher angled = ANGLED.matcher(out.toString());
      while (angled.find()) {
        problems.add(name + " --help: placeholder " + angled.group());
      }

      String[] description = command.usageMessage().description();
      if (description.length == 0) {
        problems.add(name + ": no description");
      }
      for (String paragraph : description) {
        // A paragraph cut in two (the list of commands shows only the first) ends without its full stop.
        if (!paragraph.isEmpty() && !paragraph.endsWith(".")) {
          problems.add(name + ": a paragraph cut short: " + paragraph);
        }
      }
      boolean doesSomething = command.subcommands().keySet().stream().allMatch(n -> n.equals("help"));
      if (doesSomething && Arrays.stream(description).noneMatch(p -> EXIT.matcher(p).matches())) {
        problems.add(name + ": no line \"Exit 0 when ..., 2 for bad input.\"");
      }
    }
    assertThat(problems).isEmpty();
  }

  private static boolean isDuration(String text) {
    try {
      Durations.parse("default", text);
      return true;
    } catch (ProtocolException e) {
      return false;
    }
  }

  @Test
  void aTimeoutIsADurationAndABareNumberIsSeconds() {
    CommandLine parsed = new CommandLine(new StatusCommand());
    parsed.parseArgs("--timeout", "90");
    assertThat(((StatusCommand) parsed.getCommand()).busOptions.timeout()).hasSeconds(90);
    parsed.parseArgs("--timeout", "500ms");
    assertThat(((StatusCommand) parsed.getCommand()).busOptions.timeout()).hasMillis(500);

    int code = lanes("status", "--bootstrap-servers", "127.0.0.1:9", "--timeout", "soon");

    assertThat(code).isEqualTo(2);
    assertThat(err.toString().strip()).isEqualTo("lanes: --timeout: \"soon\" is not a duration (a whole number and a"
        + " unit: 500ms, 8s, 30m, 2h)");
  }

  private int lanes(String... args) {
    return Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
  }
}
