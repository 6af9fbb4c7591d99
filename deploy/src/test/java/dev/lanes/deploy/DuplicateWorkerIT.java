package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.bus.ClientFiles;
import dev.lanes.bus.EmbeddedBroker;
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
 * Two worker processes with one id on a cluster without message keys, where no key tells them apart: each says which
 * instance it is (a random id kept in its directory), the lead keeps the id for the first and refuses the second with
 * a warning, and the second exits 2 naming the host and directory of the first. A worker started again on its own
 * directory is the same instance, and works.
 */
class DuplicateWorkerIT {
  @TempDir Path dir;

  @Test
  void aSecondWorkerWithAnIdInUseIsRefusedWithoutMessageKeysAndTheFirstGoesOn() throws Exception {
    try (EmbeddedBroker broker = EmbeddedBroker.start(dir.resolve("kafka"));
        ProcessCluster lanes = new ProcessCluster(dir)) {
      for (String role : new String[] {"lead", "worker", "submit"}) {
        clientFile(lanes, role, broker);
      }
      GitRepo repo = GitRepo.sample(dir.resolve("repo"));
      lanes.environment(Map.of("LANES_LOG", "info"));
      lanes.startLead("lead", repo.dir(), "2m", 1);
      lanes.awaitLog("lead", "holds the lead role");
      lanes.startWorker("w1", repo.dir());
      lanes.awaitLog("lead", "worker w1 joined");
      String host = InetAddress.getLocalHost().getHostName();
      Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));

      int second = lanes.run("w1-elsewhere", Duration.ofMinutes(2), "worker", "--kafka-config",
          lanes.clientFile("worker").toString(), "--repo", repo.dir().toString(), "--id", "w1", "--dir",
          elsewhere.toString());

      assertThat(second).isEqualTo(Main.BAD_INPUT);
      assertThat(Files.readString(lanes.log("w1-elsewhere"))).contains("lanes: worker w1 may not run: worker \"w1\" is"
          + " in use by another worker process: it runs on host " + host + " from directory "
          + dir.resolve("work-w1").toRealPath() + "; two workers may not share an id");
      assertThat(Files.readString(lanes.log("lead"))).containsPattern("WARN Lead - refused worker w1 on host "
          + java.util.regex.Pattern.quote(host + " (directory " + elsewhere.toRealPath() + ")"));

      // The first one was not refused, and started again on its directory it is the same worker: a plan lands.
      lanes.stop("w1");
      lanes.startWorker("w1", repo.dir());
      lanes.awaitLog("w1", "Worker w1", 2);
      Path plan = Files.writeString(dir.resolve("plan.yaml"), "name: dup\nagent: {command: [sh, -c, 'echo x >"
          + " core/x.txt']}\ntasks:\n  - {id: core, prompt: p, owns: [core/]}\n");
      int submitted = lanes.run("submit", Duration.ofMinutes(3), "submit", plan.toString(), "--repo",
          repo.dir().toString(), "--kafka-config", lanes.clientFile("submit").toString(), "--wait");
      assertThat(submitted).as(Files.readString(lanes.log("submit"))).isZero();
      assertThat(Files.readString(lanes.log("w1"))).doesNotContain("may not run");
      assertThat(Files.readString(lanes.log("lead"))).containsOnlyOnce("refused worker w1");
    }
  }

  /** A client file of a plaintext cluster without message keys, where the cluster's helpers look for it. */
  private static void clientFile(ProcessCluster lanes, String role, EmbeddedBroker broker) {
    Properties entries = new Properties();
    entries.put("bootstrap.servers", broker.bootstrapServers());
    Path file = lanes.clientFile(role);
    ClientFiles.write(file.getParent().getParent(), role, entries);
  }
}
