package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PlanParserTest {
  private static final String SOURCE = "plan.yaml";

  private static final String FULL_PLAN =
      """
      name: rename-account-id
      base: main
      agent:
        command: [claude, -p, "{prompt}", --output-format, stream-json, --verbose]
        timeout: 30m
      verify: ./mvnw -q test
      tasks:
        - id: core
          title: Rename userId to accountId in core
          prompt: |
            Rename userId to accountId in the core module.
          owns: [core/]
          after: []
          requires: [java]
          verify: ./mvnw -q -pl core test
        - id: api
          prompt: Follow the rename in the API.
          owns: [api/, "docs/**/*.md"]
          after: [core]
          requires: [java, node]
        - id: demo
          prompt: Write a demo script.
          owns: scripts/demo.sh
          after: [core, api]
          agent:
            command: [sh, -c, "echo {prompt} > scripts/demo.sh"]
            timeout: 90s
      """;

  /** A valid plan with two tasks, for the error cases to break one thing in. */
  private static final String AGENT =
      """
      agent:
        command: [sh, -c, "true"]
      """;

  private static List<String> problems(String yaml) {
    PlanException e = catchThrowableOfType(PlanException.class, () -> PlanParser.parse(yaml, SOURCE));
    assertThat(e).as("the plan is rejected").isNotNull();
    assertThat(e.getMessage()).startsWith(SOURCE + ": ");
    assertThat(e.problems()).allSatisfy(p -> assertThat(e.getMessage()).contains(p));
    return e.problems();
  }

  /** Exactly one problem, at {@code path}, naming the value and the rule. */
  private static void assertOnlyProblem(String yaml, String path, String... mentions) {
    List<String> problems = problems(yaml);
    assertThat(problems).hasSize(1);
    assertThat(problems.get(0)).matches(at(path)).contains(mentions);
  }

  private static void assertHasProblem(String yaml, String path, String... mentions) {
    assertThat(problems(yaml)).anySatisfy(p -> assertThat(p).matches(at(path)).contains(mentions));
  }

  /** A problem starts with its field, then the id of its task when the field is inside a task with a valid id. */
  private static String at(String path) {
    String task = path.startsWith("tasks[") && !path.endsWith(".id") ? "( \\(task [a-z0-9-]+\\))?" : "";
    return "(?s)" + java.util.regex.Pattern.quote(path) + task + ": .*";
  }

  @Test
  void parse_fullPlan() {
    Plan plan = PlanParser.parse(FULL_PLAN, SOURCE);

    AgentSpec claude = new AgentSpec(
        List.of("claude", "-p", "{prompt}", "--output-format", "stream-json", "--verbose"),
        Duration.ofMinutes(30).toMillis());
    AgentSpec script = new AgentSpec(List.of("sh", "-c", "echo {prompt} > scripts/demo.sh"), 90_000);
    assertThat(plan).isEqualTo(new Plan(
        "rename-account-id",
        Optional.of("main"),
        "lanes/rename-account-id",
        List.of(
            new Plan.Task(
                "core",
                "Rename userId to accountId in core",
                "Rename userId to accountId in the core module.\n",
                List.of(Claim.parse("core/")),
                List.of(),
                List.of("java"),
                claude,
                Optional.of("./mvnw -q -pl core test")),
            new Plan.Task(
                "api",
                "api",
                "Follow the rename in the API.",
                List.of(Claim.parse("api/"), Claim.parse("docs/**/*.md")),
                List.of("core"),
                List.of("java", "node"),
                claude,
                Optional.of("./mvnw -q test")),
            new Plan.Task(
                "demo",
                "demo",
                "Write a demo script.",
                List.of(Claim.parse("scripts/demo.sh")),
                List.of("core", "api"),
                List.of(),
                script,
                Optional.of("./mvnw -q test"))),
        Optional.of("./mvnw -q test"),
        Optional.empty()));
  }

  @Test
  void parse_reviewByPlanDefaultWithItsReviewAgentUnlessTheTaskSaysNo() {
    Plan plan = PlanParser.parse("""
        name: reviewed
        agent: {command: [writer, "{prompt}"]}
        review: true
        review-agent: {command: [reviewer, "{prompt}"], timeout: 5m}
        lead-agent: {command: [planner, "{prompt}"]}
        tasks:
          - {id: a, prompt: A, owns: [a/]}
          - {id: b, prompt: B, owns: [b/], review: false}
        """, SOURCE);

    assertThat(plan.task("a").orElseThrow().review()).contains(new AgentSpec(List.of("reviewer", "{prompt}"), 300_000));
    assertThat(plan.task("b").orElseThrow().review()).isEmpty();
    assertThat(plan.leadAgent().orElseThrow().command()).containsExactly("planner", "{prompt}");
  }

  @Test
  void parse_reviewWithoutReviewAgentUsesTheTasksAgent() {
    Plan plan = PlanParser.parse(plan("", task("a", "owns: [a/]\n  review: true")), SOURCE);

    assertThat(plan.task("a").orElseThrow().review()).contains(plan.task("a").orElseThrow().agent());
  }

  @Test
  void parse_reviewThatIsNotABoolean() {
    assertOnlyProblem(plan("", task("a", "owns: [a/]\n  review: yes please")), "tasks[0].review", "expected true or"
        + " false, got \"yes please\"");
  }

  @Test
  void delta_addsTasksThatInheritFromTheTemplateAndReordersAndRescopes() {
    Plan plan = PlanParser.parse(plan("", task("a", "owns: [a/]\n  requires: [java]") + task("b", "owns: [b/]")),
        SOURCE);
    Plan.Task a = plan.task("a").orElseThrow();

    PlanDelta delta = PlanParser.delta("""
        {"add": [{"id": "c", "prompt": "C", "owns": ["c/"], "after": ["a"]}],
         "order": [{"task": "b", "after": ["c"]}],
         "scope": [{"task": "a", "owns": ["a/", "docs/a.md"]}],
         "drop": []}
        """, plan, a);
    Plan next = delta.applyTo(plan);

    assertThat(next.tasks()).extracting(Plan.Task::id).containsExactly("a", "b", "c");
    assertThat(next.task("c").orElseThrow().requires()).containsExactly("java");
    assertThat(next.task("c").orElseThrow().agent()).isEqualTo(a.agent());
    assertThat(next.task("b").orElseThrow().after()).containsExactly("c");
    assertThat(next.task("a").orElseThrow().owns()).extracting(Claim::text).containsExactly("a/", "docs/a.md");
  }

  @Test
  void delta_reportsEveryProblemWithItsField() {
    Plan plan = PlanParser.parse(plan("", task("a", "owns: [a/]") + task("b", "owns: [b/]")), SOURCE);

    assertThatThrownBy(() -> PlanParser.delta("""
        {"add": [{"id": "a", "prompt": "again", "owns": ["x/"]}, {"id": "d", "prompt": "D", "owns": ["../up"]}],
         "drop": ["zz"], "order": [{"task": "a", "after": ["b"]}, {"task": "b", "after": ["a"]}], "rename": 1}
        """, plan, plan.task("a").orElseThrow()))
        .isInstanceOfSatisfying(PlanException.class, e -> assertThat(e.problems()).anySatisfy(
                p -> assertThat(p).startsWith("add[0].id: \"a\" is already the id of a task"))
            .anySatisfy(p -> assertThat(p).startsWith("add[1].owns[0] (task d): "))
            .anySatisfy(p -> assertThat(p).isEqualTo("drop[0]: \"zz\" is not the id of any task in the plan"))
            .anySatisfy(p -> assertThat(p).startsWith("rename: unknown key")));
  }

  @Test
  void delta_thatMakesACycleIsRefused() {
    Plan plan = PlanParser.parse(plan("", task("a", "owns: [a/]") + task("b", "owns: [b/]\n  after: [a]")), SOURCE);

    assertThatThrownBy(() -> PlanParser.delta("{\"order\": [{\"task\": \"a\", \"after\": [\"b\"]}]}", plan,
        plan.task("a").orElseThrow()))
        .hasMessageContaining("order: dependency cycle: ");
  }

  @Test
  void delta_thatIsNotJson() {
    Plan plan = PlanParser.parse(plan("", task("a", "owns: [a/]")), SOURCE);

    assertThatThrownBy(() -> PlanParser.delta("add a task please", plan, plan.task("a").orElseThrow()))
        .isInstanceOf(PlanException.class).hasMessageStartingWith("delta: not valid JSON");
  }

  @Test
  void parse_fullPlanDetails() {
    Plan plan = PlanParser.parse(FULL_PLAN, SOURCE);
    assertThat(plan.task("core").orElseThrow().agent().timeout()).isEqualTo(Duration.ofMinutes(30));
    assertThat(plan.task("demo").orElseThrow().agent().timeout()).isEqualTo(Duration.ofSeconds(90));
    assertThat(plan.task("missing")).isEmpty();
  }

  @Test
  void parse_minimalPlanUsesDefaults() {
    Plan plan = PlanParser.parse(
        """
        name: tiny
        tasks:
          - id: only
            prompt: Do it.
            owns: ["**"]
            agent:
              command: [sh, -c, "true"]
        """,
        SOURCE);

    assertThat(plan.base()).isEmpty();
    assertThat(plan.target()).isEqualTo(Plan.defaultTarget("tiny")).isEqualTo("lanes/tiny");
    Plan.Task task = plan.tasks().get(0);
    assertThat(task.title()).isEqualTo("only");
    assertThat(task.verify()).isEmpty();
    assertThat(task.after()).isEmpty();
    assertThat(task.requires()).isEmpty();
    assertThat(task.agent().timeout()).isEqualTo(AgentSpec.DEFAULT_TIMEOUT);
  }

  @Test
  void parse_explicitTarget() {
    Plan plan = PlanParser.parse(plan("target: release/next\n", task("a", "owns: [a/]")), SOURCE);
    assertThat(plan.target()).isEqualTo("release/next");
  }

  @Test
  void parse_unknownAfterId() {
    assertOnlyProblem(
        plan("", task("a", "owns: [a/]"), task("b", "owns: [b/]\n  after: [nope]")),
        "tasks[1].after[0]",
        "\"nope\"",
        "is not the id of any task");
  }

  @Test
  void parse_duplicateId() {
    assertOnlyProblem(
        plan("", task("a", "owns: [a/]"), task("b", "owns: [b/]"), task("a", "owns: [c/]")),
        "tasks[2].id",
        "\"a\"",
        "already the id of tasks[0]",
        "unique");
  }

  @Test
  void parse_dependencyCycle() {
    assertOnlyProblem(
        plan("", task("a", "owns: [a/]\n  after: [b]"), task("b", "owns: [b/]\n  after: [a]")),
        "tasks",
        "dependency cycle",
        "a -> b -> a");
  }

  @Test
  void parse_longDependencyCycleNamesOnlyTheCycle() {
    assertOnlyProblem(
        plan(
            "",
            task("start", "owns: [s/]\n  after: [x]"),
            task("x", "owns: [x/]\n  after: [y]"),
            task("y", "owns: [y/]\n  after: [z]"),
            task("z", "owns: [z/]\n  after: [x]")),
        "tasks",
        "dependency cycle: x -> y -> z -> x");
  }

  @Test
  void parse_selfDependency() {
    assertOnlyProblem(
        plan("", task("a", "owns: [a/]\n  after: [a]")), "tasks[0].after", "\"a\"", "depends on itself");
  }

  @Test
  void parse_badIdCharacters() {
    assertOnlyProblem(plan("", task("Core_1", "owns: [a/]")), "tasks[0].id", "\"Core_1\"", "not a valid id",
        "lower-case letters, digits and '-'");
  }

  @Test
  void parse_badPlanName() {
    assertHasProblem(
        """
        name: Rename Account
        agent:
          command: [sh]
        tasks:
          - id: a
            prompt: p
            owns: [a/]
        """,
        "name",
        "\"Rename Account\"",
        "not a valid id");
  }

  @Test
  void parse_missingOwns() {
    assertOnlyProblem(plan("", task("a", "")), "tasks[0].owns", "missing", "at least one path");
  }

  @Test
  void parse_emptyOwnsList() {
    assertOnlyProblem(plan("", task("a", "owns: []")), "tasks[0].owns", "at least one path");
  }

  @Test
  void parse_unknownTopLevelKey() {
    assertOnlyProblem(
        plan("owner: alice\n", task("a", "owns: [a/]")),
        "owner",
        "unknown key",
        "known keys here are agent, base, budget-stop, budget-usd, lead-agent, name, review, review-agent, target, tasks,"
            + " verify");
  }

  @Test
  void parse_unknownTaskKey() {
    assertOnlyProblem(
        plan("", task("a", "owns: [a/]\n  depends: [b]")), "tasks[0].depends", "unknown key", "after");
  }

  @Test
  void parse_unknownAgentKey() {
    assertOnlyProblem(
        """
        name: p
        agent:
          command: [sh]
          timeout: 5m
          retries: 3
        tasks:
          - id: a
            prompt: p
            owns: [a/]
        """,
        "agent.retries",
        "unknown key",
        "command, env, timeout");
  }

  @Test
  void parse_missingPrompt() {
    assertOnlyProblem(
        """
        name: p
        agent:
          command: [sh]
        tasks:
          - id: a
            owns: [a/]
        """,
        "tasks[0].prompt",
        "missing");
  }

  @Test
  void parse_blankPrompt() {
    assertOnlyProblem(
        """
        name: p
        agent:
          command: [sh]
        tasks:
          - id: a
            prompt: "  "
            owns: [a/]
        """,
        "tasks[0].prompt",
        "non-empty string");
  }

  @Test
  void parse_taskWithoutAgentWhenThePlanHasNone() {
    assertOnlyProblem(
        """
        name: p
        tasks:
          - id: a
            prompt: p
            owns: [a/]
          - id: b
            prompt: p
            owns: [b/]
            agent:
              command: [sh]
        """,
        "tasks[0].agent",
        "missing",
        "no default agent");
  }

  @Test
  void parse_agentWithEmptyCommand() {
    assertHasProblem(
        """
        name: p
        agent:
          command: []
        tasks:
          - id: a
            prompt: p
            owns: [a/]
        """,
        "agent.command",
        "missing",
        "needs a command");
  }

  @Test
  void parse_taskAgentWithoutCommand() {
    assertHasProblem(plan("", task("a", "owns: [a/]\n  agent:\n    timeout: 5m")), "tasks[0].agent.command",
        "needs a command");
  }

  @Test
  void parse_badTimeout() {
    assertOnlyProblem(
        """
        name: p
        agent:
          command: [sh]
          timeout: 30 minutes
        tasks:
          - id: a
            prompt: p
            owns: [a/]
        """,
        "agent.timeout",
        "\"30 minutes\"",
        "not a duration",
        "30m");
  }

  @Test
  void parse_badTargetBranch() {
    assertOnlyProblem(plan("target: a..b\n", task("a", "owns: [a/]")), "target", "\"a..b\"", "not a valid branch");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {"lanes/", "-lanes", "a//b", "topic.lock", "'with space'", "ends."})
  void parse_otherBadTargetBranches(String target) {
    assertHasProblem(plan("target: " + target + "\n", task("a", "owns: [a/]")), "target", "not a valid branch");
  }

  @Test
  void parse_targetInsideLanesWork() {
    assertOnlyProblem(
        plan("target: lanes-work/mine\n", task("a", "owns: [a/]")),
        "target",
        "\"lanes-work/mine\"",
        "inside lanes-work/");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "../x   | leaves the repository",
        "/etc   | absolute",
        "a/./b  | segment \".\"",
        "[      | never closed",
        "{a,    | unbalanced braces",
      })
  void parse_invalidClaimNamesItsIndex(String claim, String rule) {
    String owns = "owns: [\"core/\", \"" + claim + "\"]";
    assertOnlyProblem(plan("", task("a", owns)), "tasks[0].owns[1]", "\"" + claim + "\"", rule);
  }

  @Test
  void parse_invalidClaimsAreAllReportedWithTheirIndexes() {
    List<String> problems = problems(plan("", task("a", "owns: [\"../x\", ok/, \"/etc\"]")));
    assertThat(problems).hasSize(2);
    assertThat(problems.get(0)).startsWith("tasks[0].owns[0] (task a): ").contains("../x");
    assertThat(problems.get(1)).startsWith("tasks[0].owns[2] (task a): ").contains("/etc");
  }

  @Test
  void parse_notYamlNamesTheLine() {
    String yaml =
        """
        name: p
        tasks:
          - id: a
            prompt: p
           owns: [a/]
        """;
    assertThatThrownBy(() -> PlanParser.parse(yaml, SOURCE))
        .isInstanceOf(PlanException.class)
        .hasMessageStartingWith(SOURCE + ": line 5, column 4: not valid YAML");
  }

  @Test
  void parse_tabIndentNamesItsLineAndColumnWithoutTheParsersInternals() {
    String yaml = "name: p\nagent:\n  command: [\"true\"]\ntasks:\n  - id: a\n\tprompt: x\n    owns: [a]\n";

    assertThatThrownBy(() -> PlanParser.parse(yaml, SOURCE))
        .isInstanceOf(PlanException.class)
        .hasMessage(SOURCE + ": line 6, column 1: not valid YAML: a tab cannot indent YAML (use spaces)");
  }

  @Test
  void parse_unclosedQuoteSaysWhereItOpened() {
    String yaml = "name: p\ntasks:\n  - id: a\n    prompt: \"x\n    owns: [a]\n";

    assertThatThrownBy(() -> PlanParser.parse(yaml, SOURCE))
        .isInstanceOf(PlanException.class)
        .hasMessage(SOURCE + ": line 6, column 1: not valid YAML: found unexpected end of stream (while scanning a"
            + " quoted scalar from line 4, column 13)");
  }

  @Test
  void parse_duplicateYamlKeyIsRejected() {
    assertThatThrownBy(() -> PlanParser.parse(plan("name: other\n", task("a", "owns: [a/]")), SOURCE))
        .isInstanceOf(PlanException.class)
        .hasMessageContaining("not valid YAML")
        .hasMessageContaining("Duplicate field 'name'");
  }

  @Test
  void parse_topLevelListInsteadOfMapping() {
    assertThat(problems("- id: a\n- id: b\n"))
        .containsExactly("plan: expected a mapping with name and tasks, got a list");
  }

  @Test
  void parse_emptyFile() {
    assertThat(problems("")).containsExactly("plan: expected a mapping with name and tasks, got nothing");
  }

  @Test
  void parse_noTasks() {
    assertHasProblem("name: p\nagent:\n  command: [sh]\ntasks: []\n", "tasks", "non-empty list");
  }

  @Test
  void parse_reportsEveryProblemAtOnce() {
    PlanException e = catchThrowableOfType(PlanException.class, () -> PlanParser.parse(
        """
        name: Bad_Name
        colour: blue
        agent:
          command: [sh]
          timeout: soon
        tasks:
          - id: a
            prompt: p
            owns: ["../x"]
            after: [ghost]
          - id: a
            owns: [b/]
        """,
        SOURCE));

    assertThat(e.problems().size()).isGreaterThan(1);
    assertThat(e.problems())
        .anySatisfy(p -> assertThat(p).startsWith("name: "))
        .anySatisfy(p -> assertThat(p).startsWith("colour: "))
        .anySatisfy(p -> assertThat(p).startsWith("agent.timeout: "))
        .anySatisfy(p -> assertThat(p).startsWith("tasks[0].owns[0] (task a): "))
        .anySatisfy(p -> assertThat(p).startsWith("tasks[0].after[0] (task a): "))
        .anySatisfy(p -> assertThat(p).startsWith("tasks[1].id: "))
        .anySatisfy(p -> assertThat(p).startsWith("tasks[1].prompt (task a): "));
    // Each problem is on a line of its own under the source name.
    assertThat(e.getMessage().lines()).first().isEqualTo(SOURCE + ": ");
    assertThat(e.getMessage().lines().count()).isEqualTo(e.problems().size() + 1);
  }

  @Test
  void parse_missingFile(@TempDir Path dir) {
    Path missing = dir.resolve("nowhere.yaml");
    PlanException e = catchThrowableOfType(PlanException.class, () -> PlanParser.parse(missing));
    assertThat(e).isNotNull();
    assertThat(e.getMessage()).contains(missing.toString()).contains("no such file");
  }

  @Test
  void parse_fileNamesItselfInErrors(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("plan.yaml");
    Files.writeString(file, FULL_PLAN);
    assertThat(PlanParser.parse(file)).isEqualTo(PlanParser.parse(FULL_PLAN, SOURCE));

    Files.writeString(file, plan("", task("a", "owns: []")));
    assertThatThrownBy(() -> PlanParser.parse(file))
        .isInstanceOf(PlanException.class)
        .hasMessageStartingWith(file + ": tasks[0].owns (task a): ");
  }

  @Test
  void parse_claudeAgentWithEveryOption() {
    Plan plan = PlanParser.parse(
        """
        name: p
        agent:
          claude:
            allowed-tools: [Read, Edit, "Bash(./mvnw *)"]
            max-turns: 40
            budget-usd: 2.50
            model: sonnet
          timeout: 20m
        tasks:
          - id: a
            prompt: p
            owns: [a/]
          - id: b
            prompt: p
            owns: [b/]
            agent:
              claude:
                budget-usd: 1
        """,
        SOURCE);

    assertThat(plan.task("a").orElseThrow().agent()).isEqualTo(AgentSpec.claude(
        new ClaudeAgent(List.of("Read", "Edit", "Bash(./mvnw *)"), Optional.of(40), Optional.of(2.5),
            Optional.of("sonnet")),
        Duration.ofMinutes(20).toMillis()));
    assertThat(plan.task("a").orElseThrow().agent().command()).isEmpty();
    assertThat(plan.task("b").orElseThrow().agent()).as("a task's agent replaces the plan's").isEqualTo(
        AgentSpec.claude(new ClaudeAgent(List.of(), Optional.empty(), Optional.of(1.0), Optional.empty()),
            AgentSpec.DEFAULT_TIMEOUT.toMillis()));
  }

  @Test
  void parse_claudeWithoutOptionsTakesTheDefaults() {
    Plan plan = PlanParser.parse(plan("", task("a", "owns: [a/]\n  agent:\n    claude:\n    timeout: 5m")), SOURCE);

    assertThat(plan.task("a").orElseThrow().agent())
        .isEqualTo(AgentSpec.claude(ClaudeAgent.defaults(), Duration.ofMinutes(5).toMillis()));
  }

  @Test
  void parse_agentWithBothCommandAndClaude() {
    assertOnlyProblem(
        """
        name: p
        agent:
          command: [sh]
          claude:
            max-turns: 3
        tasks:
          - id: a
            prompt: p
            owns: [a/]
        """,
        "agent",
        "both command and claude",
        "either");
  }

  @Test
  void parse_agentWithNeitherCommandNorClaude() {
    assertHasProblem(plan("", task("a", "owns: [a/]\n  agent:\n    timeout: 5m")), "tasks[0].agent.command",
        "missing", "command", "claude");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {"0|0", "-3|-3", "ten|\"ten\"", "2.5|2.5", "99999999999|99999999999"})
  void parse_claudeBadMaxTurns(String value, String shown) {
    assertOnlyProblem(claudePlan("max-turns: " + value), "tasks[0].agent.claude.max-turns", shown,
        "whole number of at least 1");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {"0|0", "-1.5|-1.5", "0.0|0.0", "lots|\"lots\"", "[1]|a list"})
  void parse_claudeBudgetMustBePositive(String value, String shown) {
    assertOnlyProblem(claudePlan("budget-usd: " + value), "tasks[0].agent.claude.budget-usd", shown,
        "greater than zero");
  }

  @Test
  void parse_runBudgetIsKeptToTheMillionthAsWrittenAndStopsAtFinishByDefault() {
    Plan plan = PlanParser.parse(plan("budget-usd: 0.1\n", task("a", "owns: [a/]")), SOURCE);
    assertThat(plan.budget()).contains(new Plan.Budget(new java.math.BigDecimal("0.1"), Plan.Budget.Stop.FINISH));
    assertThat(plan.budget().get().usd().toPlainString()).isEqualTo("0.100000");
    assertThat(PlanParser.parse(plan("budget-usd: 25\nbudget-stop: now\n", task("a", "owns: [a/]")), SOURCE)
        .budget()).contains(new Plan.Budget(new java.math.BigDecimal("25"), Plan.Budget.Stop.NOW));
    assertThat(PlanParser.parse(plan("", task("a", "owns: [a/]")), SOURCE).budget()).isEmpty();
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {"0|0", "-2|-2", "1000001|1000001", "1.0e+400|Infinity", "2.0000001|2.0000001",
      "lots|\"lots\"", "[1]|a list"})
  void parse_runBudgetMustBeAPositiveAmountOfAtMostAMillionDollars(String value, String shown) {
    assertOnlyProblem(plan("budget-usd: " + value + "\n", task("a", "owns: [a/]")), "budget-usd", shown);
  }

  @Test
  void parse_runBudgetStopIsFinishOrNowAndNeedsABudget() {
    assertOnlyProblem(plan("budget-usd: 5\nbudget-stop: later\n", task("a", "owns: [a/]")), "budget-stop",
        "\"later\"", "finish", "now");
    assertOnlyProblem(plan("budget-stop: now\n", task("a", "owns: [a/]")), "budget-stop", "without budget-usd");
  }

  @Test
  void check_refusesABudgetFromTheWireThatNoFileCouldHold() {
    Plan plan = PlanParser.parse(plan("", task("a", "owns: [a/]")), SOURCE)
        .withBudget(Optional.of(new Plan.Budget(new java.math.BigDecimal("-5"), Plan.Budget.Stop.FINISH)));
    assertThatThrownBy(() -> PlanParser.check(plan)).isInstanceOfSatisfying(PlanException.class,
        e -> assertThat(e.problems()).containsExactly("budget-usd: -5.000000 is not a budget: an amount of dollars"
            + " greater than zero and at most 1000000, to the millionth (such as 2.50)"));
  }

  @Test
  void parse_claudeUnknownKey() {
    assertOnlyProblem(claudePlan("max-budget: 3"), "tasks[0].agent.claude.max-budget", "unknown key",
        "allowed-tools, budget-usd, max-turns, model");
  }

  @Test
  void parse_claudeAllowedToolsMustBeAList() {
    assertOnlyProblem(claudePlan("allowed-tools: Read"), "tasks[0].agent.claude.allowed-tools",
        "list of strings");
  }

  @Test
  void parse_claudeOptionsMustBeAMapping() {
    assertOnlyProblem(plan("", task("a", "owns: [a/]\n  agent:\n    claude: [Read]")), "tasks[0].agent.claude",
        "mapping of options", "max-turns");
  }

  // ---- a plan that arrives bound to a Plan (from the bus) is held to the rules of a file ----

  /** Each forgery as a file and as a bound plan: the same problems, in the same words. */
  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "''|owns: [b/]NL  after: [nowhere]|tasks[1].after[0] (task b): \"nowhere\" is not the id of any task",
        "target: ../../hooks-xNL|owns: [b/]|target: \"../../hooks-x\" is not a valid branch name: it contains \"..\"",
        "base: --upload-pack=xNL|owns: [b/]|base: \"--upload-pack=x\" is not a valid branch, tag or commit name",
        "''|owns: [b/]NL  after: [b]|tasks[1].after (task b): task \"b\" depends on itself",
        "''|owns: [b/]NL  after: [B]|tasks[1].after[0] (task b): \"B\" is not a valid id",
        "target: lanes-work/xNL|owns: [b/]|target: \"lanes-work/x\" is inside lanes-work/",
      })
  void check_boundPlanGetsTheProblemsOfTheSameFile(String extra, String second, String problem) {
    String yaml = plan(extra.replace("NL", "\n"), task("a", "owns: [a/]"), task("b", second.replace("NL", "\n")));
    List<String> fromFile = problems(yaml);
    Plan bound = forge(yaml);

    PlanException fromWire = catchThrowableOfType(PlanException.class, () -> PlanParser.check(bound));

    assertThat(fromFile).singleElement().asString().startsWith(problem);
    assertThat(fromWire).as("refused from the wire").isNotNull();
    assertThat(fromWire.problems()).isEqualTo(fromFile);
  }

  @Test
  void promptOverItsLimitAndTooManyClaimsAreRefusedInAFileAndFromTheWire() {
    String claims = java.util.stream.IntStream.rangeClosed(0, PlanParser.MAX_CLAIMS).mapToObj(i -> "m" + i + "/")
        .collect(java.util.stream.Collectors.joining(", ", "owns: [", "]"));
    String longPrompt = "- id: b\n  prompt: " + "x".repeat(PlanParser.MAX_PROMPT + 1) + "\n  owns: [b/]\n";
    String yaml = plan("", task("a", claims), longPrompt.indent(2));

    List<String> fromFile = problems(yaml);
    Plan good = PlanParser.parse(plan("", task("a", "owns: [a/]"), task("b", "owns: [b/]")), SOURCE);
    Plan.Task a = good.tasks().get(0);
    Plan.Task b = good.tasks().get(1);
    List<Claim> many = java.util.stream.IntStream.rangeClosed(0, PlanParser.MAX_CLAIMS)
        .mapToObj(i -> Claim.parse("m" + i + "/")).toList();
    Plan forged = good.withTasks(List.of(a.withOwns(many), new Plan.Task("b", "b", "x".repeat(PlanParser.MAX_PROMPT + 1),
        b.owns(), List.of(), List.of(), b.agent(), Optional.empty())));
    PlanException fromWire = catchThrowableOfType(PlanException.class, () -> PlanParser.check(forged));

    assertThat(fromFile).containsExactly("tasks[0].owns (task a): 65 claims; at most 64 a task",
        "tasks[1].prompt (task b): 65537 characters; at most 65536");
    assertThat(fromWire.problems()).isEqualTo(fromFile);
  }

  @Test
  void check_boundPlanWithACycleADuplicateIdAndNoPrompt() {
    Plan good = PlanParser.parse(plan("", task("a", "owns: [a/]"), task("b", "owns: [b/]")), SOURCE);
    Plan.Task a = good.tasks().get(0);
    Plan.Task b = good.tasks().get(1);
    Plan.Task silent = new Plan.Task("c", "c", " ", List.of(), List.of(), List.of(), a.agent(), Optional.of(""));
    Plan forged = good.withTasks(List.of(a.withAfter(List.of("b")), b.withAfter(List.of("a")), a, silent));

    PlanException e = catchThrowableOfType(PlanException.class, () -> PlanParser.check(forged));

    assertThat(e.problems()).containsExactly(
        "tasks[2].id: \"a\" is already the id of tasks[0]; ids are unique",
        "tasks[3].prompt (task c): expected a non-empty string, got an empty string",
        "tasks[3].owns (task c): missing: every task must own at least one path (a list of claims such as core/ or"
            + " **/*.md)",
        "tasks[3].verify (task c): expected a non-empty string, got an empty string",
        "tasks: dependency cycle: a -> b -> a");
    assertThat(PlanParser.check(good)).isSameAs(good);
  }

  @Test
  void check_boundPlanWithoutTasksOrWithAnAgentThatNeverEnds() {
    Plan good = PlanParser.parse(plan("", task("a", "owns: [a/]")), SOURCE);
    Plan.Task a = good.tasks().get(0);
    Plan.Task forever = new Plan.Task("a", "a", "p", a.owns(), List.of(), List.of(), new AgentSpec(List.of(""), 0),
        Optional.empty());

    assertThatThrownBy(() -> PlanParser.check(good.withTasks(List.of())))
        .isInstanceOf(PlanException.class).hasMessage("plan: tasks: expected a non-empty list of tasks, got an empty list");
    assertThat(catchThrowableOfType(PlanException.class, () -> PlanParser.check(good.withTasks(List.of(forever))))
        .problems()).containsExactly(
            "tasks[0].agent.timeout (task a): 0 ms must be longer than zero",
            "tasks[0].agent.command[0] (task a): expected a program, got an empty string");
  }

  @Test
  void runnable_refusesTasksThatMayRunTogetherAndOwnTheSamePaths() {
    Plan plan = PlanParser.parse(plan("", task("a", "owns: [src/]"), task("b", "owns: ['docs/*.md']"),
        task("c", "owns: ['**/*.java']")), SOURCE);

    PlanException e = catchThrowableOfType(PlanException.class, () -> PlanParser.runnable(plan));

    assertThat(e.problems()).singleElement().asString()
        .startsWith("tasks[2].owns (task c): a (src/) and c (**/*.java) both own src/")
        .endsWith("tasks that may run at the same time must own disjoint paths (order one after the other with after)");
    Plan ordered = OwnershipCheck.serialize(plan, OwnershipCheck.check(plan).conflicts()).plan();
    assertThat(PlanParser.runnable(ordered)).isSameAs(ordered);
  }

  /** The plan as a client would put it on the bus, bound without any check: what a forger can send. */
  private static Plan forge(String yaml) {
    try {
      com.fasterxml.jackson.databind.JsonNode tree = new com.fasterxml.jackson.databind.ObjectMapper(
          new com.fasterxml.jackson.dataformat.yaml.YAMLFactory()).readTree(yaml);
      List<Plan.Task> tasks = new java.util.ArrayList<>();
      for (com.fasterxml.jackson.databind.JsonNode t : tree.get("tasks")) {
        String id = t.get("id").asText();
        List<String> after = new java.util.ArrayList<>();
        t.path("after").forEach(d -> after.add(d.asText()));
        tasks.add(new Plan.Task(id, id, "Do the " + id + " part.", List.of(Claim.parse(t.get("owns").get(0).asText())),
            after, List.of(), new AgentSpec(List.of("sh", "-c", "true"), AgentSpec.DEFAULT_TIMEOUT.toMillis()),
            Optional.empty()));
      }
      return new Plan("p", Optional.ofNullable(tree.get("base")).map(n -> n.asText()),
          tree.has("target") ? tree.get("target").asText() : "lanes/p", tasks);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void parse_agentEnvNamesReachThePlanAndTheTasksThatTakeItsAgent() {
    Plan plan = PlanParser.parse("""
        name: p
        agent:
          command: [sh, -c, "true"]
          env: [MY_SERVICE_TOKEN, npm_config_registry]
        tasks:
          - {id: a, prompt: p, owns: [a/]}
          - {id: b, prompt: p, owns: [b/], agent: {claude: {}, env: [GH_TOKEN]}}
        """, SOURCE);

    assertThat(plan.tasks().get(0).agent().env()).containsExactly("MY_SERVICE_TOKEN", "npm_config_registry");
    assertThat(plan.tasks().get(1).agent().env()).containsExactly("GH_TOKEN");
    assertThat(plan.tasks().get(1).agent().claude()).isPresent();
  }

  @Test
  void parse_agentEnvNameMustBeAVariableName() {
    assertOnlyProblem(plan("", task("a", "owns: [a/]\n  agent: {command: [x], env: [OK, \"A=B\"]}")),
        "tasks[0].agent.env[1]", "\"A=B\"", "not an environment variable name");
    assertOnlyProblem(plan("", task("a", "owns: [a/]\n  agent: {command: [x], env: [1ST]}")),
        "tasks[0].agent.env[0]", "\"1ST\"", "not starting with a digit");
    assertOnlyProblem(plan("", task("a", "owns: [a/]\n  agent: {command: [x], env: NAME}")),
        "tasks[0].agent.env", "list of strings");
  }

  @Test
  void parse_agentEnvCannotOverrideLanesVariables() {
    assertOnlyProblem(plan("", task("a", "owns: [a/]\n  agent: {command: [x], env: [LANES_OWNS]}")),
        "tasks[0].agent.env[0]", "\"LANES_OWNS\"", "set by Lanes");
  }

  @Test
  void parse_agentEnvHasALimit() {
    String names = java.util.stream.IntStream.range(0, AgentSpec.MAX_ENV + 1).mapToObj(i -> "V" + i)
        .collect(java.util.stream.Collectors.joining(", "));
    assertOnlyProblem(plan("", task("a", "owns: [a/]\n  agent: {command: [x], env: [" + names + "]}")),
        "tasks[0].agent.env", (AgentSpec.MAX_ENV + 1) + " names", "more than " + AgentSpec.MAX_ENV);
  }

  @Test
  void parse_leadAgentCannotAskForTheLeadsVariables() {
    assertOnlyProblem(plan("lead-agent: {command: [x], env: [AWS_SECRET_ACCESS_KEY]}\n", task("a", "owns: [a/]")),
        "lead-agent.env", "lanes coordinator --pass-env");
  }

  @Test
  void agentSpec_refusesABadEnvNameFromTheWireToo() {
    assertThatThrownBy(() -> new AgentSpec(List.of("x"), 1000).withEnv(List.of("LANES_TASK")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("agent.env[0]").hasMessageContaining("LANES_TASK");
    assertThatThrownBy(() -> Json.mapper().readValue(
        "{\"command\":[\"x\"],\"timeoutMs\":1000,\"env\":[\"LANES_TASK\"]}", AgentSpec.class))
        .hasMessageContaining("LANES_TASK");
  }

  @Test
  void agentSpec_withoutEnvReadsAsBeforeAndIsWrittenAsBefore() throws Exception {
    AgentSpec old = Json.mapper().readValue("{\"command\":[\"x\"],\"timeoutMs\":1000}", AgentSpec.class);

    assertThat(old.env()).isEmpty();
    assertThat(Json.mapper().writeValueAsString(old)).isEqualTo("{\"command\":[\"x\"],\"timeoutMs\":1000}");
  }

  /** A plan whose one task has a claude agent with the given option line. */
  private static String claudePlan(String option) {
    return plan("", task("a", "owns: [a/]\n  agent:\n    claude:\n      " + option));
  }

  /** {@code n} tasks, each with a prompt of {@code promptChars} characters. */
  private static String tasks(int n, int promptChars) {
    String prompt = "x".repeat(promptChars);
    StringBuilder yaml = new StringBuilder();
    for (int i = 0; i < n; i++) {
      yaml.append(task("t" + i, "owns: [m" + i + "/]").replace("Do the t" + i + " part.", prompt));
    }
    return yaml.toString();
  }

  @Test
  void parse_aPlanTooLargeToRecordInOneRecordIsRefusedBeforeAnythingStarts_andOneThatFitsIsNot() {
    // 200 tasks of about 6 KB each: 1.2 MB as a run records its plan, more than a record carries.
    List<String> problems = problems(plan("", tasks(200, 6000)));
    assertThat(problems).hasSize(1);
    assertThat(problems.get(0)).startsWith("tasks: 200 tasks take ").contains(" bytes as a run records its plan",
        "more than the " + Json.MAX_MESSAGE_BYTES + " a record may carry", "plans of at most about 1");
    long bytes = Long.parseLong(problems.get(0).replaceAll("^tasks: 200 tasks take (\\d+) bytes.*", "$1"));
    assertThat(bytes).isBetween(1_200_000L, 1_300_000L);
    // The size it names is the record's: the same plan a little smaller fits and parses.
    Plan fits = PlanParser.parse(plan("", tasks(150, 6000)), SOURCE);
    assertThat(RunStarted.recordedSize(fits)).isLessThan(Json.MAX_MESSAGE_BYTES);
    assertThat(fits.tasks()).hasSize(150);
  }

  @Test
  void aPlanThatOrderingMadeTooLargeToRecordIsRefusedByTheClientAsWhenItWasRead() {
    Plan fits = PlanParser.parse(plan("", tasks(150, 6600)), SOURCE); // within 50 KB of the limit
    assertThat(PlanParser.recordable(fits, SOURCE)).isSameAs(fits);
    // What a client's ordering of conflicting tasks adds: dependencies, until the plan no longer fits.
    List<Plan.Task> ordered = new java.util.ArrayList<>(fits.tasks());
    for (int i = 1; i < ordered.size() && RunStarted.recordedSize(fits.withTasks(ordered)) <= Json.MAX_MESSAGE_BYTES;
        i++) {
      ordered.set(i, ordered.get(i).withAfter(fits.tasks().subList(0, i).stream().map(Plan.Task::id).toList()));
    }
    Plan grown = fits.withTasks(ordered);
    assertThat(RunStarted.recordedSize(grown)).isGreaterThan(Json.MAX_MESSAGE_BYTES);

    assertThatThrownBy(() -> PlanParser.recordable(grown, SOURCE)).isInstanceOf(PlanException.class)
        .hasMessageStartingWith(SOURCE + ": tasks: 150 tasks take ").hasMessageContaining("a record may carry");
  }

  @Test
  void aPlanWithManyProblemsListsTheFirstFiftyAndHowManyMore_whileKeepingThemAll() {
    PlanException e = catchThrowableOfType(PlanException.class, () -> PlanParser.parse(plan("", tasks(60, 10)
        .replace("owns: [", "owns: [../")), SOURCE));

    assertThat(e.problems()).hasSize(60);
    assertThat(e.getMessage().lines().filter(l -> l.startsWith("  tasks[")).count()).isEqualTo(50);
    assertThat(e.getMessage()).endsWith("\n  ... and 10 more problem(s) like these");
  }

  /** A plan named {@code p} with a shell agent, {@code extra} top-level lines and the given tasks. */
  private static String plan(String extra, String... tasks) {
    return "name: p\n" + extra + AGENT + "tasks:\n" + String.join("", tasks);
  }

  /** One task with a prompt; {@code rest} is further keys at task indentation (two spaces, no dash). */
  private static String task(String id, String rest) {
    String body = "- id: " + id + "\n  prompt: Do the " + id + " part.\n" + (rest.isEmpty() ? "" : "  " + rest + "\n");
    return body.indent(2);
  }
}
