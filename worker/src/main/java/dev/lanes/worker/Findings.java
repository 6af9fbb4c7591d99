package dev.lanes.worker;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lanes.protocol.Claim;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.ProtocolException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * The findings file an agent may leave in its worktree, {@code .lanes/findings.json}, for the lead rather than for
 * the commit ({@code .lanes/} is never committed). Every key is optional; any other key makes the file invalid:
 * <pre>
 * {
 *   "follow-ups": [{"title": "Rename the REST field", "prompt": "…", "owns": ["api/"]}],
 *   "needs":      [{"paths": ["api/src/Handler.java"], "why": "it calls the renamed getter"}],
 *   "questions":  ["Should the old name stay as a deprecated alias?"],
 *   "notes":      ["The tests in core/legacy were already failing at the base commit."],
 *   "review":     {"verdict": "request-changes", "comments": "Keep the old getter as a deprecated alias."}
 * }
 * </pre>
 * <ul>
 *   <li>{@code follow-ups}: tasks the agent suggests. {@code title} (one line, at most 200 characters) and
 *       {@code prompt} are required; {@code owns} is a list of claims, optional.</li>
 *   <li>{@code needs}: paths outside the task's claims the agent would have had to change; {@code paths} (claims, at
 *       least one) and {@code why} are required.</li>
 *   <li>{@code questions}: for a human; {@code notes}: anything the lead should know. Non-blank strings.</li>
 *   <li>{@code review}: a reviewer's verdict, {@code approve} or {@code request-changes}; {@code comments} is required
 *       when changes are requested (it becomes the writer's next prompt), optional otherwise.</li>
 * </ul>
 * Each item becomes one finding: kind {@link Finding#FOLLOW_UP} (text: the follow-up as JSON, paths: its claims),
 * {@link Finding#NEEDS_PATHS} (text: why, paths: the claims), {@link Finding#QUESTION} or {@link Finding#NOTE}. The
 * file is taken whole or not at all: anything wrong with it (not a regular file, over {@value #MAX_BYTES} bytes, not
 * JSON, an unknown key, a claim that does not parse) becomes a single {@link Finding#INVALID_FINDINGS} naming the
 * field, the value and the rule. Reading it never fails the attempt.
 */
final class Findings {
  static final String FILE = ".lanes/findings.json";
  static final int MAX_BYTES = 256 * 1024;
  static final int MAX_ITEMS = 100;
  static final int MAX_TITLE = 200;
  private static final Set<String> KEYS = Set.of("follow-ups", "needs", "questions", "notes", "review");
  private static final Set<String> VERDICTS = Set.of(Finding.APPROVE, Finding.REQUEST_CHANGES);

  private Findings() {}

  /** One finding as the file gives it; the attempt's run, task, epoch and worker are added by whoever publishes it. */
  record Item(String kind, String text, List<String> paths) {
    Item {
      paths = List.copyOf(paths);
    }

    Finding toFinding(String run, String task, int epoch, String worker) {
      return new Finding(run, task, epoch, worker, kind, text, paths);
    }
  }

  /** The findings in the worktree's file; none when there is no file. */
  static List<Item> read(Path worktree) {
    Path dir = worktree.resolve(".lanes");
    Path file = worktree.resolve(FILE);
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return List.of();
    } else if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return invalid(".lanes: must be a directory, not a symbolic link or a file");
    } else if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
      return List.of();
    } else if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
      return invalid("must be a regular file, not a symbolic link, directory or device");
    }
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
      bytes = in.readNBytes(MAX_BYTES + 1);
    } catch (IOException e) {
      return invalid("unreadable: " + e.getMessage());
    }
    if (bytes.length > MAX_BYTES) {
      return invalid("larger than the limit of " + MAX_BYTES + " bytes");
    }
    return parse(bytes);
  }

  /** The findings in the file's bytes, or the one finding that says what is wrong with them. */
  static List<Item> parse(byte[] bytes) {
    if (bytes.length == 0) {
      return invalid("empty; write a JSON object, {} when there is nothing to report");
    }
    JsonNode root;
    try {
      root = Json.mapper().readTree(bytes);
    } catch (JsonProcessingException e) {
      JsonLocation at = e.getLocation();
      return invalid("not valid JSON: " + e.getOriginalMessage()
          + (at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"));
    } catch (IOException e) {
      return invalid("unreadable: " + e.getMessage());
    }
    try {
      return items(root);
    } catch (Problem p) {
      return invalid(p.getMessage());
    }
  }

  private static List<Item> items(JsonNode root) {
    if (root == null || !root.isObject()) {
      throw new Problem("the top level must be a JSON object, not " + describe(root));
    }
    checkKeys(root, "", KEYS);
    List<Item> out = new ArrayList<>();
    ArrayNode followUps = array(root, "follow-ups");
    for (int i = 0; i < followUps.size(); i++) {
      String field = "follow-ups[" + i + "]";
      out.add(followUp(object(followUps.get(i), field), field));
    }
    ArrayNode needs = array(root, "needs");
    for (int i = 0; i < needs.size(); i++) {
      String field = "needs[" + i + "]";
      JsonNode need = object(needs.get(i), field);
      checkKeys(need, field + ".", Set.of("paths", "why"));
      List<String> paths = claims(need, field + ".paths", true);
      out.add(new Item(Finding.NEEDS_PATHS, string(need.get("why"), field + ".why"), paths));
    }
    ArrayNode questions = array(root, "questions");
    for (int i = 0; i < questions.size(); i++) {
      out.add(new Item(Finding.QUESTION, string(questions.get(i), "questions[" + i + "]"), List.of()));
    }
    ArrayNode notes = array(root, "notes");
    for (int i = 0; i < notes.size(); i++) {
      out.add(new Item(Finding.NOTE, string(notes.get(i), "notes[" + i + "]"), List.of()));
    }
    if (root.has("review")) {
      JsonNode review = object(root.get("review"), "review");
      checkKeys(review, "review.", Set.of("verdict", "comments"));
      String verdict = string(review.get("verdict"), "review.verdict");
      if (!VERDICTS.contains(verdict)) {
        throw new Problem("review.verdict: " + quoted(verdict) + " is neither approve nor request-changes");
      }
      boolean needsWords = verdict.equals(Finding.REQUEST_CHANGES) || review.has("comments");
      out.add(new Item(verdict, needsWords ? string(review.get("comments"), "review.comments") : "approved", List.of()));
    }
    if (out.size() > MAX_ITEMS) {
      throw new Problem(out.size() + " items; at most " + MAX_ITEMS + " are taken");
    }
    return List.copyOf(out);
  }

  private static Item followUp(JsonNode item, String field) {
    checkKeys(item, field + ".", Set.of("title", "prompt", "owns"));
    String title = string(item.get("title"), field + ".title");
    if (title.length() > MAX_TITLE || title.contains("\n")) {
      throw new Problem(field + ".title: must be one line of at most " + MAX_TITLE + " characters");
    }
    String prompt = string(item.get("prompt"), field + ".prompt");
    List<String> owns = claims(item, field + ".owns", false);
    ObjectNode text = Json.mapper().createObjectNode();
    text.put("title", title);
    text.put("prompt", prompt);
    ArrayNode claims = text.putArray("owns");
    owns.forEach(claims::add);
    return new Item(Finding.FOLLOW_UP, text.toString(), owns);
  }

  private static List<String> claims(JsonNode parent, String field, boolean required) {
    JsonNode node = parent.get(field.substring(field.lastIndexOf('.') + 1));
    if (node == null && !required) {
      return List.of();
    } else if (node == null) {
      throw new Problem(field + ": required");
    } else if (!node.isArray()) {
      throw new Problem(field + ": must be an array of claims, not " + describe(node));
    } else if (required && node.isEmpty()) {
      throw new Problem(field + ": must name at least one claim");
    } else if (node.size() > Finding.MAX_CLAIMS) {
      throw new Problem(field + ": " + node.size() + " claims; at most " + Finding.MAX_CLAIMS + " are taken");
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < node.size(); i++) {
      String claim = string(node.get(i), field + "[" + i + "]");
      try {
        Claim.parse(claim);
      } catch (ProtocolException e) {
        throw new Problem(field + "[" + i + "]: " + e.getMessage());
      }
      out.add(claim);
    }
    return out;
  }

  /** The array under {@code key}, an empty one when absent. */
  private static ArrayNode array(JsonNode root, String key) {
    JsonNode node = root.get(key);
    if (node == null) {
      return Json.mapper().createArrayNode();
    } else if (!node.isArray()) {
      throw new Problem(key + ": must be an array, not " + describe(node));
    }
    return (ArrayNode) node;
  }

  private static JsonNode object(JsonNode node, String field) {
    if (!node.isObject()) {
      throw new Problem(field + ": must be an object, not " + describe(node));
    }
    return node;
  }

  private static String string(JsonNode node, String field) {
    if (node == null) {
      throw new Problem(field + ": required");
    } else if (!node.isTextual()) {
      throw new Problem(field + ": must be a string, not " + describe(node));
    } else if (node.asText().isBlank()) {
      throw new Problem(field + ": must not be blank");
    }
    return node.asText();
  }

  private static void checkKeys(JsonNode object, String prefix, Set<String> allowed) {
    for (Iterator<String> names = object.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!allowed.contains(name)) {
        throw new Problem(prefix + quoted(name) + ": unknown key; allowed: " + String.join(", ", allowed.stream()
            .sorted().toList()));
      }
    }
  }

  private static String describe(JsonNode node) {
    if (node == null || node.isNull()) {
      return "null";
    }
    String json = node.toString();
    return node.getNodeType().name().toLowerCase(java.util.Locale.ROOT) + " "
        + (json.length() > 60 ? json.substring(0, 57) + "..." : json);
  }

  private static String quoted(String s) {
    return "\"" + (s.length() > 60 ? s.substring(0, 57) + "..." : s) + "\"";
  }

  private static List<Item> invalid(String problem) {
    return List.of(new Item(Finding.INVALID_FINDINGS, FILE + ": " + problem, List.of(FILE)));
  }

  /** The first thing wrong with the file, worded for the lead. */
  private static final class Problem extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Problem(String message) {
      super(message, null, false, false);
    }
  }
}
