package dev.lanes.protocol;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads a plan file (YAML, version 1) and validates all of it at once.
 *
 * <p>The YAML is read as a tree and walked by hand rather than bound to classes, so that every problem can be reported
 * with its path in the file ({@code tasks[2].owns[0]}), the offending value and the rule, and so that all problems
 * are reported together instead of the first one only. Nothing is returned unless the whole plan is valid.
 */
public final class PlanParser {
  static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
  /**
   * A task's prompt and claims at most: an offer carries the prompt (and up to 24 KiB of context) in one record, and
   * the whole-plan check intersects every claim of a task with the claims of every task that may run beside it.
   */
  public static final int MAX_PROMPT = 64 * 1024;
  public static final int MAX_CLAIMS = 64;
  private static final Set<String> PLAN_KEYS = Set.of("name", "base", "target", "agent", "verify", "review", "review-agent", "lead-agent", "tasks",
      "budget-usd", "budget-stop");
  private static final Set<String> TASK_KEYS =
      Set.of("id", "title", "prompt", "owns", "after", "requires", "verify", "agent", "review");
  private static final Set<String> AGENT_KEYS = Set.of("command", "claude", "timeout", "env");
  private static final Set<String> CLAUDE_KEYS = Set.of("allowed-tools", "max-turns", "budget-usd", "model");
  private static final ObjectMapper YAML =
      new ObjectMapper(new YAMLFactory().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION));

  private final List<String> problems = new ArrayList<>();
  /** Where each task that was read stands in the file ({@code tasks[3]}), in the order of the plan's tasks. */
  private final List<String> where = new ArrayList<>();
  /** Every task id written in the file, even of tasks that could not be read: {@code after} may name them. */
  private final Set<String> written = new HashSet<>();

  private PlanParser() {}

  public static Plan parse(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new PlanException(file.toString(), List.of("no such file"));
    } catch (IOException e) {
      throw new PlanException(file.toString(), List.of("cannot read: " + e.getMessage()));
    }
    return parse(text, file.toString());
  }

  /**
   * Where the YAML went wrong and what, in the reader's terms. The YAML scanner knows the exact place (its problem mark)
   * and what it was reading when it got there (its context); Jackson's own location is where its parser stood, often
   * the line before, and its message quotes the scanner's internals ({@code in 'reader'}, a caret drawing).
   */
  static String yamlProblem(JsonProcessingException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof org.yaml.snakeyaml.error.MarkedYAMLException m && m.getProblemMark() != null) {
        String context = m.getContext() == null || m.getContextMark() == null ? ""
            : " (" + m.getContext() + " from " + place(m.getContextMark().getLine(), m.getContextMark().getColumn())
                + ")";
        return place(m.getProblemMark().getLine(), m.getProblemMark().getColumn()) + ": not valid YAML: "
            + plain(m.getProblem()) + context;
      }
    }
    var where = e.getLocation();
    return (where == null ? "" : "line " + where.getLineNr() + ", column " + where.getColumnNr() + ": ")
        + "not valid YAML: " + e.getOriginalMessage();
  }

  /** A zero-based mark as people count: line 1, column 1. */
  private static String place(int line, int column) {
    return "line " + (line + 1) + ", column " + (column + 1);
  }

  private static String plain(String problem) {
    String text = problem.replace("'\\t(TAB)'", "a tab").replace("\\t(TAB)", "a tab").strip();
    return text.contains("a tab") && text.contains("cannot start any token")
        ? "a tab cannot indent YAML (use spaces)" : text.replaceAll("[.]$", "");
  }

  /** Parses plan text; {@code source} names it in error messages. */
  public static Plan parse(String yaml, String source) {
    JsonNode root;
    try {
      root = YAML.readTree(yaml);
    } catch (JsonProcessingException e) {
      throw new PlanException(source, List.of(yamlProblem(e)));
    }
    PlanParser parser = new PlanParser();
    Plan plan = parser.plan(root);
    if (plan != null) {
      parser.rules(plan, parser.where, parser.written);
    }
    if (!parser.problems.isEmpty()) {
      throw new PlanException(source, parser.problems);
    }
    return plan;
  }

  /**
   * Checks a plan that arrives already bound to a {@link Plan} (submitted on the bus) by exactly the rules a plan file
   * is read with: ids and their uniqueness, dependencies that name tasks and form no cycle, tasks that own something,
   * and target and base that are valid branch names. Fields are named as in a file ({@code tasks[2].after[0]}).
   *
   * @return the plan, when it passes
   * @throws PlanException listing every problem, each naming its field, the value and the rule
   */
  public static Plan check(Plan plan) {
    PlanParser parser = new PlanParser();
    List<String> where = new ArrayList<>();
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < plan.tasks().size(); i++) {
      where.add("tasks[" + i + "]");
      ids.add(plan.tasks().get(i).id());
    }
    if (plan.tasks().isEmpty()) {
      parser.problem("tasks", "expected a non-empty list of tasks, got an empty list"); // a file's reading says so too
    }
    parser.rules(plan, where, ids);
    if (!parser.problems.isEmpty()) {
      throw new PlanException("plan", parser.problems);
    }
    return plan;
  }

  /**
   * What a lead runs: a plan that passes {@link #check}, in which no two tasks that may run at the same time own a
   * common path. A client orders conflicting tasks before it submits ({@link OwnershipCheck#serialize}), so a
   * conflict left in a submitted plan is refused rather than run. Each conflict is reported at the claims of the later
   * of its two tasks.
   *
   * @throws PlanException listing every problem, each naming its field, the value and the rule
   */
  public static Plan runnable(Plan plan) {
    check(plan);
    List<String> problems = new ArrayList<>();
    TaskGraph graph = TaskGraph.of(plan);
    for (OwnershipReport.Conflict c : OwnershipCheck.check(plan).conflicts()) {
      int later = Math.max(graph.index(c.tasks().get(0)), graph.index(c.tasks().get(1)));
      problems.add("tasks[" + later + "].owns (task " + graph.ids().get(later) + "): " + c.describe(3)
          + "; tasks that may run at the same time must own disjoint paths (order one after the other with after)");
    }
    if (!problems.isEmpty()) {
      throw new PlanException("plan", problems);
    }
    return plan;
  }

  private static final Set<String> DELTA_KEYS = Set.of("add", "drop", "order", "scope");

  /**
   * Reads a lead agent's plan delta (JSON, see {@link PlanDelta}) against the plan it changes. Added tasks take what
   * they leave out (agent, verify, requires, review) from {@code template}, the task whose findings were answered.
   * Every problem is reported at once, each naming its field ({@code add[0].owns[1]}), the value and the rule.
   */
  public static PlanDelta delta(String json, Plan plan, Plan.Task template) {
    JsonNode root;
    try {
      root = Json.mapper().readTree(json);
    } catch (JsonProcessingException e) {
      throw new PlanException("delta", List.of("not valid JSON: " + e.getOriginalMessage()));
    }
    PlanParser parser = new PlanParser();
    PlanDelta delta = parser.delta(root, plan, template);
    if (!parser.problems.isEmpty()) {
      throw new PlanException("delta", parser.problems);
    }
    return delta;
  }

  private PlanDelta delta(JsonNode root, Plan plan, Plan.Task template) {
    if (root == null || !root.isObject()) {
      problem("delta", "expected a JSON object with add, drop, order or scope, got " + kind(root));
      return null;
    }
    unknownKeys("", root, DELTA_KEYS);
    Set<String> known = new HashSet<>();
    plan.tasks().forEach(t -> known.add(t.id()));
    Defaults defaults = new Defaults(Optional.of(template.agent()), template.verify(), template.review().isPresent(),
        template.review());
    List<Plan.Task> add = new ArrayList<>();
    JsonNode adds = root.path("add");
    for (int i = 0; i < adds.size(); i++) {
      Plan.Task task = task("add[" + i + "]", adds.get(i), defaults);
      if (task == null) {
        continue;
      }
      if (!known.add(task.id())) {
        problem("add[" + i + "].id", quote(task.id()) + " is already the id of a task in the plan; ids are unique");
        continue;
      }
      add.add(task.requires().isEmpty() && !adds.get(i).has("requires")
          ? new Plan.Task(task.id(), task.title(), task.prompt(), task.owns(), task.after(), template.requires(),
              task.agent(), task.verify(), task.review())
          : task);
    }
    List<String> drop = existing("drop", ids("drop", root.get("drop")), known);
    Map<String, List<String>> order = new LinkedHashMap<>();
    Map<String, List<Claim>> scope = new LinkedHashMap<>();
    JsonNode orders = root.path("order");
    for (int i = 0; i < orders.size(); i++) {
      String at = "order[" + i + "]";
      String task = id(at + ".task", orders.get(i).get("task"));
      if (task != null && existing(at + ".task", List.of(task), known).size() == 1) {
        order.put(task, existing(at + ".after", ids(at + ".after", orders.get(i).get("after")), known));
      }
    }
    JsonNode scopes = root.path("scope");
    for (int i = 0; i < scopes.size(); i++) {
      String at = "scope[" + i + "]";
      String task = id(at + ".task", scopes.get(i).get("task"));
      if (task != null && existing(at + ".task", List.of(task), known).size() == 1) {
        scope.put(task, claims(at + ".owns", scopes.get(i).get("owns")));
      }
    }
    PlanDelta delta = new PlanDelta(add, drop, order, scope);
    for (Plan.Task t : add) {
      existing("add (task " + t.id() + ").after", t.after(), known);
    }
    if (problems.isEmpty()) {
      TaskGraph.of(delta.applyTo(plan)).cycle()
          .ifPresent(path -> problem("order", "dependency cycle: " + String.join(" -> ", path)));
    }
    return delta;
  }

  /** The ids that name tasks; each that does not is a problem. */
  private List<String> existing(String at, List<String> ids, Set<String> known) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < ids.size(); i++) {
      if (known.contains(ids.get(i))) {
        out.add(ids.get(i));
      } else {
        problem(at + "[" + i + "]", quote(ids.get(i)) + " is not the id of any task in the plan");
      }
    }
    return out;
  }

  private Plan plan(JsonNode root) {
    if (root == null || !root.isObject()) {
      problem("plan", "expected a mapping with name and tasks, got " + kind(root));
      return null;
    }
    unknownKeys("", root, PLAN_KEYS);
    String name = id("name", root.get("name"));
    Optional<String> base = optionalText("base", root.get("base"));
    String target = optionalText("target", root.get("target")).orElse(name == null ? null : Plan.defaultTarget(name));
    Optional<AgentSpec> agent = agent("agent", root.get("agent"), Optional.empty());
    Optional<String> verify = optionalText("verify", root.get("verify"));
    boolean review = flag("review", root.get("review")).orElse(false);
    Optional<AgentSpec> reviewAgent = agent("review-agent", root.get("review-agent"), Optional.empty());
    Optional<AgentSpec> leadAgent = agent("lead-agent", root.get("lead-agent"), Optional.empty());
    if (leadAgent.filter(a -> !a.env().isEmpty()).isPresent()) {
      // A plan may ask a worker for its variables, never the lead: its operator passes them, or nobody does.
      problem("lead-agent.env", "the lead agent sees only what lanes coordinator --pass-env passes; a plan cannot"
          + " name variables of the lead");
      leadAgent = leadAgent.map(a -> a.withEnv(List.of()));
    }
    List<Plan.Task> tasks = tasks(root.get("tasks"), new Defaults(agent, verify, review, reviewAgent));
    return new Plan(name, base, target, tasks, verify, leadAgent, budget(root));
  }

  /** The run's budget: {@code budget-usd} (an amount of dollars) and {@code budget-stop} ({@code finish}, {@code now}). */
  private Optional<Plan.Budget> budget(JsonNode root) {
    JsonNode usd = root.get("budget-usd");
    JsonNode stop = root.get("budget-stop");
    Plan.Budget.Stop how = Plan.Budget.Stop.FINISH;
    if (stop != null && !stop.isNull()) {
      if (stop.isTextual() && stop.asText().equals("finish") || stop.isTextual() && stop.asText().equals("now")) {
        how = stop.asText().equals("now") ? Plan.Budget.Stop.NOW : Plan.Budget.Stop.FINISH;
      } else {
        problem("budget-stop", describe(stop) + " is not finish (running attempts finish) or now (they are"
            + " cancelled and kept)");
      }
      if (usd == null || usd.isNull()) {
        problem("budget-stop", "given without budget-usd: it says what happens when the budget is reached");
      }
    }
    if (usd == null || usd.isNull()) {
      return Optional.empty();
    }
    if (!usd.isNumber() || usd.isFloatingPointNumber() && !Double.isFinite(usd.asDouble())) {
      problem("budget-usd", describe(usd) + " is not an amount of dollars (such as 25 or 2.50)");
      return Optional.empty();
    }
    // In its shortest decimal form: 0.1 is 0.1, not the double nearest to it.
    java.math.BigDecimal amount = usd.decimalValue();
    Optional<String> wrong = Usd.budgetProblem("budget-usd", amount);
    wrong.ifPresent(p -> problems.add(p));
    return wrong.isPresent() ? Optional.empty() : Optional.of(new Plan.Budget(amount, how));
  }

  /** What a task takes from the plan unless it says otherwise. */
  private record Defaults(Optional<AgentSpec> agent, Optional<String> verify, boolean review,
      Optional<AgentSpec> reviewAgent) {}

  private List<Plan.Task> tasks(JsonNode node, Defaults defaults) {
    List<Plan.Task> tasks = new ArrayList<>();
    if (node == null || !node.isArray() || node.isEmpty()) {
      problem("tasks", "expected a non-empty list of tasks, got " + kind(node));
      return tasks;
    }
    node.forEach(t -> {
      if (t.isObject() && t.path("id").isValueNode()) {
        written.add(t.path("id").asText());
      }
    });
    for (int i = 0; i < node.size(); i++) {
      Plan.Task task = task("tasks[" + i + "]", node.get(i), defaults);
      if (task != null) {
        tasks.add(task);
        where.add("tasks[" + i + "]");
      }
    }
    return tasks;
  }

  private Plan.Task task(String at, JsonNode node, Defaults defaults) {
    if (node == null || !node.isObject()) {
      problem(at, "expected a mapping with id, prompt and owns, got " + kind(node));
      return null;
    }
    int firstProblem = problems.size();
    unknownKeys(at + ".", node, TASK_KEYS);
    String id = id(at + ".id", node.get("id"));
    String title = optionalText(at + ".title", node.get("title")).orElse(id);
    String prompt = requiredText(at + ".prompt", node.get("prompt"));
    if (prompt != null && prompt.length() > MAX_PROMPT) {
      problem(at + ".prompt", tooLong(prompt));
    }
    List<Claim> owns = claims(at + ".owns", node.get("owns"));
    List<String> after = ids(at + ".after", node.get("after"));
    List<String> requires = ids(at + ".requires", node.get("requires"));
    Optional<String> verify = optionalText(at + ".verify", node.get("verify")).or(defaults::verify);
    Optional<AgentSpec> agent = agent(at + ".agent", node.get("agent"), defaults.agent());
    boolean review = flag(at + ".review", node.get("review")).orElse(defaults.review());
    if (agent.isEmpty() && !node.has("agent")) {
      problem(at + ".agent", "missing: the task has no agent and the plan sets no default agent");
    }
    if (id != null) {
      nameTask(firstProblem, at, id);
    }
    if (id == null || agent.isEmpty()) {
      return null;
    }
    Optional<AgentSpec> reviewer = review ? defaults.reviewAgent().or(() -> agent) : Optional.empty();
    return new Plan.Task(id, title, prompt == null ? "" : prompt, owns, after, requires, agent.get(), verify, reviewer);
  }

  private Optional<Boolean> flag(String at, JsonNode node) {
    if (node == null || node.isNull()) {
      return Optional.empty();
    }
    if (!node.isBoolean()) {
      problem(at, "expected true or false, got " + describe(node));
      return Optional.empty();
    }
    return Optional.of(node.booleanValue());
  }

  /** Adds the task's id after the field of each of its problems: {@code tasks[3].owns[0] (task core): …}. */
  private void nameTask(int from, String at, String id) {
    for (int i = from; i < problems.size(); i++) {
      String p = problems.get(i);
      int colon = p.indexOf(": ");
      if (p.startsWith(at + ".") && colon > 0 && !p.startsWith(at + ".id:")) {
        problems.set(i, p.substring(0, colon) + " (task " + id + ")" + p.substring(colon));
      }
    }
  }

  /**
   * The rules of a plan beyond its form, for a plan file and a plan from the wire alike (see {@link #check}). A field
   * whose reading already found it wrong is not reported again.
   *
   * @param where where each task stands in the file, in the order of the plan's tasks
   * @param written every task id written, even of tasks that could not be read: a dependency on one is not unknown
   */
  private void rules(Plan plan, List<String> where, Set<String> written) {
    if (plan.name() != null && !ID.matcher(plan.name()).matches()) {
      once("name", quote(plan.name()) + " " + ID_RULE);
    }
    if (plan.target() != null) {
      RefName.broken(plan.target()).ifPresentOrElse(
          why -> once("target", quote(plan.target()) + " is not a valid branch name: it " + why),
          () -> {
            if (plan.target().startsWith("lanes-work/")) {
              once("target", quote(plan.target()) + " is inside lanes-work/, which holds the workers' task branches");
            }
          });
    }
    plan.base().ifPresent(base -> RefName.broken(base).ifPresent(
        why -> once("base", quote(base) + " is not a valid branch, tag or commit name: it " + why)));
    plan.verify().filter(String::isBlank).ifPresent(v -> once("verify", "expected a non-empty string, got " + kind(v)));
    plan.leadAgent().ifPresent(a -> agentRules("lead-agent", "", a));
    plan.budget().flatMap(b -> Usd.budgetProblem("budget-usd", b.usd())).ifPresent(p -> once("budget-usd", p
        .substring("budget-usd: ".length())));
    Map<String, Integer> first = new HashMap<>();
    List<Plan.Task> unique = new ArrayList<>();
    for (int i = 0; i < plan.tasks().size(); i++) {
      Plan.Task task = plan.tasks().get(i);
      String at = where.get(i);
      String named = ID.matcher(task.id()).matches() ? " (task " + task.id() + ")" : "";
      if (!ID.matcher(task.id()).matches()) {
        once(at + ".id", quote(task.id()) + " " + ID_RULE);
      }
      Integer earlier = first.putIfAbsent(task.id(), i);
      if (earlier != null) {
        once(at + ".id", quote(task.id()) + " is already the id of " + where.get(earlier) + "; ids are unique");
      }
      if (task.title().isBlank()) {
        once(at + ".title", named, "expected a non-empty string, got " + kind(task.title()));
      }
      if (task.prompt().isBlank()) {
        once(at + ".prompt", named, "expected a non-empty string, got " + kind(task.prompt()));
      } else if (task.prompt().length() > MAX_PROMPT) {
        once(at + ".prompt", named, tooLong(task.prompt()));
      }
      if (task.owns().isEmpty()) {
        once(at + ".owns", named, OWNS_MISSING);
      } else if (task.owns().size() > MAX_CLAIMS) {
        once(at + ".owns", named, tooMany(task.owns().size()));
      }
      task.verify().filter(String::isBlank)
          .ifPresent(v -> once(at + ".verify", named, "expected a non-empty string, got " + kind(v)));
      for (int j = 0; j < task.requires().size(); j++) {
        String capability = task.requires().get(j);
        if (!ID.matcher(capability).matches()) {
          once(at + ".requires[" + j + "]", named, quote(capability) + " " + ID_RULE);
        }
      }
      agentRules(at + ".agent", named, task.agent());
      task.review().ifPresent(a -> agentRules(at + ".review", named, a));
      for (int j = 0; j < task.after().size(); j++) {
        String dep = task.after().get(j);
        if (!ID.matcher(dep).matches()) {
          once(at + ".after[" + j + "]", named, quote(dep) + " " + ID_RULE);
        } else if (dep.equals(task.id())) {
          once(at + ".after", named, "task " + quote(dep) + " depends on itself");
        } else if (!written.contains(dep)) {
          once(at + ".after[" + j + "]", named, quote(dep) + " is not the id of any task in the plan");
        }
      }
      if (earlier == null) {
        // A task that waits for itself is reported above; the cycle search looks for longer ones.
        unique.add(task.withAfter(task.after().stream().filter(d -> !d.equals(task.id())).toList()));
      }
    }
    TaskGraph.of(unique).cycle().ifPresent(path -> problem("tasks", "dependency cycle: " + String.join(" -> ", path)));
    if (problems.isEmpty()) {
      // Said now rather than by the lead, after a broker started: a run records its plan whole, in one record.
      tooLargeToRecord(plan).ifPresent(p -> problem("tasks", p));
    }
  }

  /** Why a run could not record {@code plan} whole in one record, if it could not. */
  private static Optional<String> tooLargeToRecord(Plan plan) {
    int bytes = RunStarted.recordedSize(plan);
    if (bytes <= Json.MAX_MESSAGE_BYTES) {
      return Optional.empty();
    }
    long fit = Math.max(1, (long) plan.tasks().size() * Json.MAX_MESSAGE_BYTES / bytes * 9 / 10);
    return Optional.of(plan.tasks().size() + " tasks take " + bytes + " bytes as a run records its plan (whole, in"
        + " one record), more than the " + Json.MAX_MESSAGE_BYTES + " a record may carry; split the plan into plans of"
        + " at most about " + fit + " tasks like these and run them one after the other");
  }

  /**
   * A plan as a client is about to hand it to a lead, after it ordered conflicting tasks (which adds dependencies and
   * so bytes): refused, as when it was read, if a run could not record it.
   *
   * @throws PlanException naming the size and about how many tasks fit
   */
  public static Plan recordable(Plan plan, String source) {
    tooLargeToRecord(plan).ifPresent(p -> {
      throw new PlanException(source, List.of("tasks: " + p));
    });
    return plan;
  }

  private void agentRules(String at, String named, AgentSpec agent) {
    if (agent.timeoutMs() <= 0) {
      once(at + ".timeout", named, agent.timeoutMs() + " ms must be longer than zero");
    }
    if (!agent.command().isEmpty() && agent.command().get(0).isBlank()) {
      once(at + ".command[0]", named, "expected a program, got " + kind(agent.command().get(0)));
    }
  }

  /** A problem of a field, unless the field (or a part of it, such as one of its items) already has one. */
  private void once(String at, String what) {
    once(at, "", what);
  }

  private void once(String at, String named, String what) {
    for (String p : problems) {
      if (p.startsWith(at) && p.length() > at.length() && ":[. ".indexOf(p.charAt(at.length())) >= 0) {
        return;
      }
    }
    problem(at + named, what);
  }

  private Optional<AgentSpec> agent(String at, JsonNode node, Optional<AgentSpec> fallback) {
    if (node == null || node.isNull()) {
      return fallback;
    }
    if (!node.isObject()) {
      problem(at, "expected a mapping with a command or claude, and a timeout, got " + kind(node));
      return Optional.empty();
    }
    unknownKeys(at + ".", node, AGENT_KEYS);
    long timeoutMs = timeout(at + ".timeout", node.get("timeout")).toMillis();
    List<String> env = env(at + ".env", node.get("env"));
    if (node.has("command") && node.has("claude")) {
      // Reported once; the command is still read so that its own problems are reported too.
      problem(at, "has both command and claude; an agent is either a command or the claude adapter");
    } else if (node.has("claude")) {
      return Optional.of(AgentSpec.claude(claude(at + ".claude", node.get("claude")), timeoutMs).withEnv(env));
    }
    List<String> command = strings(at + ".command", node.get("command"), false);
    if (command.isEmpty()) {
      problem(at + ".command", "missing: an agent needs a command (a list: program and arguments)"
          + " or claude (the built-in Claude Code adapter)");
      return Optional.empty();
    }
    return Optional.of(new AgentSpec(command, timeoutMs).withEnv(env));
  }

  /** The names of an agent's {@code env}; a bad name is reported and left out. */
  private List<String> env(String at, JsonNode node) {
    List<String> names = strings(at, node, false);
    if (names.size() > AgentSpec.MAX_ENV) {
      problem(at, names.size() + " names is more than " + AgentSpec.MAX_ENV);
      return List.of();
    }
    List<String> valid = new ArrayList<>();
    for (int i = 0; i < names.size(); i++) {
      Optional<String> rule = AgentSpec.envNameProblem(names.get(i));
      if (rule.isPresent()) {
        problem(at + "[" + i + "]", rule.get());
      } else {
        valid.add(names.get(i));
      }
    }
    return valid;
  }

  private Duration timeout(String at, JsonNode node) {
    Optional<String> text = optionalText(at, node);
    if (text.isEmpty()) {
      return AgentSpec.DEFAULT_TIMEOUT;
    }
    try {
      Duration timeout = Durations.parse(at, text.get());
      if (!timeout.isZero()) {
        return timeout;
      }
      problem(at, "\"" + text.get() + "\" must be longer than zero");
    } catch (ProtocolException e) {
      problems.add(e.getMessage());
    }
    return AgentSpec.DEFAULT_TIMEOUT;
  }

  /**
   * The claude adapter's options; an empty {@code claude:} takes the CLI's defaults. A bad option is reported and left
   * out, so that it is the only problem reported for the agent.
   */
  private ClaudeAgent claude(String at, JsonNode node) {
    if (node == null || node.isNull()) {
      return ClaudeAgent.defaults();
    }
    if (!node.isObject()) {
      problem(at, "expected a mapping of options (" + String.join(", ", sorted(CLAUDE_KEYS)) + "), got " + kind(node));
      return ClaudeAgent.defaults();
    }
    unknownKeys(at + ".", node, CLAUDE_KEYS);
    List<String> tools = strings(at + ".allowed-tools", node.get("allowed-tools"), false);
    for (int i = 0; i < tools.size(); i++) {
      if (tools.get(i).isBlank()) {
        problem(at + ".allowed-tools[" + i + "]", "expected a tool such as Read or \"Bash(git diff *)\", got "
            + kind(node.get("allowed-tools").get(i)));
      }
    }
    Optional<Integer> maxTurns = positiveInt(at + ".max-turns", node.get("max-turns"));
    Optional<Double> budget = positiveNumber(at + ".budget-usd", node.get("budget-usd"));
    Optional<String> model = optionalText(at + ".model", node.get("model"));
    return new ClaudeAgent(tools.stream().filter(t -> !t.isBlank()).toList(), maxTurns, budget, model);
  }

  private Optional<Integer> positiveInt(String at, JsonNode node) {
    if (node == null || node.isNull()) {
      return Optional.empty();
    }
    if (!node.isIntegralNumber() || !node.canConvertToInt() || node.asInt() < 1) {
      problem(at, describe(node) + " is not a whole number of at least 1");
      return Optional.empty();
    }
    return Optional.of(node.asInt());
  }

  private Optional<Double> positiveNumber(String at, JsonNode node) {
    if (node == null || node.isNull()) {
      return Optional.empty();
    }
    double value = node.asDouble();
    if (!node.isNumber() || !(value > 0) || Double.isInfinite(value)) {
      problem(at, describe(node) + " is not an amount of dollars greater than zero (such as 2.50)");
      return Optional.empty();
    }
    return Optional.of(value);
  }

  private List<Claim> claims(String at, JsonNode node) {
    List<String> texts = strings(at, node, true);
    if (node == null || texts.isEmpty()) {
      problem(at, OWNS_MISSING);
    } else if (texts.size() > MAX_CLAIMS) {
      problem(at, tooMany(texts.size()));
      return List.of();
    }
    List<Claim> claims = new ArrayList<>();
    for (int i = 0; i < texts.size(); i++) {
      try {
        claims.add(Claim.parse(texts.get(i)));
      } catch (ProtocolException e) {
        problem(at + "[" + i + "]", e.getMessage());
      }
    }
    return claims;
  }

  private List<String> ids(String at, JsonNode node) {
    List<String> ids = strings(at, node, true);
    for (int i = 0; i < ids.size(); i++) {
      if (!ID.matcher(ids.get(i)).matches()) {
        problem(at + "[" + i + "]", quote(ids.get(i)) + " " + ID_RULE);
      }
    }
    return ids;
  }

  /** A list of strings; a single scalar is read as a list of one when {@code scalarOk}. */
  private List<String> strings(String at, JsonNode node, boolean scalarOk) {
    List<String> out = new ArrayList<>();
    if (node == null || node.isNull()) {
      return out;
    }
    if (scalarOk && node.isValueNode()) {
      out.add(node.asText());
      return out;
    }
    if (!node.isArray()) {
      problem(at, "expected a list of strings, got " + kind(node));
      return out;
    }
    for (int i = 0; i < node.size(); i++) {
      JsonNode item = node.get(i);
      if (item.isValueNode() && !item.isNull()) {
        out.add(item.asText());
      } else {
        problem(at + "[" + i + "]", "expected a string, got " + kind(item));
      }
    }
    return out;
  }

  private static String tooLong(String prompt) {
    return prompt.length() + " characters; at most " + MAX_PROMPT;
  }

  private static String tooMany(int claims) {
    return claims + " claims; at most " + MAX_CLAIMS + " a task";
  }

  private static final String OWNS_MISSING =
      "missing: every task must own at least one path (a list of claims such as core/ or **/*.md)";

  private static final String ID_RULE =
      "is not a valid id: lower-case letters, digits and '-', starting with a letter or digit, at most 63 characters";

  private String id(String at, JsonNode node) {
    String text = requiredText(at, node);
    if (text != null && !ID.matcher(text).matches()) {
      problem(at, quote(text) + " " + ID_RULE);
      return null;
    }
    return text;
  }

  private String requiredText(String at, JsonNode node) {
    if (node == null || node.isNull()) {
      problem(at, "missing");
      return null;
    }
    if (!node.isValueNode() || node.asText().isBlank()) {
      problem(at, "expected a non-empty string, got " + kind(node));
      return null;
    }
    return node.asText();
  }

  private Optional<String> optionalText(String at, JsonNode node) {
    if (node == null || node.isNull()) {
      return Optional.empty();
    }
    if (!node.isValueNode() || node.asText().isBlank()) {
      problem(at, "expected a non-empty string, got " + kind(node));
      return Optional.empty();
    }
    return Optional.of(node.asText());
  }

  private void unknownKeys(String prefix, JsonNode node, Set<String> known) {
    Set<String> seen = new HashSet<>();
    node.fieldNames()
        .forEachRemaining(
            key -> {
              if (!known.contains(key) && seen.add(key)) {
                problem(prefix + key, "unknown key; known keys here are " + String.join(", ", sorted(known)));
              }
            });
  }

  private static List<String> sorted(Set<String> set) {
    List<String> list = new ArrayList<>(set);
    list.sort(null);
    return list;
  }

  private void problem(String at, String what) {
    problems.add(at + ": " + what);
  }

  private static String quote(String s) {
    return "\"" + s + "\"";
  }

  /** A value as written, for messages: {@code 0}, {@code "ten"}, or the kind of a list or mapping. */
  private static String describe(JsonNode node) {
    return node.isTextual() ? quote(node.asText()) : node.isValueNode() ? node.asText() : kind(node);
  }

  /** A string value, for messages. */
  private static String kind(String text) {
    return text.isBlank() ? "an empty string" : "the string " + quote(text);
  }

  private static String kind(JsonNode node) {
    if (node == null || node.isNull() || node.isMissingNode()) {
      return "nothing";
    } else if (node.isObject()) {
      return "a mapping";
    } else if (node.isArray()) {
      return "a list";
    } else if (node.isTextual()) {
      return node.asText().isBlank() ? "an empty string" : "the string " + quote(node.asText());
    }
    return node.getNodeType().toString().toLowerCase(java.util.Locale.ROOT) + " " + node.asText();
  }
}
