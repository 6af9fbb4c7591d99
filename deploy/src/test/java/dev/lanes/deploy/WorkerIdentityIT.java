package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.lanes.bus.ClientFiles;
import dev.lanes.bus.EmbeddedBroker;
import dev.lanes.bus.MessageKeys;
import dev.lanes.protocol.WorkerEnrolled;
import dev.lanes.testkit.GitRepo;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Workers that must not start, and a worker whose repository went away, as processes of their own: a lead ({@code
 * lanes coordinator}) and workers ({@code lanes worker}) with message keys, on a broker in this JVM. A second worker
 * with an id in use is refused with exit 2 and told where the other one runs, whether it shares the first one's
 * directory (its lock) or has one of its own on another machine (the lead refuses its key and tells it so); a worker
 * whose directory mirrors another repository refuses to start, or mirrors the new one with {@code --reset-mirror};
 * and a fetch that fails during an attempt is printed by the worker and shown in the run's output with git's words.
 */
class WorkerIdentityIT {
  @TempDir Path dir;

  @Test
  void workersThatWouldWorkOnTheWrongThingAreRefusedAndSayWhy() throws Exception {
    try (EmbeddedBroker broker = EmbeddedBroker.start(dir.resolve("kafka"));
        ProcessCluster lanes = new ProcessCluster(dir)) {
      MessageKeys.Credentials keys = MessageKeys.newCredentials();
      Path leadFile = clientFile(lanes, "lead", broker, keys.lead());
      Path workerFile = clientFile(lanes, "worker", broker, keys.worker());
      Path submitFile = clientFile(lanes, "submit", broker, keys.submit());
      GitRepo repo = GitRepo.sample(dir.resolve("repo"));
      GitRepo other = GitRepo.sample(dir.resolve("other"));
      lanes.startLead("lead", repo.dir(), "2m", 1);
      lanes.awaitLog("lead", "holds the lead role");
      lanes.startWorker("w1", repo.dir());
      await().atMost(Duration.ofMinutes(2)).until(() -> lanes.events().stream()
          .anyMatch(m -> m instanceof WorkerEnrolled e && e.worker().equals("w1")));
      String host = InetAddress.getLocalHost().getHostName();

      int sameDir = lanes.run("w1-same-dir", Duration.ofMinutes(2), worker(workerFile, repo.dir(), "w1",
          dir.resolve("work-w1")));
      assertThat(sameDir).isEqualTo(2);
      assertThat(Files.readString(lanes.log("w1-same-dir"))).contains("lanes: work directory "
          + dir.resolve("work-w1").toRealPath() + " is in use by another worker (pid " + lanes.pid("w1") + ")");

      int elsewhere = lanes.run("w1-elsewhere", Duration.ofMinutes(2), worker(workerFile, repo.dir(), "w1",
          dir.resolve("elsewhere")));
      assertThat(elsewhere).isEqualTo(2);
      assertThat(Files.readString(lanes.log("w1-elsewhere"))).contains("lanes: worker w1 may not run: worker \"w1\""
          + " is enrolled with another key; an id is not taken over by a second key (the worker with that key last"
          + " announced itself from host " + host + "); give this worker another --id, or run it with the --dir that"
          + " holds its key");

      lanes.stop("w1");
      int otherRepo = lanes.run("w1-other-repo", Duration.ofMinutes(2), worker(workerFile, other.dir(), "w1",
          dir.resolve("work-w1")));
      assertThat(otherRepo).isEqualTo(2);
      assertThat(Files.readString(lanes.log("w1-other-repo"))).contains("lanes: "
          + dir.resolve("work-w1").toRealPath().resolve("mirror.git") + " mirrors " + repo.dir() + ", not "
          + other.dir() + " (--repo): start with --reset-mirror");

      lanes.start("w1-reset", worker(workerFile, other.dir(), "w1", dir.resolve("work-w1"), "--reset-mirror"));
      lanes.awaitLog("w1-reset", "mirrors " + other.dir() + " from now on (--reset-mirror)");
      Files.move(other.dir(), dir.resolve("other-moved"));
      Path plan = Files.writeString(dir.resolve("plan.yaml"), "name: gone\nagent: {command: [sh, -c, 'true']}\n"
          + "tasks:\n  - id: core\n    prompt: do it\n    owns: [core/]\n");
      int submitted = lanes.run("submit", Duration.ofMinutes(3), "submit", plan.toString(), "--repo",
          repo.dir().toString(), "--kafka-config", submitFile.toString(), "--wait");

      String fetchFailed = "cannot fetch from " + other.dir() + ": fatal: '" + other.dir()
          + "' does not appear to be a git repository";
      assertThat(submitted).isEqualTo(1);
      assertThat(Files.readString(lanes.log("submit"))).contains(fetchFailed);
      assertThat(Files.readString(lanes.log("w1-reset"))).contains("task core of run gone-", fetchFailed);
    }
  }

  private static String[] worker(Path clientFile, Path repo, String id, Path workDir, String... more) {
    java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("worker", "--kafka-config",
        clientFile.toString(), "--repo", repo.toString(), "--id", id, "--dir", workDir.toString()));
    args.addAll(java.util.List.of(more));
    return args.toArray(String[]::new);
  }

  /** A client file of a plaintext cluster with the role's message keys, where the cluster's helpers look for it. */
  private static Path clientFile(ProcessCluster lanes, String role, EmbeddedBroker broker, Map<String, String> keys) {
    Properties entries = new Properties();
    entries.putAll(keys);
    entries.put("bootstrap.servers", broker.bootstrapServers());
    Path file = lanes.clientFile(role);
    return ClientFiles.write(file.getParent().getParent(), role, entries);
  }
}
