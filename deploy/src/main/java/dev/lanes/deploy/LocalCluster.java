package dev.lanes.deploy;

import dev.lanes.bus.EmbeddedBroker;
import dev.lanes.bus.KafkaBus;
import dev.lanes.coordinator.Lead;
import dev.lanes.coordinator.git.TargetBranch;
import dev.lanes.worker.Worker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Everything {@code lanes run} needs in one process: a broker (embedded unless one is given), the lead, and local
 * workers. Each party gets a bus connection of its own, as it would on separate machines, and each worker a work
 * directory of its own, reaching the repository only through its path as a URL.
 */
final class LocalCluster implements AutoCloseable {
  private final Optional<EmbeddedBroker> broker;
  private final List<KafkaBus> buses = new ArrayList<>();
  private final List<Worker> workers = new ArrayList<>();
  private final Path workRoot;
  private final String bootstrap;
  private Lead lead;

  private LocalCluster(Optional<EmbeddedBroker> broker, String bootstrap, Path workRoot) {
    this.broker = broker;
    this.bootstrap = bootstrap;
    this.workRoot = workRoot;
  }

  /**
   * Starts a broker if none is given, then {@code workers} workers with the given capabilities, then the lead (last,
   * so the workers already listen when the first offers go out).
   */
  static LocalCluster start(Path repo, int workers, List<String> capabilities, Optional<String> bootstrapServers) {
    Path root = tempDir("lanes-run-");
    Optional<EmbeddedBroker> broker = bootstrapServers.isPresent()
        ? Optional.empty()
        : Optional.of(EmbeddedBroker.start(root.resolve("broker")));
    String bootstrap = bootstrapServers.orElseGet(() -> broker.get().bootstrapServers());
    LocalCluster cluster = new LocalCluster(broker, bootstrap, root);
    try {
      String url;
      try (TargetBranch target = TargetBranch.open(repo)) {
        url = target.gitDir().toString();
      }
      String host = hostName();
      for (int i = 1; i <= workers; i++) {
        String id = "w" + i;
        Worker.Config config = new Worker.Config(id, host, capabilities, 1, url, root.resolve("workers").resolve(id),
            Duration.ofSeconds(5), Map.of());
        cluster.workers.add(Worker.start(cluster.bus("worker-" + id), config, Clock.systemUTC()));
      }
      cluster.lead = Lead.start(cluster.bus("lead"), repo, Clock.systemUTC(), Lead.Settings.fixedWorkers());
      return cluster;
    } catch (RuntimeException e) {
      cluster.close();
      throw e;
    }
  }

  KafkaBus bus(String clientId) {
    KafkaBus bus = KafkaBus.connect(bootstrap, "lanes-" + clientId);
    buses.add(bus);
    return bus;
  }

  Lead lead() {
    return lead;
  }

  String bootstrapServers() {
    return bootstrap;
  }

  boolean embedded() {
    return broker.isPresent();
  }

  /** Where the workers keep their mirrors, worktrees and logs. */
  Path workRoot() {
    return workRoot;
  }

  /** Stops everything; removes the work directory unless {@code keepWork} (failed tasks keep their worktrees). */
  void close(boolean keepWork) {
    if (lead != null) {
      lead.close();
    }
    workers.forEach(Worker::close);
    buses.forEach(KafkaBus::close);
    broker.ifPresent(EmbeddedBroker::close);
    if (keepWork) {
      deleteTree(workRoot.resolve("broker"));
    } else {
      deleteTree(workRoot);
    }
  }

  @Override
  public void close() {
    close(false);
  }

  static Path tempDir(String prefix) {
    try {
      return Files.createTempDirectory(prefix).toAbsolutePath();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a temporary directory", e);
    }
  }

  static void deleteTree(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (var paths = Files.walk(root)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // best effort: a temporary directory left behind is not worth failing a run for
    }
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "localhost";
    }
  }
}
