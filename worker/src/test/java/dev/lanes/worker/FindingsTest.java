package dev.lanes.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lanes.bus.MemoryBus;
import dev.lanes.protocol.Claim;
import dev.lanes.protocol.Finding;
import dev.lanes.protocol.Json;
import dev.lanes.protocol.Message;
import dev.lanes.protocol.TaskOffered;
import dev.lanes.protocol.TaskResult;
import dev.lanes.protocol.TaskResult.Outcome;
import dev.lanes.protocol.Topics;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The agent's findings file: what it may say, how each item reaches the lead, and what becomes of a bad file. */
class FindingsTest {
  private static final String VALID = """
      {
        "follow-ups": [
          {"title": "Rename the REST field", "prompt": "Rename userId in the API", "owns": ["api/", "docs/api.md"]},
          {"title": "Clean up", "prompt": "Remove dead code"}
        ],
        "needs": [{"paths": ["api/src/Handler.java"], "why": "it calls the renamed getter"}],
        "questions": ["Keep the old name as an alias?"],
        "notes": ["legacy tests were failing at the base", "took the long way"]
      }
      """;

  @TempDir Path dir;

  @Test
  void parse_eachItemBecomesOneFindingOfItsKind() throws IOException {
    List<Findings.Item> items = parse(VALID);

    assertThat(items).extracting(Findings.Item::kind).containsExactly(Finding.FOLLOW_UP, Finding.FOLLOW_UP,
        Finding.NEEDS_PATHS, Finding.QUESTION, Finding.NOTE, Finding.NOTE);
    JsonNode followUp = Json.mapper().readTree(items.get(0).text());
    assertThat(followUp.get("title").asText()).isEqualTo("Rename the REST field");
    assertThat(followUp.get("prompt").asText()).isEqualTo("Rename userId in the API");
    assertThat(followUp.get("owns")).extracting(JsonNode::asText).containsExactly("api/", "docs/api.md");
    assertThat(items.get(0).paths()).containsExactly("api/", "docs/api.md");
    assertThat(Json.mapper().readTree(items.get(1).text()).get("owns")).as("owns is optional").isEmpty();
    assertThat(items.get(2)).isEqualTo(new Findings.Item(Finding.NEEDS_PATHS, "it calls the renamed getter",
        List.of("api/src/Handler.java")));
    assertThat(items.get(3)).isEqualTo(new Findings.Item(Finding.QUESTION, "Keep the old name as an alias?",
        List.of()));
    assertThat(items.get(5).text()).isEqualTo("took the long way");
  }

  @Test
  void parse_reviewVerdictIsOneFindingOfItsKind() {
    assertThat(parse("{\"review\": {\"verdict\": \"approve\"}}"))
        .containsExactly(new Findings.Item(Finding.APPROVE, "approved", List.of()));
    assertThat(parse("{\"review\": {\"verdict\": \"request-changes\", \"comments\": \"Keep the alias.\"}}"))
        .containsExactly(new Findings.Item(Finding.REQUEST_CHANGES, "Keep the alias.", List.of()));
  }

