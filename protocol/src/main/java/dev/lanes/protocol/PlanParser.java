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
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
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
  private static final Pattern BRANCH = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/-]{0,199}");
  private static final Set<String> PLAN_KEYS = Set.of("name", "base", "target", "agent", "verify", "review", "review-agent", "lead-agent", "tasks");
  private static final Set<String> TASK_KEYS =
      Set.of("id", "title", "prompt", "owns", "after", "requires", "verify", "agent", "review");
  private static final Set<String> AGENT_KEYS = Set.of("command", "claude", "timeout");
  private static final Set<String> CLAUDE_KEYS = Set.of("allowed-tools", "max-turns", "budget-usd", "model");
  private static final ObjectMapper YAML =
      new ObjectMapper(new YAMLFactory().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION));

  private final List<String> problems = new ArrayList<>();

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

  /** Parses plan text; {@code source} names it in error messages. */
  public static Plan parse(String yaml, String source) {
    JsonNode root;
    try {
      root = YAML.readTree(yaml);
    } catch (JsonProcessingException e) {
      int line = e.getLocation() == null ? 0 : e.getLocation().getLineNr();
      throw new PlanException(source, List.of("line " + line + ": not valid YAML: " + e.getOriginalMessage()));
    }
    PlanParser parser = new PlanParser();
    Plan plan = parser.plan(root);
    if (!parser.problems.isEmpty()) {
      throw new PlanException(source, parser.problems);
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
      Map<String, Plan.Task> byId = new LinkedHashMap<>();
      delta.applyTo(plan).tasks().forEach(t -> byId.put(t.id(), t));
      cycle(byId).ifPresent(path -> problem("order", "dependency cycle: " + String.join(" -> ", path)));
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
    String target = optionalText("target", root.get("target")).orElse(name == null ? "" : Plan.defaultTarget(name));
    if (root.has("target")) {
      branch("target", target);
    }
    Optional<AgentSpec> agent = agent("agent", root.get("agent"), Optional.empty());
    Optional<String> verify = optionalText("verify", root.get("verify"));
    boolean review = flag("review", root.get("review")).orElse(false);
    Optional<AgentSpec> reviewAgent = agent("review-agent", root.get("review-agent"), Optional.empty());
    Optional<AgentSpec> leadAgent = agent("lead-agent", root.get("lead-agent"), Optional.empty());
    List<Plan.Task> tasks = tasks(root.get("tasks"), new Defaults(agent, verify, review, reviewAgent));
    return new Plan(name, base, target, tasks, verify, leadAgent);
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
    Map<String, Integer> index = new HashMap<>();
    Set<String> ids = new HashSet<>();
    node.forEach(t -> {
      if (t.isObject() && t.path("id").isValueNode()) {
        ids.add(t.path("id").asText());
      }
    });
    for (int i = 0; i < node.size(); i++) {
      Plan.Task task = task("tasks[" + i + "]", node.get(i), defaults);
      if (task == null) {
        continue;
      }
      Integer first = index.putIfAbsent(task.id(), i);
      if (first != null) {
        problem("tasks[" + i + "].id", quote(task.id()) + " is already the id of tasks[" + first + "]; ids are unique");
      }
      tasks.add(task);
    }
    dependencies(tasks, index, ids);
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
    List<Claim> owns = claims(at + ".owns", node.get("owns"));
    List<String> after = ids(at + ".after", node.get("after"));
    List<String> requires = ids(at + ".requires", node.get("requires"));
    Optional<String> verify = optionalText(at + ".verify", node.get("verify")).or(defaults::verify);
    Optional<AgentSpec> agent = agent(at + ".agent", node.get("agent"), defaults.agent());
    boolean review = flag(at + ".review", node.get("review")).orElse(defaults.review());
    if (agent.isEmpty() && !node.has("agent")) {
      problem(at + ".agent", "missing: the task has no agent and the plan sets no default agent");
    }
    if (id != null && after.contains(id)) {
      problem(at + ".after", "task " + quote(id) + " depends on itself");
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

  /** Checks {@code after} lists against every id written in the plan, even of tasks that have errors of their own. */
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

  private void dependencies(List<Plan.Task> tasks, Map<String, Integer> index, Set<String> ids) {
    Map<String, Plan.Task> byId = new LinkedHashMap<>();
    tasks.forEach(t -> byId.putIfAbsent(t.id(), t));
    for (Plan.Task task : byId.values()) {
      for (int j = 0; j < task.after().size(); j++) {
        String dep = task.after().get(j);
        if (!ids.contains(dep)) {
          problem(
              "tasks[" + index.get(task.id()) + "].after[" + j + "] (task " + task.id() + ")",
              quote(dep) + " is not the id of any task in the plan");
        }
      }
    }
    cycle(byId).ifPresent(path -> problem("tasks", "dependency cycle: " + String.join(" -> ", path)));
  }

  /** Depth-first search over {@code after} edges; returns the first cycle found as a closed path. */
  private static Optional<List<String>> cycle(Map<String, Plan.Task> byId) {
    Map<String, Integer> color = new HashMap<>(); // absent: unvisited, 1: on the stack, 2: done
    for (String start : byId.keySet()) {
      Deque<String> stack = new ArrayDeque<>();
      Optional<List<String>> found = visit(start, byId, color, stack);
      if (found.isPresent()) {
        return found;
      }
    }
    return Optional.empty();
  }

  private static Optional<List<String>> visit(
      String id, Map<String, Plan.Task> byId, Map<String, Integer> color, Deque<String> stack) {
    Integer c = color.get(id);
    if (c != null && c == 2) {
      return Optional.empty();
    }
    if (c != null) {
      List<String> path = new ArrayList<>();
      Iterator<String> it = stack.descendingIterator();
      boolean in = false;
      while (it.hasNext()) {
        String s = it.next();
        in |= s.equals(id);
        if (in) {
          path.add(s);
        }
      }
      path.add(id);
      return Optional.of(path);
    }
    color.put(id, 1);
    stack.push(id);
    Plan.Task task = byId.get(id);
    if (task != null) {
      for (String dep : task.after()) {
        if (!dep.equals(id)) {
          Optional<List<String>> found = visit(dep, byId, color, stack);
          if (found.isPresent()) {
            return found;
          }
        }
      }
    }
    stack.pop();
    color.put(id, 2);
    return Optional.empty();
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
    if (node.has("command") && node.has("claude")) {
      // Reported once; the command is still read so that its own problems are reported too.
      problem(at, "has both command and claude; an agent is either a command or the claude adapter");
    } else if (node.has("claude")) {
      return Optional.of(AgentSpec.claude(claude(at + ".claude", node.get("claude")), timeoutMs));
    }
    List<String> command = strings(at + ".command", node.get("command"), false);
    if (command.isEmpty()) {
      problem(at + ".command", "missing: an agent needs a command (a list: program and arguments)"
          + " or claude (the built-in Claude Code adapter)");
      return Optional.empty();
    }
    return Optional.of(new AgentSpec(command, timeoutMs));
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
      problem(at, "missing: every task must own at least one path (a list of claims such as core/ or **/*.md)");
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

  private void branch(String at, String name) {
    if (!BRANCH.matcher(name).matches()
        || name.contains("..")
        || name.contains("//")
        || name.endsWith("/")
        || name.endsWith(".lock")
        || name.endsWith(".")) {
      problem(at, quote(name) + " is not a valid branch name");
    } else if (name.startsWith("lanes-work/")) {
      problem(at, quote(name) + " is inside lanes-work/, which holds the workers' task branches");
    }
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
