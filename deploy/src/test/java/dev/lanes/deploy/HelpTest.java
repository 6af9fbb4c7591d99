package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** Every command's help speaks with one voice: placeholders, durations, exit codes, whole sentences. */
class HelpTest {
  /** A placeholder is upper case ({@code DIR}, {@code HOST:PORT}, {@code RUN/TASK/eN}), never picocli's {@code <field>}. */
  private static final Pattern PLACEHOLDER = Pattern.compile("[A-Z][A-Za-z0-9:/_.-]*");
  private static final List<String> DURATIONS = List.of("--timeout", "--lease", "--heartbeat", "--wait-workers");

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  /** Every command below {@code lanes}, by its full name, except the help command itself. */
  static List<Named<CommandSpec>> commands() {
    List<CommandSpec> all = new ArrayList<>();
    collect(new CommandLine(new Main()), all);
    return all.stream().map(c -> Named.of(c.qualifiedName(), c)).toList();
  }

  private static void collect(CommandLine command, List<CommandSpec> into) {
    for (Map.Entry<String, CommandLine> sub : command.getSubcommands().entrySet()) {
      if (!sub.getKey().equals("help")) {
        into.add(sub.getValue().getCommandSpec());
        collect(sub.getValue(), into);
      }
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
  void helpOfACommandIsItsUsage() {
    int code = lanes("help", "status");

    assertThat(code).isZero();
    assertThat(out.toString()).startsWith("Usage: lanes status ").contains("--timeout=DURATION");
  }

  @Test
  void helpOfAnUnknownCommandIsAUsageError() {
    assertThat(lanes("help", "nope")).isEqualTo(2);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("commands")
  void placeholdersAreUpperCaseAndDurationsSayDuration(CommandSpec command) {
    for (OptionSpec option : command.options()) {
      if (option.arity().max() == 0) {
        continue;
      }
      String label = option.paramLabel();
      assertThat(label).as(command.qualifiedName() + " " + option.longestName()).matches(PLACEHOLDER);
      if (DURATIONS.contains(option.longestName())) {
        assertThat(label).as(command.qualifiedName() + " " + option.longestName()).isEqualTo("DURATION");
      }
    }
    command.positionalParameters().forEach(p -> assertThat(p.paramLabel()).as(command.qualifiedName())
        .matches(PLACEHOLDER));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("commands")
  void descriptionsAreWholeSentencesAndSayTheExitCodes(CommandSpec command) {
    String[] description = command.usageMessage().description();
    assertThat(description).as(command.qualifiedName()).isNotEmpty();
    for (String paragraph : description) {
      // A paragraph cut in two (the list of commands shows only the first) ends without its full stop.
      assertThat(paragraph.isEmpty() || paragraph.endsWith(".")).as(command.qualifiedName() + ": " + paragraph)
          .isTrue();
    }
    if (command.subcommands().isEmpty()) {
      assertThat(description).as(command.qualifiedName()).anyMatch(p -> p.startsWith("Exit 0 "));
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
