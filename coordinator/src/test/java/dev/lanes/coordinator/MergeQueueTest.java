package dev.lanes.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.coordinator.git.TargetBranch;
import dev.lanes.coordinator.git.VerifyTrees;
import dev.lanes.testkit.GitRepo;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The merge queue on a real repository, with real verify commands run in its own worktrees. */
class MergeQueueTest {
  private static final String TARGET = "lanes/q";

  @TempDir Path dir;
  private GitRepo repo;
  private TargetBranch target;
  private String base;
  private final ExecutorService loop = Executors.newSingleThreadExecutor();
  private final List<String> events = new CopyOnWriteArrayList<>();
  private final CompletableFuture<Void> settled = new CompletableFuture<>();

  @BeforeEach
  void setUp() {
    repo = GitRepo.sample(dir.resolve("repo"));
    base = repo.rev("main");
    target = TargetBranch.open(repo.dir());
    target.prepare(TARGET, base);
  }

  @AfterEach
  void tearDown() {
    loop.shutdownNow();
    target.close();
  }

  @Test
  void failureInTheMiddleIsEvictedAndWhatWasBuiltOnItLandsWithoutIt() throws Exception {
    String a = repo.commitOnto(base, "a", Map.of("a.txt", "a\n"));
    String b = repo.commitOnto(base, "b", Map.of("bad.txt", "b\n"));
    String c = repo.commitOnto(base, "c", Map.of("c.txt", "c\n"));

    run(3, entry("a", a), entry("b", b), entry("c", c));

    assertThat(events).containsExactly("landed a", "evicted b: verify failed on the merged tree: exit 1",
        "landed c");
    assertThat(repo.git("ls-tree", "--name-only", TARGET)).contains("a.txt", "c.txt").doesNotContain("bad.txt");
    for (String position : repo.git("log", "-g", "--format=%H", TARGET).lines().toList()) {
      assertThat(repo.git("ls-tree", "--name-only", position)).doesNotContain("bad.txt");
    }
  }

  @Test
  void conflictWithTheTargetIsEvictedWithThePathAndTheDiff() throws Exception {
    String first = repo.commitOnto(base, "first", Map.of("shared.txt", "first\n"));
    String second = repo.commitOnto(base, "second", Map.of("shared.txt", "second\n"));
    List<MergeQueue.Eviction> evictions = new CopyOnWriteArrayList<>();

    run(2, evictions, entry("first", first), entry("second", second));

    assertThat(events).containsExactly("landed first", "evicted second: merge conflict in shared.txt");
    assertThat(evictions.get(0).paths()).containsExactly("shared.txt");
    assertThat(evictions.get(0).context()).contains("conflicted in: shared.txt").contains("+second");
    assertThat(target.tip(TARGET)).contains(first);
  }

  @Test
  void conflictWithAnEntryAheadThatIsEvictedLandsOnceItIsGone() throws Exception {
    // zero lands first, so that the window is two wide when first and second are built: second is merged onto first,
    // conflicts there, and must wait for first's fate rather than be evicted for it
    String zero = repo.commitOnto(base, "zero", Map.of("zero.txt", "zero\n"));
    String first = repo.commitOnto(base, "first", Map.of("shared.txt", "first\n", "bad.txt", "x\n"));
    String second = repo.commitOnto(base, "second", Map.of("shared.txt", "second\n"));
    String third = repo.commitOnto(base, "third", Map.of("third.txt", "third\n"));

    run(4, entry("zero", zero), entry("first", first), entry("second", second), entry("third", third));

    assertThat(events).containsExactly("landed zero", "evicted first: verify failed on the merged tree: exit 1",
        "landed second", "landed third");
    assertThat(repo.git("show", TARGET + ":shared.txt")).isEqualTo("second");
    assertThat(repo.git("ls-tree", "--name-only", TARGET)).contains("third.txt").doesNotContain("bad.txt");
  }

  private MergeQueue.Entry entry(String task, String commit) {
    return new MergeQueue.Entry(task, commit, base, "Land " + task, Optional.of("test ! -e bad.txt"),
        Duration.ofMinutes(1));
  }

  private void run(int expected, MergeQueue.Entry... entries) throws Exception {
    run(expected, new CopyOnWriteArrayList<>(), entries);
  }

  private void run(int expected, List<MergeQueue.Eviction> evictions, MergeQueue.Entry... entries) throws Exception {
    VerifyTrees trees = new VerifyTrees(target.commonGitDir());
    loop.submit(() -> {
      MergeQueue queue = MergeQueue.open(target, trees, TARGET, 4, loop, new MergeQueue.Listener() {

        @Override
        public void landed(MergeQueue.Entry entry, String tip) {
          done("landed " + entry.task());
        }

        @Override
        public void evicted(MergeQueue.Entry entry, MergeQueue.Eviction why) {
          evictions.add(why);
          done("evicted " + entry.task() + ": " + why.reason());
        }

        private void done(String event) {
          events.add(event);
          if (events.size() == expected) {
            settled.complete(null);
          }
        }
      });
      for (MergeQueue.Entry e : entries) {
        queue.add(e);
      }
    }).get();
    settled.get(60, TimeUnit.SECONDS);
  }
}