  @Test
  void parse_emptyObjectSaysNothing() {
    assertThat(parse("{}")).isEmpty();
    assertThat(parse("{\"notes\": []}")).isEmpty();
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', textBlock = """
      {"notes": ["a"], "follow-up": []}                        | "follow-up": unknown key; allowed: follow-ups, needs, notes, questions, review
      {"review": {"verdict": "lgtm"}}                           | review.verdict: "lgtm" is neither approve nor request-changes
      {"review": {"verdict": "request-changes"}}                | review.comments: required
      {"review": {"verdict": "approve", "score": 5}}            | review."score": unknown key; allowed: comments, verdict
      {"follow-ups": [{"title": "t", "prompt": "p", "size": 3}]} | follow-ups[0]."size": unknown key; allowed: owns, prompt, title
      {"follow-ups": [{"title": "t", "prompt": "p", "owns": ["core/", "../x"]}]} | follow-ups[0].owns[1]: claim "../x"
      {"follow-ups": [{"title": "t", "prompt": "p", "owns": ["/etc"]}]} | follow-ups[0].owns[0]: claim "/etc": absolute claims are not allowed
      {"follow-ups": [{"prompt": "p"}]}                         | follow-ups[0].title: required
      {"follow-ups": [{"title": " ", "prompt": "p"}]}           | follow-ups[0].title: must not be blank
      {"follow-ups": {"title": "t"}}                            | follow-ups: must be an array, not object {"title":"t"}
      {"needs": [{"why": "w"}]}                                 | needs[0].paths: required
      {"needs": [{"paths": [], "why": "w"}]}                    | needs[0].paths: must name at least one claim
      {"needs": [{"paths": "core/", "why": "w"}]}               | needs[0].paths: must be an array of claims, not string "core/"
      {"questions": ["ok", 42]}                                 | questions[1]: must be a string, not number 42
      {"notes": [null]}                                         | notes[0]: must be a string, not null
      ["a note"]                                                | the top level must be a JSON object, not array ["a note"]
      {"notes": ["a"], "notes": ["b"]}                          | not valid JSON: Duplicate field 'notes'
      {"notes": ["a"]                                           | not valid JSON:
      {"notes": ["a"]} trailing                                 | not valid JSON:
      """)
  void parse_invalidFileBecomesOneFindingNamingTheProblem(String json, String problem) {
    List<Findings.Item> items = parse(json);

    assertThat(items).singleElement().satisfies(item -> {
      assertThat(item.kind()).isEqualTo(Finding.INVALID_FINDINGS);
      assertThat(item.text()).startsWith(".lanes/findings.json: " + problem);
      assertThat(item.paths()).containsExactly(".lanes/findings.json");
    });
  }

  @Test
  void parse_invalidJsonNamesWhere() {
    assertThat(parse("{\n  \"notes\": [\"a\",]\n}").get(0).text())
        .startsWith(".lanes/findings.json: not valid JSON: ").contains("(line 2, column");
  }

  @Test
  void parse_emptyFileIsInvalid() {
    assertThat(parse("").get(0).text()).isEqualTo(".lanes/findings.json: empty; write a JSON object, {} when there is"
        + " nothing to report");
  }

  @Test
  void read_noFileNoFindings() throws IOException {
    assertThat(Findings.read(dir)).isEmpty();
    Files.createDirectories(dir.resolve(".lanes"));
    assertThat(Findings.read(dir)).isEmpty();
  }

  @Test
  void read_fileOverTheLimitIsInvalid() throws IOException {
    Files.createDirectories(dir.resolve(".lanes"));
    Files.writeString(dir.resolve(".lanes/findings.json"), "{\"notes\": [\"" + "x".repeat(Findings.MAX_BYTES) + "\"]}");

    assertThat(Findings.read(dir)).singleElement().extracting(Findings.Item::text)
        .isEqualTo(".lanes/findings.json: larger than the limit of 262144 bytes");
  }

  @Test
  void read_symbolicLinkIsNotFollowed() throws IOException {
    Path secret = Files.writeString(dir.resolve("secret.json"), "{\"notes\": [\"a secret of the worker's\"]}");
    Path worktree = Files.createDirectories(dir.resolve("wt/.lanes")).getParent();
    Files.createSymbolicLink(worktree.resolve(".lanes/findings.json"), secret);

    assertThat(Findings.read(worktree)).singleElement().satisfies(item -> {
      assertThat(item.kind()).isEqualTo(Finding.INVALID_FINDINGS);
      assertThat(item.text()).doesNotContain("secret").contains("must be a regular file");
    });
  }

  @Test
  void read_lanesDirectoryThatIsALinkIsNotFollowed() throws IOException {
    Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
    Files.writeString(elsewhere.resolve("findings.json"), "{\"notes\": [\"from elsewhere\"]}");
    Path worktree = Files.createDirectories(dir.resolve("wt"));
    Files.createSymbolicLink(worktree.resolve(".lanes"), elsewhere);

    assertThat(Findings.read(worktree)).singleElement().extracting(Findings.Item::text)
        .isEqualTo(".lanes/findings.json: .lanes: must be a directory, not a symbolic link or a file");
  }

  @Test
  void read_tooManyItemsIsInvalid() {
    String notes = String.join(",", java.util.Collections.nCopies(Findings.MAX_ITEMS + 1, "\"n\""));

    assertThat(parse("{\"notes\": [" + notes + "]}").get(0).text()).contains("101 items; at most 100 are taken");
  }

  @Test
  void read_tooManyClaimsInOneItemIsInvalid() {
    String claims = java.util.stream.IntStream.rangeClosed(0, Finding.MAX_CLAIMS)
        .mapToObj(i -> "\"m" + i + "/\"").collect(java.util.stream.Collectors.joining(","));

    assertThat(parse("{\"needs\": [{\"paths\": [" + claims + "], \"why\": \"w\"}]}").get(0).text())
        .contains("needs[0].paths: 33 claims; at most 32 are taken");
  }

  // Through a task run: the findings reach the bus before the result, whatever the outcome.

  @Test
  void taskRun_publishesTheAgentsFindingsBeforeItsResult() throws IOException {
    Files.writeString(dir.resolve("findings.json"), VALID);
    List<Message> seen = runTask("mkdir -p .lanes && cp " + dir.resolve("findings.json") + " .lanes/findings.json"
        + " && echo x > core/file.txt", Optional.empty());

    TaskResult result = (TaskResult) seen.get(seen.size() - 1);
    assertThat(result.outcome()).as(result.toString()).isEqualTo(Outcome.PASSED);
    List<Finding> findings = seen.stream().filter(Finding.class::isInstance).map(Finding.class::cast).toList();
    assertThat(findings).extracting(Finding::kind).containsExactly(Finding.FOLLOW_UP, Finding.FOLLOW_UP,
        Finding.NEEDS_PATHS, Finding.QUESTION, Finding.NOTE, Finding.NOTE);
    assertThat(findings).allSatisfy(f -> {
      assertThat(f.run()).isEqualTo("r1");
      assertThat(f.task()).isEqualTo("core");
      assertThat(f.epoch()).isEqualTo(1);
      assertThat(f.worker()).isEqualTo("w1");
    });
    assertThat(result.changedFiles()).containsExactly("core/file.txt");
  }

  @Test
  void taskRun_failedAgentsFindingsArePublishedToo() {
    List<Message> seen = runTask("mkdir -p .lanes && echo '{\"needs\": [{\"paths\": [\"api/\"], \"why\": \"blocked\"}]}'"
        + " > .lanes/findings.json; exit 2", Optional.empty());

    assertThat(((TaskResult) seen.get(seen.size() - 1)).outcome()).isEqualTo(Outcome.AGENT_FAILED);
    assertThat(seen).filteredOn(Finding.class::isInstance).singleElement()
        .isEqualTo(new Finding("r1", "core", 1, "w1", Finding.NEEDS_PATHS, "blocked", List.of("api/")));
  }

  @Test
  void taskRun_invalidFindingsAreOneFindingAndDoNotFailTheTask() {
    List<Message> seen = runTask("mkdir -p .lanes && echo '{\"notes\": [\"a\"], \"mood\": \"good\"}'"
        + " > .lanes/findings.json && echo x > core/file.txt", Optional.of("true"));

    assertThat(((TaskResult) seen.get(seen.size() - 1)).outcome()).isEqualTo(Outcome.PASSED);
    assertThat(seen).filteredOn(Finding.class::isInstance).singleElement().satisfies(m -> {
      Finding f = (Finding) m;
      assertThat(f.kind()).isEqualTo(Finding.INVALID_FINDINGS);
      assertThat(f.text()).isEqualTo(".lanes/findings.json: \"mood\": unknown key; allowed: follow-ups, needs, notes,"
          + " questions, review");
    });
  }

  @Test
  void taskRun_findingsAreNeverCommittedEvenWhenTheAgentUnignoresThem() {
    List<Message> seen = runTask("mkdir -p .lanes && echo '{}' > .lanes/findings.json && echo x > core/file.txt"
        + " && printf '!/.lanes/\\n' > .gitignore", Optional.empty());

    TaskResult result = (TaskResult) seen.get(seen.size() - 1);
    // .gitignore is a protected path, so this attempt fails the ownership guard; .lanes/ is not even in its diff
    assertThat(result.outcome()).isEqualTo(Outcome.OWNERSHIP_VIOLATION);
    assertThat(seen).filteredOn(Finding.class::isInstance).extracting(m -> ((Finding) m).paths())
        .containsExactly(List.of(".gitignore"));
  }

  @Test
  void ownershipGuard_findingsDirectoryIsProtectedFromBroadClaims() {
    OwnershipGuard guard = new OwnershipGuard(List.of(Claim.parse("**")));

    assertThat(guard.check(dir, List.of(".lanes/findings.json", "core/file.txt")))
        .extracting(dev.lanes.protocol.OwnershipRules.Violation::path).containsExactly(".lanes/findings.json");
  }

  private List<Message> runTask(String script, Optional<String> verify) {
    TestRepo remote = TestRepo.sample(dir.resolve("remote"));
    MemoryBus bus = new MemoryBus();
    try (TestRepo.Recorder reports = new TestRepo.Recorder(bus, Topics.REPORTS);
        WorkDir work = WorkDir.open(dir.resolve("work"), remote.url(), Clock.systemUTC())) {
      TaskOffered offer = TestRepo.offer("r1", "core", "Do core", "p", List.of("sh", "-c", script),
          Duration.ofSeconds(30), verify, List.of(), remote.rev("main"));
      Worker.Config config = new Worker.Config("w1", "host", List.of(), 1, remote.url(), work.root(),
          Duration.ofMinutes(5));
      new TaskRun(offer, config, work, bus, Clock.systemUTC()).run();
      reports.awaitFirst(TaskResult.class, r -> true);
      return reports.all(Message.class).stream()
          .filter(m -> m instanceof Finding || m instanceof TaskResult).toList();
    } finally {
      bus.close();
    }
  }

  private static List<Findings.Item> parse(String json) {
    return Findings.parse(json.getBytes(StandardCharsets.UTF_8));
  }
}
