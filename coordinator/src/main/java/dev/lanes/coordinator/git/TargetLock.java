package dev.lanes.coordinator.git;

import dev.lanes.coordinator.LeadException;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

/**
 * One run at a time on a target branch, among the processes of this machine that work on one repository: a lock file
 * per target in the repository's {@code .git/lanes/targets/}, held with an operating-system lock for as long as the
 * run goes on. The system drops the lock when the process ends, however it ends, so a crash leaves no stale hold; the
 * file itself stays and names its last holder. Taken by {@code lanes run} before it starts a broker, and by a lead for
 * each run it holds, so that the two refuse each other too. Across machines the event log decides (see the lead).
 *
 * <p>Within one process a lock is taken again by the same run (the lead of {@code lanes run} takes what the command
 * took), counted, and freed with its last holder; a file lock cannot be taken twice by one process.
 */
public final class TargetLock implements AutoCloseable {
  /** The locks this process holds, by file: the system's lock is per process, so the count is kept here. */
  private static final Map<Path, TargetLock> HELD = new HashMap<>();

  /**
   * Who holds a target.
   *
   * @param what the holding process, as a person would find it ({@code lanes run}, {@code lead lead-4242-9f3a})
   */
  public record Holder(String run, String target, Instant since, long pid, String host, String what) {
    /** A holder that is this process. */
    public static Holder of(String run, String target, Instant since, String what) {
      // To the second: the time is read by people, in a refusal, and finer figures only make it harder to read.
      return new Holder(run, target, since.truncatedTo(ChronoUnit.SECONDS), ProcessHandle.current().pid(), hostName(),
          what);
    }

    /** {@code run R (lanes run, pid 4242 on build-01) since 2026-12-03T02:40:01Z}. */
    public String describe() {
      return "run " + run + " (" + what + ", pid " + pid + " on " + host + ") since " + since;
    }
  }

  /** The target is held by another run. */
  public static final class Held extends LeadException {
    private static final long serialVersionUID = 1L;

    Held(String target, Optional<Holder> holder) {
      super("target: \"" + target + "\" is held by " + holder.map(Holder::describe).orElse("another process")
          + "; one run per target: wait for it to end, or give the plan another target");
    }
  }

  private final Path file;
  private final Holder holder;
  private final FileChannel channel;
  private final FileLock lock;
  private int count = 1;

  private TargetLock(Path file, Holder holder, FileChannel channel, FileLock lock) {
    this.file = file;
    this.holder = holder;
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Takes the target for the holder's run, or joins this process's hold of it for the same run.
   *
   * @throws Held naming the run that holds it
   */
  public static TargetLock acquire(Path commonGitDir, Holder holder) {
    Path file = file(commonGitDir, holder.target());
    synchronized (HELD) {
      TargetLock mine = HELD.get(file);
      if (mine != null) {
        if (!mine.holder.run().equals(holder.run())) {
          throw new Held(holder.target(), Optional.of(mine.holder));
        }
        mine.count++;
        return mine;
      }
      FileChannel channel = null;
      try {
        Files.createDirectories(file.getParent());
        channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
            StandardOpenOption.WRITE);
        FileLock lock = channel.tryLock();
        if (lock == null) {
          channel.close();
          throw new Held(holder.target(), read(file));
        }
        channel.truncate(0);
        channel.write(ByteBuffer.wrap(encode(holder)), 0);
        channel.force(false);
        TargetLock taken = new TargetLock(file, holder, channel, lock);
        HELD.put(file, taken);
        return taken;
      } catch (IOException e) {
        closeQuietly(channel);
        throw new LeadException("cannot take the lock " + file + ": " + e.getMessage(), e);
      }
    }
  }

  /**
   * The run holding the target now, if any: a hold of this process, or a lock file another live process has locked.
   */
  public static Optional<Holder> holder(Path commonGitDir, String target) {
    return live(file(commonGitDir, target));
  }

  /** Every run that holds a target of the repository now. */
  public static java.util.List<Holder> holders(Path commonGitDir) {
    Path dir = commonGitDir.resolve("lanes").resolve("targets");
    if (!Files.isDirectory(dir)) {
      return java.util.List.of();
    }
    try (var files = Files.list(dir)) {
      return files.filter(f -> f.toString().endsWith(".lock")).sorted().map(TargetLock::live)
          .flatMap(Optional::stream).toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir, e);
    }
  }

  private static Optional<Holder> live(Path file) {
    synchronized (HELD) {
      TargetLock mine = HELD.get(file);
      if (mine != null) {
        return Optional.of(mine.holder);
      }
      if (!Files.isRegularFile(file)) {
        return Optional.empty();
      }
      try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
        FileLock probe = channel.tryLock();
        if (probe != null) {
          probe.release();
          return Optional.empty();
        }
        // Held, but the holder may still be writing its name: say at least that someone holds it.
        return Optional.of(read(file).orElseGet(() -> new Holder("?", "?", Instant.EPOCH, -1, "?", "another process")));
      } catch (IOException e) {
        return Optional.empty();
      }
    }
  }

  /** The lock file of a target: one flat file per target, its name the target escaped. */
  static Path file(Path commonGitDir, String target) {
    return commonGitDir.resolve("lanes").resolve("targets")
        .resolve(URLEncoder.encode(target, StandardCharsets.UTF_8) + ".lock");
  }

  private static byte[] encode(Holder h) {
    Properties p = new Properties();
    p.setProperty("run", h.run());
    p.setProperty("target", h.target());
    p.setProperty("since", h.since().toString());
    p.setProperty("pid", Long.toString(h.pid()));
    p.setProperty("host", h.host());
    p.setProperty("what", h.what());
    StringWriter out = new StringWriter();
    try {
      p.store(out, "held by a Lanes run; the operating system's lock on this file is the hold");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString().getBytes(StandardCharsets.UTF_8);
  }

  private static Optional<Holder> read(Path file) {
    try {
      Properties p = new Properties();
      p.load(new StringReader(Files.readString(file, StandardCharsets.UTF_8)));
      return Optional.of(new Holder(p.getProperty("run"), p.getProperty("target"),
          Instant.parse(p.getProperty("since")), Long.parseLong(p.getProperty("pid")), p.getProperty("host"),
          p.getProperty("what")));
    } catch (IOException | RuntimeException e) {
      return Optional.empty(); // being written, or not ours: the caller says "another process"
    }
  }

  public Holder holder() {
    return holder;
  }

  /** Lets the target go when the last holder in this process does. */
  @Override
  public void close() {
    synchronized (HELD) {
      if (count == 0 || --count > 0) {
        return;
      }
      HELD.remove(file);
      try {
        lock.release();
      } catch (IOException e) {
        // the channel's close below releases it as well
      }
      closeQuietly(channel);
    }
  }

  private static void closeQuietly(FileChannel channel) {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        // nothing held any more either way
      }
    }
  }

  private static String hostName() {
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "localhost";
    }
  }
}
