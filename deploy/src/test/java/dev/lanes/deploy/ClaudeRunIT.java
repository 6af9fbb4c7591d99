package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lanes run} with the claude adapter on the embedded broker, against the fake {@code claude} that the build puts
 * on this test's PATH (worker/src/test/resources/fake-claude): real-format stream-json, real processes, real budgets
 * and time limits. Each task's prompt tells the fake how to behave.
 */
class ClaudeRunIT {
  @TempDir Path dir;

  @Test
  void costAndTurnsAreReportedAndHangingOverspendingAndGarbageAgentsFailWithTheirReason() throws IOException {
    Path repo = dir.resolve("repo");
    Files.createDirectories(repo);
    Files.writeString(repo.resolve("README.md"), "claude\n");
    Demo.git(repo, "init", "-q", "-b", "main");
    Demo.git(repo, "add", "-A");
    Demo.git(repo, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-q", "-m", "start");
    Path plan = Files.writeString(dir.resolve("plan.yaml"), """
        name: claude
        agent:
          claude: {budget-usd: 0.50, max-turns: 10}
          timeout: 3s
        tasks:
          - {id: good, prompt: "Edit the file. fake-edit:good/file.txt", owns: [good/]}
          - {id: hang, prompt: "fake-mode:hang", owns: [hang/]}
          - {id: spend, prompt: "fake-mode:over-budget", owns: [spend/]}
          - {id: junk, prompt: "fake-mode:garbage", owns: [junk/]}
        """);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();

    int exit = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), "run", plan.toString(), "--repo",
        repo.toString(), "--workers", "4");

    String text = out.toString();
    assertThat(exit).as(text + err).isEqualTo(1);
    assertThat(text).containsPattern("good +running +agent: Edit ");
    assertThat(text).containsPattern("good +landed .*target at [0-9a-f]+; \\$0.0123, 3 turn\\(s\\)");
    assertThat(text).containsPattern("hang +failed .*agent timed out after 3s");
    assertThat(text).containsPattern("spend +failed .*agent stopped: over budget: estimated \\$[0-9.]+ > \\$0.50");
    assertThat(text).containsPattern("junk +failed .*agent stream: .*no result event");
    assertThat(Demo.git(repo, "show", "lanes/claude:good/file.txt")).isEqualTo("edited by claude\n");
  }

  /**
   * A plan of three tasks in a chain at $0.30 each, with a budget of $0.50: the second attempt crosses it. Written in
   * {@code dir}, with a repository for it made at {@code repo}.
   */
  static Path capped(Path dir, Path repo) throws IOException {
    Files.createDirectories(repo);
    Files.writeString(repo.resolve("README.md"), "claude\n");
    Demo.git(repo, "init", "-q", "-b", "main");
    Demo.git(repo, "add", "-A");
    Demo.git(repo, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-q", "-m", "start");
    return Files.writeString(dir.resolve("plan.yaml"), """
        name: capped
        budget-usd: 0.50
        agent:
          claude: {}
          timeout: 30s
        tasks:
          - {id: one, prompt: "fake-cost:0.30 fake-edit:one/file.txt", owns: [one/]}
          - {id: two, prompt: "fake-cost:0.30 fake-edit:two/file.txt", owns: [two/], after: [one]}
          - {id: three, prompt: "fake-cost:0.30 fake-edit:three/file.txt", owns: [three/], after: [two]}
        """);
  }

  @Test
  void aRunWhoseBudgetIsSpentEndsWithExitOneSayingSoOnceWhatPassedHasLanded() throws IOException {
    Path repo = dir.resolve("repo");
    Path plan = capped(dir, repo);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();

    int exit = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), "run", plan.toString(), "--repo",
        repo.toString(), "--workers", "1");

    String text = out.toString();
    assertThat(exit).as(text + err).isEqualTo(1);
    assertThat(text).containsPattern("two +landed ");
    assertThat(text).containsPattern("three +offered ");
    assertThat(text).contains("The budget stopped run capped-", ": spent $0.60 of the run's budget of $0.50; no new"
        + " attempt starts");
    assertThat(Demo.git(repo, "show", "lanes/capped:two/file.txt")).isEqualTo("edited by claude\n");
  }

  @Test
  void givenHttpARunPausedByItsBudgetWaitsForARaiseOnTheApiAndThenLands() throws Exception {
    Path repo = dir.resolve("repo");
    Path plan = capped(dir, repo);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    java.util.concurrent.CompletableFuture<Integer> exit = java.util.concurrent.CompletableFuture.supplyAsync(
        () -> Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), "run", plan.toString(), "--repo",
            repo.toString(), "--workers", "1", "--http", "127.0.0.1:0"));

    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofMinutes(2))
        .until(() -> out.toString().contains(" is paused: spent $0.60") || exit.isDone());
    String text = out.toString();
    assertThat(text).as(text + err).contains("raise its budget on the dashboard");
    java.util.regex.Matcher dashboard = java.util.regex.Pattern.compile("dashboard: (http://[^/]+)/#token=(\\S+)")
        .matcher(text);
    assertThat(dashboard.find()).as(text).isTrue();
    java.util.regex.Matcher paused = java.util.regex.Pattern.compile("run (capped-\\S+) is paused").matcher(text);
    assertThat(paused.find()).isTrue();
    java.net.http.HttpResponse<String> raised = java.net.http.HttpClient.newHttpClient().send(
        java.net.http.HttpRequest.newBuilder(java.net.URI.create(dashboard.group(1) + "/api/runs/" + paused.group(1)
            + "/budget")).header("Authorization", "Bearer " + dashboard.group(2))
            .header("Content-Type", "application/json")
            .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"usd\": 2}")).build(),
        java.net.http.HttpResponse.BodyHandlers.ofString());

    assertThat(raised.statusCode()).as(raised.body()).isEqualTo(200);
    assertThat(exit.get(2, java.util.concurrent.TimeUnit.MINUTES)).as(out.toString() + err).isZero();
    assertThat(Demo.git(repo, "show", "lanes/capped:three/file.txt")).isEqualTo("edited by claude\n");
  }
}
