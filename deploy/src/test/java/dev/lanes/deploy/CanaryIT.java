package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.bus.BrokerDir;
import dev.lanes.protocol.RunFinished;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Secrets in the environment of every daemon never leave it: a secured broker, a lead and two workers run as processes
 * of their own with two canary secrets in their environments ({@code ANTHROPIC_API_KEY} and {@code MY_SERVICE_TOKEN}), and a
 * plan whose agents and verify commands do their worst with whatever they can see: print their whole environment and
 * the daemon's own (from {@code /proc}), echo and base64 the secrets, put them in findings, in a question, and in a
 * file whose diff then travels in a fix attempt's prompt. Afterwards every record of every topic, from the beginning,
 * and every line the daemons and the commands printed, is searched for the canaries, plain and base64.
 *
 * <p>The agents that were allowed a key still have it: the command agent given {@code env: [MY_SERVICE_TOKEN]} and the
 * claude adapter, which passes {@code ANTHROPIC_*}; the agent that was allowed nothing sees neither.
 */
class CanaryIT {
  private static final Duration LONG = Duration.ofSeconds(180);

  @TempDir Path dir;
  private ProcessCluster cluster;
  private Path repo;
  private final String key = "sk-ant-canary-" + UUID.randomUUID();
  private final String token = "tok-canary-" + UUID.randomUUID();

