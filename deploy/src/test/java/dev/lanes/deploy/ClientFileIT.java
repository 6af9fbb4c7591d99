package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client file a command cannot use ({@code --kafka-config}: missing, unreadable, naming no cluster, a security
 * protocol no Kafka client knows, SASL without a login) is refused by every client command, as the real jar runs it,
 * before the command writes anything: exit 2 with one line, and no worker directory, mirror or lock, no run record or
 * target lock left behind. No broker is needed: none is reached.
 */
class ClientFileIT {
  private static final Duration PATIENCE = Duration.ofSeconds(60);

  @TempDir Path dir;

  @Test
  void aWorkerRefusesAClientFileItCannotUseAndWritesNothing() throws IOException {
    Path repo = LanesRunIT.repo(dir);
    Map<String, String> said = badFiles();
    try (ProcessCluster cluster = new ProcessCluster(Files.createDirectories(dir.resolve("logs")))) {
      for (Map.Entry<String, String> bad : said.entrySet()) {
        Path work = dir.resolve("worker-" + bad.getKey());
        String name = "worker-" + bad.getKey();
        int exit = cluster.run(name, PATIENCE, "worker", "--id", "w1", "--kafka-config",
            dir.resolve(bad.getKey()).toString(), "--repo", repo.toString(), "--dir", work.toString());

        assertThat(exit).as(name).isEqualTo(Main.BAD_INPUT);
        assertThat(Files.readAllLines(cluster.log(name))).as(name).singleElement().asString()
            .startsWith("lanes: --kafka-config: " + dir.resolve(bad.getKey())).contains(bad.getValue());
        assertThat(work).as(name + ": no directory, mirror or lock").doesNotExist();
      }
    }
  }

  @Test
  void theOtherClientCommandsRefuseItTooAndARunLeavesNothing() throws IOException {
    Path repo = LanesRunIT.repo(dir);
    Path plan = Files.writeString(dir.resolve("p.yaml"), "name: p\nagent: {command: [\"true\"]}\ntasks:\n"
        + "  - {id: a, prompt: p, owns: [a]}\n");
    Map<String, String> said = badFiles();
    said.keySet().retainAll(List.of("protocol.properties", "no-login.properties"));
    try (ProcessCluster cluster = new ProcessCluster(Files.createDirectories(dir.resolve("logs")))) {
      for (Map.Entry<String, String> bad : said.entrySet()) {
        for (String command : List.of("coordinator", "submit", "status", "run")) {
          List<String> args = new ArrayList<>(List.of(command, "--kafka-config", dir.resolve(bad.getKey()).toString()));
          if (command.equals("submit") || command.equals("run")) {
            args.add(1, plan.toString());
          }
          if (!command.equals("status")) {
            args.addAll(List.of("--repo", repo.toString()));
          }
          String name = command + "-" + bad.getKey();
          int exit = cluster.run(name, PATIENCE, args.toArray(String[]::new));

          assertThat(exit).as(name).isEqualTo(Main.BAD_INPUT);
          assertThat(Files.readAllLines(cluster.log(name))).as(name).singleElement().asString()
              .startsWith("lanes: --kafka-config: " + dir.resolve(bad.getKey())).contains(bad.getValue());
        }
      }
    }
    assertThat(repo.resolve(".git/lanes")).as("no run record, target lock or verify tree").doesNotExist();
    assertThat(LanesRunIT.git(repo, "branch", "--list")).doesNotContain("lanes/");
  }

  /** Writes each client file a command cannot use, and returns what the refusal of each says. */
  private Map<String, String> badFiles() throws IOException {
    Files.createDirectories(dir.resolve("a-directory.properties"));
    Files.writeString(dir.resolve("no-cluster.properties"), "security.protocol=PLAINTEXT\n");
    Files.writeString(dir.resolve("protocol.properties"), "bootstrap.servers=127.0.0.1:9\n"
        + "security.protocol=SASL_TLS\n");
    Files.writeString(dir.resolve("no-login.properties"), "bootstrap.servers=127.0.0.1:9\n"
        + "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n");
    Map<String, String> said = new LinkedHashMap<>();
    said.put("missing.properties", "cannot be read (no such file)");
    said.put("a-directory.properties", "cannot be read (");
    said.put("no-cluster.properties", "has no bootstrap.servers and no --bootstrap-servers was given");
    said.put("protocol.properties", "security.protocol: \"SASL_TLS\" is not one a Kafka client can use; use one of"
        + " PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL");
    said.put("no-login.properties", "sasl.jaas.config: missing; security.protocol SASL_SSL logs in with");
    return said;
  }
}
