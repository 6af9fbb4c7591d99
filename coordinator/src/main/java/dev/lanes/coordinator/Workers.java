package dev.lanes.coordinator;

import dev.lanes.protocol.WorkerStatus;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The workers the lead knows of, with their capacity and the load the lead itself has put on them (grants and open
 * suggestions). It lets an offer name a preferred worker that is idle and able to run it, so that a single offer
 * does not draw a claim from every idle worker at once. Confined to the lead's loop.
 */
final class Workers {
  private final Map<String, Known> known = new HashMap<>();
  private long turn;

  /** Records a worker's announcement; returns true when the worker is new to the lead. */
  boolean update(WorkerStatus status) {
    Known k = known.get(status.worker());
    if (k == null) {
      known.put(status.worker(), new Known(status));
      return true;
    }
    k.status = status;
    return false;
  }

  /**
   * Why {@code status} comes from a second process using an id another one serves under, if it does: both say which
   * instance they are ({@link WorkerStatus.Instance}), and the instances differ. The first one heard keeps the id.
   */
  Optional<String> clash(WorkerStatus status) {
    Known k = known.get(status.worker());
    if (k == null || k.status.instance().isEmpty() || status.instance().isEmpty()
        || k.status.instance().get().id().equals(status.instance().get().id())) {
      return Optional.empty();
    }
    WorkerStatus.Instance first = k.status.instance().get();
    return Optional.of("worker \"" + status.worker() + "\" is in use by another worker process: it runs on host "
        + k.status.host() + " from directory " + first.dir() + "; two workers may not share an id");
  }

  /** The host a worker last announced itself from, if it has. */
  Optional<String> host(String worker) {
    return Optional.ofNullable(known.get(worker)).map(k -> k.status.host());
  }

  int size() {
    return known.size();
  }

  boolean knows(String worker) {
    return known.containsKey(worker);
  }

  /** The capable worker with the most free capacity (ties taken in turn), if any has capacity left. */
  Optional<String> pick(List<String> requires) {
    return pick(requires, "");
  }

  /** As {@link #pick(List)}, never naming {@code except} (the writer of work under review). */
  Optional<String> pick(List<String> requires, String except) {
    Known best = null;
    long bestFree = 0;
    for (Known k : known.values()) {
      long free = k.status.slots() - k.load;
      if (free > 0 && (requires.isEmpty() || k.status.capabilities().containsAll(requires))
          && !k.status.worker().equals(except)
          && (best == null || free > bestFree || (free == bestFree && k.lastPicked < best.lastPicked))) {
        best = k;
        bestFree = free;
      }
    }
    if (best == null) {
      return Optional.empty();
    }
    best.lastPicked = ++turn;
    return Optional.of(best.status.worker());
  }

  /**
   * Why no known worker can run a task with these requirements, or empty when one can: the capabilities no worker
   * has, or that no single worker has them all.
   */
  Optional<String> whyNone(List<String> requires) {
    return whyNone(requires, "");
  }

  /** As {@link #whyNone(List)}, leaving {@code except} out: a review needs a worker other than the writer. */
  Optional<String> whyNone(List<String> requires, String except) {
    if (known.values().stream().anyMatch(k -> k.status.capabilities().containsAll(requires)
        && !k.status.worker().equals(except))) {
      return Optional.empty();
    }
    if (!except.isEmpty() && known.values().stream().anyMatch(k -> k.status.capabilities().containsAll(requires))) {
      return Optional.of("a review needs a worker other than its writer " + except + ", and no other can run it");
    }
    if (known.isEmpty()) {
      return Optional.of("no worker has announced itself");
    }
    java.util.Set<String> all = new java.util.TreeSet<>();
    known.values().forEach(k -> all.addAll(k.status.capabilities()));
    List<String> missing = requires.stream().filter(r -> !all.contains(r)).toList();
    return Optional.of(missing.isEmpty()
        ? "no single worker has all of " + requires
        : "no worker has the capabilit" + (missing.size() == 1 ? "y " : "ies ") + String.join(", ", missing)
            + " (known workers offer " + all + ")");
  }

  /** The lead put one more task (a suggestion or a grant) on the worker. */
  void load(String worker) {
    Known k = known.get(worker);
    if (k != null) {
      k.load++;
    }
  }

  /** A task the lead put on the worker is off it again. */
  void unload(String worker) {
    Known k = known.get(worker);
    if (k != null && k.load > 0) {
      k.load--;
    }
  }

  private static final class Known {
    WorkerStatus status;
    int load;
    long lastPicked;

    Known(WorkerStatus status) {
      this.status = status;
    }
  }
}
