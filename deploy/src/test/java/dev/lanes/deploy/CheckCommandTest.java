package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lanes.protocol.Json;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CheckCommandTest {
  private static final String WARNING = " covers no file at the base commit (new files are fine; typos are not)";

  @TempDir Path dir;

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  @Test
  void conflictsExitOneAndNameEachPairWithAnExamplePath() throws Exception {
    Path repo = repo("core/A.java", "api/B.java", "docs/x.md", "web/index.html");
    Path plan = plan(
        task("core", "[core/]"),
        task("api", "['**/*.java']"),
        task("docs", "['docs/*.md']"),
        task("web", "[web/, 'docs/web*.md']"));

    int code = check(plan, "--repo", repo.toString());

    assertThat(code).isEqualTo(1);
    assertThat(lines(out)).containsExactly(
        "conflict: core (core/) and api (**/*.java) both own core/x.java; at base: core/A.java",
        "conflict: api (**/*.java) and web (web/) both own web/x.java",
        "conflict: docs (docs/*.md) and web (docs/web*.md) both own docs/web.md",
        "warning: tasks[3].owns[1]: \"docs/web*.md\"" + WARNING,
        "3 conflicts, 1 warning among 4 tasks");
    assertThat(err.toString()).isEmpty();
  }

  @Test
  void cleanPlanExitsZero() throws Exception {
    Path repo = repo("core/A.java", "api/B.java");
    Path plan = plan(task("core", "[core/]"), task("api", "['**/*.java']", "[core]"), task("docs", "['docs/*.md']"));

    int code = check(plan, "--repo", repo.toString());

    assertThat(code).isZero();
    assertThat(lines(out)).containsExactly("warning: tasks[2].owns[0]: \"docs/*.md\"" + WARNING,
        "0 conflicts, 1 warning among 3 tasks");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"../x", "/etc", "a/./b", "[", "{a,"})
  void hostileClaimsExitTwoNamingTheTaskAndTheClaim(String claim) throws Exception {
    Path plan = plan(task("fine", "[fine/]"), task("bad", "[ok/, '" + claim + "']"));

    int code = check(plan);

    assertThat(code).isEqualTo(2);
    assertThat(out.toString()).isEmpty();
    assertThat(err.toString())
        .startsWith("lanes: " + plan + ": tasks[1].owns[1] (task bad): claim \"" + claim + "\": ");
  }

  @Test
  void hostileClaimsWithJsonPrintTheErrorsAsJsonAndExitTwo() throws Exception {
    Path plan = plan(task("bad", "['../x', '/etc']"));

    int code = check(plan, "--json");

    assertThat(code).isEqualTo(2);
    JsonNode json = Json.mapper().readTree(out.toString());
    assertThat(fieldNames(json)).containsExactly("conflicts", "warnings", "errors");
    assertThat(json.get("conflicts")).isEmpty();
    assertThat(json.get("warnings")).isEmpty();
    assertThat(texts(json.get("errors"))).satisfiesExactly(
        e -> assertThat(e).startsWith("tasks[0].owns[0] (task bad): claim \"../x\": "),
        e -> assertThat(e).startsWith("tasks[0].owns[1] (task bad): claim \"/etc\": "));
  }

  @Test
  void jsonHasTheDocumentedShape() throws Exception {
    Path repo = repo("core/A.java", "core/B.java", "core/notes.txt", "README.md");
    Path plan = plan(task("core", "[core/]"), task("api", "['**/*.java']"), task("typo", "[crore/]"));

    int code = check(plan, "--repo", repo.toString(), "--json");

    assertThat(code).isEqualTo(1);
    assertThat(lines(out)).hasSize(1);
    JsonNode json = Json.mapper().readTree(out.toString());
    assertThat(fieldNames(json)).containsExactly("conflicts", "warnings", "errors");
    assertThat(json.get("conflicts")).hasSize(2);
    JsonNode first = json.get("conflicts").get(0);
    assertThat(fieldNames(first)).containsExactly("tasks", "claims", "example", "files");
    assertThat(texts(first.get("tasks"))).containsExactly("core", "api");
    assertThat(texts(first.get("claims"))).containsExactly("core/", "**/*.java");
    assertThat(first.get("example").asText()).isEqualTo("core/x.java");
    assertThat(texts(first.get("files"))).containsExactly("core/A.java", "core/B.java");
    assertThat(texts(json.get("conflicts").get(1).get("tasks"))).containsExactly("api", "typo");
    assertThat(texts(json.get("conflicts").get(1).get("files"))).isEmpty();
    assertThat(texts(json.get("warnings"))).containsExactly("tasks[2].owns[0]: \"crore/\"" + WARNING);
    assertThat(json.get("errors")).isEmpty();
  }

  @Test
  void repoListsTheCommonFilesAtBaseAndCountsTheRest() throws Exception {
    List<String> files = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      files.add("core/src/F" + i + ".java");
    }
    files.add("core/README.md");
    Path repo = repo(files.toArray(new String[0]));
    Path plan = plan(task("core", "[core/]"), task("api", "['**/*.java', 'api/']"));

    int code = check(plan, "--repo", repo.toString());

    assertThat(code).isEqualTo(1);
    assertThat(lines(out)).containsExactly(
        "conflict: core (core/) and api (**/*.java) both own core/x.java; at base: core/src/F0.java,"
            + " core/src/F1.java, core/src/F2.java (+5 more)",
        "warning: tasks[1].owns[1]: \"api/\"" + WARNING,
        "1 conflict, 1 warning among 2 tasks");
  }

  @Test
  void tasksOrderedTransitivelyAreNotInConflict() throws Exception {
    Path repo = repo("shared/a.txt", "mid/b.txt");
    Path plan = plan(
        task("first", "[shared/]"), task("middle", "[mid/]", "[first]"), task("last", "[shared/]", "[middle]"));

    assertThat(check(plan, "--repo", repo.toString())).isZero();
    assertThat(lines(out)).containsExactly("0 conflicts, 0 warnings among 3 tasks");
  }

  @Test
  void repoThatIsNotARepositoryExitsTwo() throws Exception {
    Path plan = plan(task("core", "[core/]"));
    Path empty = Files.createDirectories(dir.resolve("not-a-repo"));

    int code = check(plan, "--repo", empty.toString());

    assertThat(code).isEqualTo(2);
    assertThat(err.toString()).contains("is not inside a git repository");
  }

  @Test
  void repoThatDoesNotExistSaysSoRatherThanLookingAboveIt() throws Exception {
    Path plan = plan(task("core", "[core/]"));

    // Relative, from a working directory inside a git repository (the build's): no repository above it may be used.
    int code = check(plan, "--repo", "no/such/dir");

    assertThat(code).isEqualTo(2);
    assertThat(err.toString()).isEqualTo("lanes: --repo: " + Path.of("no/such/dir").toAbsolutePath() + " does not exist"
        + System.lineSeparator());
  }

  @Test
  void baseMissingFromTheRepoExitsTwoAndWithJsonSaysSoInErrors() throws Exception {
    Path repo = repo("a.txt");
    Path plan = Files.writeString(dir.resolve("base.yaml"), "name: p\nbase: nope\nagent: {command: ['true']}\n"
        + "tasks:\n" + task("a", "[a.txt]"));

    assertThat(check(plan, "--repo", repo.toString())).isEqualTo(2);
    assertThat(err.toString()).contains("base: \"nope\" is not a branch, tag or commit");
    StringWriter jsonOut = new StringWriter();
    assertThat(Main.execute(new PrintWriter(jsonOut), new PrintWriter(new StringWriter()), "check", plan.toString(),
        "--repo", repo.toString(), "--json")).isEqualTo(2);
    assertThat(texts(Json.mapper().readTree(jsonOut.toString()).get("errors")))
        .singleElement().asString().contains("\"nope\"");
  }

  @Test
  void missingPlanFileExitsTwo() {
    Path plan = dir.resolve("missing.yaml");

    assertThat(check(plan)).isEqualTo(2);
    assertThat(err.toString()).isEqualTo("lanes: " + plan + ": no such file\n");
  }

  private int check(Path plan, String... options) {
    List<String> args = new ArrayList<>(List.of("check", plan.toString()));
    args.addAll(List.of(options));
    int code = Main.execute(new PrintWriter(out), new PrintWriter(err), args.toArray(new String[0]));
    return code;
  }

  private static String task(String id, String owns) {
    return "  - id: " + id + "\n    prompt: do it\n    owns: " + owns + "\n";
  }

  private static String task(String id, String owns, String after) {
    return task(id, owns) + "    after: " + after + "\n";
  }

  private Path plan(String... tasks) throws IOException {
    return Files.writeString(dir.resolve("plan.yaml"),
        "name: p\nagent: {command: ['true']}\ntasks:\n" + String.join("", tasks));
  }

  /** A real repository with one commit holding the files, made with the git CLI. */
  private Path repo(String... files) throws Exception {
    Path repo = Files.createDirectories(dir.resolve("repo"));
    for (String file : files) {
      Path path = repo.resolve(file);
      Files.createDirectories(path.getParent());
      Files.writeString(path, file + "\n");
    }
    git(repo, "init", "-q", "-b", "main");
    git(repo, "add", "-A");
    git(repo, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-q", "-m", "files");
    return repo;
  }

  private static void git(Path repo, String... args) throws Exception {
    List<String> argv = new ArrayList<>(List.of("git"));
    argv.addAll(List.of(args));
    Process p = new ProcessBuilder(argv).directory(repo.toFile()).redirectErrorStream(true).start();
    p.getOutputStream().close();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as("git %s: %s", String.join(" ", args), output).isZero();
  }

  private static List<String> lines(StringWriter writer) {
    return writer.toString().lines().toList();
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> names = new ArrayList<>();
    node.fieldNames().forEachRemaining(names::add);
    return names;
  }

  private static List<String> texts(JsonNode array) {
    List<String> texts = new ArrayList<>();
    array.forEach(n -> texts.add(n.asText()));
    return texts;
  }
}