  @BeforeEach
  void setUp() throws IOException {
    repo = dir.resolve("repo");
    Files.createDirectories(repo);
    Files.writeString(repo.resolve("README.md"), "canary\n");
    Files.writeString(repo.resolve("agent.sh"), AGENT);
    Files.writeString(repo.resolve("verify.sh"), VERIFY);
    Demo.git(repo, "init", "-q", "-b", "main");
    Demo.git(repo, "add", "-A");
    Demo.git(repo, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-q", "-m", "start");
    cluster = new ProcessCluster(dir);
    cluster.environment(Map.of("ANTHROPIC_API_KEY", key, "MY_SERVICE_TOKEN", token, "CANARY_VISIBLE", "hello",
        "LANES_LOG", "info"));
    cluster.startBroker();
  }

  @AfterEach
  void tearDown() {
    cluster.close();
  }

  @Test
  void noCanaryLeavesADaemonWhileAllowedAgentsStillUseTheirKeys() throws Exception {
    cluster.startLead("lead", repo, "30s", 3, "--pass-env", "MY_SERVICE_TOKEN");
    cluster.startWorker("w1", repo, "--pass-env", "CANARY_VISIBLE");
    cluster.startWorker("w2", repo, "--pass-env", "CANARY_VISIBLE");
    Path plan = Files.writeString(dir.resolve("plan.yaml"), PLAN);

    String submit = cluster.clientFile("submit").toString();
    int submitted = cluster.run("submit", LONG, "submit", plan.toString(), "--kafka-config", submit, "--wait",
        "--timeout", "60");
    String run = Files.readString(cluster.log("submit")).lines().filter(l -> l.startsWith("canary-")).findFirst()
        .orElseThrow(() -> new AssertionError("no run id printed by lanes submit"));
    RunFinished finished = cluster.awaitFinished(run, LONG);
    Path bad = Files.writeString(dir.resolve("bad.yaml"), "name: bad\nagent: {command: [sh]}\ntasks:\n"
        + "  - {id: a, prompt: p, owns: [\"../" + token + "\"]}\n");
    int refused = cluster.run("submit-bad", LONG, "submit", bad.toString(), "--kafka-config", submit);
    cluster.run("status", LONG, "status", "--kafka-config", cluster.clientFile("lead").toString(), "--all");
    cluster.run("status-json", LONG, "status", "--kafka-config", submit, "--json", "--all");
    List.of("lead", "w1", "w2").forEach(cluster::stop);

    // What the run did: the allowed agents had their keys, the other none, and the question parked its task.
    assertThat(finished.landed()).containsExactlyInAnyOrder("allowed", "denied", "claude");
    assertThat(finished.failed()).containsExactly("asks");
    assertThat(submitted).isEqualTo(Main.FAILED);
    String target = "lanes/canary";
    assertThat(show(target, "allowed/saw-token")).isEqualTo("yes\n");
    assertThat(show(target, "allowed/token.sha").strip()).isEqualTo(sha256(token));
    assertThat(show(target, "denied/saw-token")).isEqualTo("no\n");
    assertThat(show(target, "denied/visible")).isEqualTo("hello\n");
    assertThat(show(target, "claude/seen.txt")).isEqualTo("anthropic-key:set\nservice-token:\n");
    assertThat(refused).isEqualTo(Main.BAD_INPUT);

    // Everything published and printed, searched.
    List<String> published = records();
    List<String> printed = new ArrayList<>();
    try (var logs = Files.list(dir)) {
      for (Path log : logs.filter(p -> p.toString().endsWith(".log")).toList()) {
        printed.add(log.getFileName() + ": " + Files.readString(log, StandardCharsets.ISO_8859_1));
      }
    }
    assertThat(printed).hasSizeGreaterThanOrEqualTo(8);
    for (String canary : List.of(key, token)) {
      for (String text : published) {
        assertThat(text).doesNotContain(canary);
        assertThat(base64Holds(text, canary)).as("base64 of a canary in a record: %s", text).isFalse();
      }
      for (String text : printed) {
        assertThat(text).doesNotContain(canary);
        assertThat(base64Holds(text, canary)).as("base64 of a canary in %s", text.substring(0, 40)).isFalse();
      }
    }

    // And the test did reach the secrets: they were there to leak, and what stands in their place says whose they were.
    String all = String.join("\n", published);
    assertThat(all).contains("[redacted:MY_SERVICE_TOKEN]").contains("[redacted:ANTHROPIC_API_KEY]");
    assertThat(published).as("the fix attempt's prompt, with the lead's verify output and the diff")
        .anySatisfy(r -> assertThat(r).contains("\"type\":\"task-offered\"").contains("lead-sees-token:yes")
            .contains("+[redacted:MY_SERVICE_TOKEN]"));
    assertThat(printed).anySatisfy(p -> assertThat(p).startsWith("submit-bad.log")
        .contains("../[redacted:MY_SERVICE_TOKEN]"));
  }

  /** Every record of every topic, from the beginning: key, value and headers, as text; read as the broker's admin. */
  private List<String> records() {
    Properties p = BrokerDir.existing(dir.resolve("broker")).adminConfig().kafka();
    List<String> topics;
    try (Admin admin = Admin.create(p)) {
      topics = List.copyOf(admin.listTopics().names().get());
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    assertThat(topics).contains("lanes.work", "lanes.reports", "lanes.events", "lanes.dead");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    List<String> out = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> consumer =
             new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> partitions = new ArrayList<>();
      for (String topic : topics) {
        consumer.partitionsFor(topic).forEach(i -> partitions.add(new TopicPartition(topic, i.partition())));
      }
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = new HashMap<>(consumer.endOffsets(partitions));
      long deadline = System.nanoTime() + LONG.toNanos();
      while (end.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
        assertThat(System.nanoTime()).as("read every topic to its end").isLessThan(deadline);
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          StringBuilder text = new StringBuilder(r.topic()).append(' ');
          text.append(r.key() == null ? "" : new String(r.key(), StandardCharsets.ISO_8859_1)).append(' ');
          text.append(r.value() == null ? "" : new String(r.value(), StandardCharsets.ISO_8859_1));
          for (Header h : r.headers()) {
            text.append(' ').append(h.key()).append('=')
                .append(h.value() == null ? "" : new String(h.value(), StandardCharsets.ISO_8859_1));
          }
          out.add(text.toString());
        }
      }
    }
    assertThat(out).hasSizeGreaterThan(20);
    return out;
  }

