package dev.lanes.deploy;

import dev.lanes.bus.ClientConfig;
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
  private final List<KafkaBus> buses = new java.util.concurrent.CopyOnWriteArrayList<>();
  private final List<Worker> workers = new ArrayList<>();
  private final Path workRoot;
  private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
  private final ClientConfig kafka;
  private Lead lead;

  private LocalCluster(Optional<EmbeddedBroker> broker, ClientConfig kafka, Path workRoot) {
    this.broker = broker;
    this.kafka = kafka;
    this.workRoot = workRoot;
  }

  /**
   * Starts a broker if none is given, then the lead and {@code workers} workers with the given capabilities at the
   * same time (the workers pass what the lead's settings pass of the environment): the lead creates the topics and joins its group while the workers set up (their subscriptions wait for
   * the topics). Offers go out only on submit, after every worker listens.
   */
  static LocalCluster start(Path repo, int workers, List<String> capabilities, Optional<ClientConfig> external,
      Lead.Settings settings) {
    return start(tempDir("lanes-run-"), repo, workers, capabilities, external, settings);
  }

  /** Starts as above, in the run directory {@code root}: broker, workers' mirrors, worktrees and logs. */
  static LocalCluster start(Path root, Path repo, int workers, List<String> capabilities,
      Optional<ClientConfig> external, Lead.Settings settings) {
    return start(root, repo, workers, capabilities, external, settings, Lead.Attention.NONE);
  }

  /** Starts as above, the lead reaching a person as {@code attention} says. */
  static LocalCluster start(Path root, Path repo, int workers, List<String> capabilities,
      Optional<ClientConfig> external, Lead.Settings settings, Lead.Attention attention) {
    // The embedded broker takes only the password it made for this process: an agent that finds its port (it runs
    // under a worker here and sees LANES_*) has no credential to publish with.
    Optional<EmbeddedBroker> broker = external.isPresent()
        ? Optional.empty()
        : Optional.of(EmbeddedBroker.startLocal(root.resolve("broker")));
    ClientConfig kafka = external.orElseGet(() -> broker.get().clientConfig());
    LocalCluster cluster = new LocalCluster(broker, kafka, root);
    try {
      String url;
      try (TargetBranch target = TargetBranch.open(repo)) {
        url = target.gitDir().toString();
      }
      String host = hostName();
      KafkaBus leadBus = cluster.bus("lead");
      java.util.concurrent.CompletableFuture<Lead> lead = java.util.concurrent.CompletableFuture.supplyAsync(
          () -> Lead.start(leadBus, repo, Clock.systemUTC(), settings, attention));
      try {
        for (int i = 1; i <= workers; i++) {
          String id = "w" + i;
          Worker.Config config = new Worker.Config(id, host, capabilities, 1, url,
              root.resolve("workers").resolve(id), Duration.ofSeconds(5), Map.of(), settings.passEnv());
          cluster.workers.add(Worker.start(cluster.bus("worker-" + id), config, Clock.systemUTC()));
        }
      } finally {
        cluster.lead = joinLead(lead);
      }
      return cluster;
    } catch (RuntimeException e) {
      cluster.close();
      throw e;
    }
  }

  private static Lead joinLead(java.util.concurrent.CompletableFuture<Lead> lead) {
    try {
      return lead.join();
    } catch (java.util.concurrent.CompletionException e) {
      throw e.getCause() instanceof RuntimeException r ? r : e;
    }
  }

  KafkaBus bus(String clientId) {
    KafkaBus bus = KafkaBus.connect(kafka, "lanes-" + clientId);
    buses.add(bus);
    return bus;
  }

  Lead lead() {
    return lead;
  }

  /**
   * Waits until the lead holds its role and has heard every local worker announce itself, for at most
   * {@code patience}. A plan submitted sooner had each of its first tasks reported "unschedulable: no worker has
   * announced itself" while its workers were running, and on a loaded machine failed 5 s later for want of them.
   */
  void awaitWorkers(Duration patience) {
    lead.awaitActive(patience);
    long deadline = System.nanoTime() + patience.toNanos();
    while (lead.knownWorkers() < workers.size() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  String bootstrapServers() {
    return kafka.bootstrapServers();
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
    if (!closed.compareAndSet(false, true)) {
      return; // Ctrl-C and the end of the run may both get here
    }
    // The parties stop independently of each other, so they stop at the same time; the broker goes last.
    List<Runnable> parties = new ArrayList<>();
    if (lead != null) {
      parties.add(lead::close);
    }
    workers.forEach(w -> parties.add(w::close));
    inParallel(parties);
    inParallel(buses.stream().<Runnable>map(b -> b::close).toList());
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

  private static void inParallel(List<Runnable> actions) {
    java.util.concurrent.CompletableFuture.allOf(actions.stream()
        .map(a -> java.util.concurrent.CompletableFuture.runAsync(a))
        .toArray(java.util.concurrent.CompletableFuture[]::new)).join();
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
