package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TaskGraphTest {
  private static final AgentSpec AGENT = new AgentSpec(List.of("true"), 60_000);

  @Test
  void of_duplicateId() {
    assertThatThrownBy(() -> graph("a", "b", "a"))
        .isInstanceOf(ProtocolException.class)
        .hasMessage("tasks[2].id: \"a\" is already the id of tasks[0]; ids are unique");
  }

  @Test
  void dangling_unknownDependencyIsKeptAsideWithItsPosition() {
    TaskGraph graph = graph("a", "b:a,zz,a", "c:yy");

    assertThat(graph.dangling()).containsExactly(new TaskGraph.Dangling(1, 1, "zz"), new TaskGraph.Dangling(2, 0, "yy"));
    assertThat(graph.isAcyclic()).isTrue();
    assertThat(graph.dependents("a")).containsExactly("b");
  }

  @Test
  void order_eachTaskAfterEveryTaskItWaitsFor() {
    TaskGraph graph = graph("d:b,c", "c:a", "b:a", "a", "e");

    List<String> order = graph.order();

    assertThat(order).containsExactlyInAnyOrder("a", "b", "c", "d", "e");
    assertThat(order.indexOf("a")).isLessThan(order.indexOf("b")).isLessThan(order.indexOf("d"));
    assertThat(order.indexOf("c")).isLessThan(order.indexOf("d"));
    assertThat(graph.cycle()).isEmpty();
    assertThat(graph.blocked()).isEmpty();
  }

  @Test
  void cycle_namesOnlyTheCycleAsAClosedPath() {
    TaskGraph graph = graph("start:x", "x:y", "y:z", "z:x", "free");

    assertThat(graph.cycle()).contains(List.of("x", "y", "z", "x"));
    assertThat(graph.isAcyclic()).isFalse();
    assertThat(graph.blocked()).containsExactly("start", "x", "y", "z");
    assertThat(graph.order()).containsExactly("free");
  }

  @Test
  void cycle_selfDependency() {
    assertThat(graph("a:a").cycle()).contains(List.of("a", "a"));
  }

  @Test
  void cycle_repeatedDependencyCountsOnce() {
    TaskGraph graph = graph("a", "b:a,a");

    assertThat(graph.isAcyclic()).isTrue();
    assertThat(graph.dependents("a")).containsExactly("b");
  }

  /** A chain as long as a plan could be: recursion would overflow the stack here. */
  @Test
  void cycle_longChainClosedAtTheEnd() {
    int n = 20_000;
    List<Plan.Task> tasks = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      tasks.add(task("t" + i, List.of("t" + ((i + 1) % n))));
    }

    Optional<List<String>> cycle = TaskGraph.of(tasks).cycle();

    assertThat(cycle).hasValueSatisfying(c -> assertThat(c).hasSize(n + 1).startsWith("t0", "t1").endsWith("t0"));
  }

  @Test
  void mayRunTogether_onlyWhenNeitherWaitsForTheOtherThroughAnyPath() {
    TaskGraph graph = graph("last:middle", "middle:first", "first", "side");

    assertThat(graph.mayRunTogether("first", "last")).isFalse();
    assertThat(graph.mayRunTogether("last", "first")).isFalse();
    assertThat(graph.mayRunTogether("middle", "last")).isFalse();
    assertThat(graph.mayRunTogether("side", "first")).isTrue();
    assertThat(graph.mayRunTogether("side", "last")).isTrue();
  }

  @Test
  void mayRunTogether_unknownTask() {
    assertThatThrownBy(() -> graph("a").mayRunTogether("a", "nope"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("\"nope\"");
  }

  @Test
  void mayRunTogether_cycleNamesTheTasksItBlocks() {
    assertThatThrownBy(() -> graph("a:b", "b:a", "c:b", "d").mayRunTogether("a", "d"))
        .isInstanceOf(ProtocolException.class)
        .hasMessage("tasks: dependency cycle; these tasks wait for it and can never start: a, b, c");
  }

  @Test
  void addEdge_ordersTheTasksAndEveryTaskThatWaitsForTheLaterOne() {
    TaskGraph graph = graph("a", "b", "c:b", "d");

    graph.addEdge(graph.index("b"), graph.index("a"));

    assertThat(graph.mayRunTogether("a", "b")).isFalse();
    assertThat(graph.mayRunTogether("a", "c")).as("c waits for b, which now waits for a").isFalse();
    assertThat(graph.mayRunTogether("a", "d")).isTrue();
    assertThat(graph.dependents("a")).as("the plan's own edges are unchanged").isEmpty();
  }

  /** Reachability against a plain search on random graphs whose edges go from later tasks to earlier ones. */
  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 4, 5})
  void mayRunTogether_agreesWithASearchOnRandomAcyclicGraphs(long seed) {
    Random random = new Random(seed);
    int n = 60;
    List<Plan.Task> tasks = new ArrayList<>();
    boolean[][] edge = new boolean[n][n];
    for (int i = 0; i < n; i++) {
      List<String> after = new ArrayList<>();
      for (int j = 0; j < i; j++) {
        if (random.nextInt(20) == 0) {
          after.add("t" + j);
          edge[i][j] = true;
        }
      }
      tasks.add(task("t" + i, after));
    }
    TaskGraph graph = TaskGraph.of(tasks);

    for (int x = 0; x < n; x++) {
      for (int y = 0; y < n; y++) {
        boolean ordered = x != y && (reaches(edge, x, y) || reaches(edge, y, x));
        assertThat(graph.mayRunTogether("t" + x, "t" + y)).as("t%d, t%d", x, y).isEqualTo(!ordered);
      }
    }
    List<String> order = graph.order();
    for (int x = 0; x < n; x++) {
      for (int y = 0; y < n; y++) {
        if (edge[x][y]) {
          assertThat(order.indexOf("t" + y)).isLessThan(order.indexOf("t" + x));
        }
      }
    }
  }

  private static boolean reaches(boolean[][] edge, int from, int to) {
    boolean[] seen = new boolean[edge.length];
    List<Integer> todo = new ArrayList<>(List.of(from));
    while (!todo.isEmpty()) {
      int u = todo.remove(todo.size() - 1);
      for (int v = 0; v < edge.length; v++) {
        if (edge[u][v] && !seen[v]) {
          if (v == to) {
            return true;
          }
          seen[v] = true;
          todo.add(v);
        }
      }
    }
    return false;
  }

  /** Tasks written as {@code id} or {@code id:dep,dep}. */
  private static TaskGraph graph(String... specs) {
    List<Plan.Task> tasks = new ArrayList<>();
    for (String spec : specs) {
      String[] parts = spec.split(":", 2);
      tasks.add(task(parts[0], parts.length == 1 ? List.of() : Arrays.asList(parts[1].split(","))));
    }
    return TaskGraph.of(tasks);
  }

  private static Plan.Task task(String id, List<String> after) {
    return new Plan.Task(id, id, "do it", List.of(Claim.parse(id + "/")), after, List.of(), AGENT, Optional.empty());
  }
}