  /**
   * Whether {@code canary} can be read back from some base64 in {@code text}, standard or URL-safe, at any alignment:
   * every stretch of base64 characters is decoded from each of its first four positions. Independent of how the
   * redactor looks for it.
   */
  static boolean base64Holds(String text, String canary) {
    for (String part : text.split("[^A-Za-z0-9+/_-]+")) {
      if (part.length() < canary.length()) {
        continue;
      }
      for (int skip = 0; skip < 4; skip++) {
        String chunk = part.substring(skip);
        chunk = chunk.substring(0, chunk.length() - chunk.length() % 4);
        for (Base64.Decoder d : List.of(Base64.getDecoder(), Base64.getUrlDecoder())) {
          try {
            if (new String(d.decode(chunk), StandardCharsets.ISO_8859_1).contains(canary)) {
              return true;
            }
          } catch (IllegalArgumentException e) {
            // not base64 in this alphabet
          }
        }
      }
    }
    return false;
  }

  private String show(String branch, String path) {
    return Demo.git(repo, "show", branch + ":" + path);
  }

  private static String sha256(String text) throws NoSuchAlgorithmException {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
  }

  /** Each agent and the verify run these, and print everything they can see; see the class comment. */
  private static final String PLAN = """
      name: canary
      verify: exec sh verify.sh
      agent:
        command: [sh, agent.sh]
      tasks:
        - id: allowed
          prompt: Use the token.
          owns: [allowed/]
          agent: {command: [sh, agent.sh], env: [MY_SERVICE_TOKEN]}
        - id: denied
          prompt: Try to find a token.
          owns: [denied/]
        - id: claude
          prompt: "fake-mode:env fake-edit:claude/seen.txt"
          owns: [claude/]
          agent: {claude: {}}
        - id: asks
          prompt: Ask about the token.
          owns: [asks/]
          agent: {command: [sh, agent.sh], env: [MY_SERVICE_TOKEN]}
      """;

  /** Its parent ($PPID) is the daemon itself: its environment in /proc is readable by the same user. */
  private static final String VERIFY = """
      env
      tr '\\0' '\\n' < /proc/$PPID/environ 2>/dev/null || true
      echo "verify sees: token=$MY_SERVICE_TOKEN key=$ANTHROPIC_API_KEY"
      printf %s "$MY_SERVICE_TOKEN$ANTHROPIC_API_KEY" | base64 -w0; echo
      echo "lead-sees-token:${MY_SERVICE_TOKEN:+yes}"
      if [ -n "$LANES_TARGET" ] && [ -f allowed/token.sha ] && [ ! -f allowed/fixed ]; then exit 1; fi
      """;

  private static final String AGENT = """
      mkdir -p "$LANES_TASK" .lanes
      env
      tr '\\0' '\\n' < /proc/$PPID/environ 2>/dev/null || true
      if [ -n "$MY_SERVICE_TOKEN$ANTHROPIC_API_KEY" ]; then echo yes; else echo no; fi > "$LANES_TASK/saw-token"
      echo "${CANARY_VISIBLE:-unset}" > "$LANES_TASK/visible"
      printf %s "$MY_SERVICE_TOKEN" | sha256sum | cut -d' ' -f1 > "$LANES_TASK/token.sha"
      echo "$MY_SERVICE_TOKEN" > "$LANES_TASK/token.txt"
      printf %s "$MY_SERVICE_TOKEN" | base64 > "$LANES_TASK/token.b64"
      case "$LANES_PROMPT" in *"verify command failed"*) touch "$LANES_TASK/fixed" ;; esac
      b64=$(printf 'token=%s key=%s' "$MY_SERVICE_TOKEN" "$ANTHROPIC_API_KEY" | base64 -w0)
      if [ "$LANES_TASK" = asks ]; then
        printf '{"questions": ["is %s the right token?"]}' "$MY_SERVICE_TOKEN" > .lanes/findings.json
      else
        printf '{"notes": ["token %s", "encoded %s"], "follow-ups": [{"title": "leak %s"}]}' \\
          "$MY_SERVICE_TOKEN" "$b64" "$ANTHROPIC_API_KEY" > .lanes/findings.json
      fi
      echo "token: $MY_SERVICE_TOKEN key: $ANTHROPIC_API_KEY"
      env | base64 -w0; echo
      echo "$b64"
      """;
}
