package dev.lanes.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.coordinator.git.TargetBranch;
import dev.lanes.coordinator.git.VerifyTrees;
import dev.lanes.testkit.GitRepo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A verify that prints 300 MB on the merged tree, in a merge queue whose JVM has a 256 MB heap: the output goes to a
 * file, the entry is evicted with the tail of it, and the next entry still lands. The queue runs in a second JVM, so
 * that the heap limit is the one the issue names whatever heap the test JVM has.
 */
class VerifyFloodTest {
  private static final String TARGET = "lanes/flood";
  /** 300 MB: half of it in short lines, half as one line that never ends, then a last line the tail must keep. */
  private static final String FLOOD = "yes 'flood line' | head -c 150000000;"
      + " head -c 150000000 /dev/zero | tr '\\0' x; echo; echo last words; exit 1";

  @TempDir Path dir;

  @Test
  void verifyPrintingThreeHundredMegabytesIsEvictedWithItsTailAndTheNextEntryLands() throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Path out = dir.resolve("flood.out");
    Process p = new ProcessBuilder(java.toString(), "-Xmx256m", "-cp", System.getProperty("java.class.path"),
        Flood.class.getName(), dir.toString()).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    p.getOutputStream().close();
    boolean exited = p.waitFor(5, TimeUnit.MINUTES);
    if (!exited) {
      p.destroyForcibly().waitFor(); // a lead that ran out of heap hangs rather than exits
    }
    String text = Files.readString(out, StandardCharsets.UTF_8);

    assertThat(exited).as(text).isTrue();
    assertThat(p.exitValue()).as(text).isZero();
    assertThat(text).contains("evicted flood: verify failed on the merged tree: exit 1")
        .contains("tail-ends-with-last-words=true")
        .contains("tail-under-64KiB=true")
        .contains("landed after")
        .doesNotContain("OutOfMemoryError");
    System.out.println(text.lines().filter(l -> l.startsWith("heap")).findFirst().orElse(""));
  }

  /** The second JVM: a merge queue on a fresh repository, the flooding entry first, then one that passes. */
  static final class Flood {
    public static void main(String[] args) throws Exception {
      Path dir = Path.of(args[0]);
      GitRepo repo = GitRepo.sample(dir.resolve("repo"));
      String base = repo.rev("main");
      TargetBranch target = TargetBranch.open(repo.dir());
      target.prepare(TARGET, base);
      String flood = repo.commitOnto(base, "flood", Map.of("flood.txt", "flood\n"));
      String after = repo.commitOnto(base, "after", Map.of("after.txt", "after\n"));
      ExecutorService loop = Executors.newSingleThreadExecutor();
      List<String> events = new CopyOnWriteArrayList<>();
      CompletableFuture<Void> settled = new CompletableFuture<>();
      VerifyTrees trees = new VerifyTrees(target.commonGitDir());
      loop.submit(() -> {
        MergeQueue queue = MergeQueue.open(target, trees, TARGET, 1, loop, new MergeQueue.Listener() {
          @Override
          public void landed(MergeQueue.Entry entry, String tip) {
            done("landed " + entry.task());
          }

          @Override
          public void evicted(MergeQueue.Entry entry, MergeQueue.Eviction why) {
            String tail = why.context().substring(why.context().indexOf("Its last output:"),
                why.context().indexOf("Your earlier change:"));
            done("evicted " + entry.task() + ": " + why.reason() + "\ntail-ends-with-last-words="
                + tail.strip().endsWith("last words") + "\ntail-under-64KiB=" + (tail.length() < 64 * 1024));
          }

          private void done(String event) {
            events.add(event);
            if (events.size() == 2) {
              settled.complete(null);
            }
          }
        });
        queue.add(new MergeQueue.Entry("flood", flood, base, "Land flood", Optional.of(FLOOD), Duration.ofMinutes(3)));
        queue.add(new MergeQueue.Entry("after", after, base, "Land after", Optional.of("test -e after.txt"),
            Duration.ofMinutes(1)));
      }).get();
      settled.get(4, TimeUnit.MINUTES);
      events.forEach(System.out::println);
      Runtime rt = Runtime.getRuntime();
      System.out.println("heap max_mb=" + rt.maxMemory() / (1024 * 1024) + " used_mb="
          + (rt.totalMemory() - rt.freeMemory()) / (1024 * 1024));
      loop.shutdownNow();
      target.close();
      System.exit(0);
    }
  }
}
