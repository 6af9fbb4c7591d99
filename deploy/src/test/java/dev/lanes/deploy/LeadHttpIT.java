package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.testkit.GitRepo;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lead's dashboard as a user starts it: {@code lanes coordinator --http HOST:PORT} as a process on a secured
 * broker prints the one dashboard line, keeps its token in a file only its owner reads, and its API answers with the
 * token and refuses without it.
 */
class LeadHttpIT {
  private static final Pattern LINE = Pattern.compile("dashboard: (http://127\\.0\\.0\\.1:(\\d+))/#token=([A-Za-z0-9_-]+)");

  @TempDir Path dir;
  private ProcessCluster cluster;
  private GitRepo repo;
  private final HttpClient client = HttpClient.newHttpClient();

  @BeforeEach
  void setUp() {
    repo = GitRepo.sample(dir.resolve("repo"));
    cluster = new ProcessCluster(dir);
    cluster.startBroker();
  }

  @AfterEach
  void tearDown() {
    cluster.close();
  }

  @Test
  void coordinatorWithHttp_printsTheDashboardLine_keepsItsTokenPrivate_andGuardsTheApi() throws Exception {
    cluster.startLead("lead", repo.dir(), "2m", 1, "--http", "127.0.0.1:0");
    cluster.awaitLog("lead", "dashboard: ");
    Matcher line = LINE.matcher(Files.readString(cluster.log("lead")));
    assertThat(line.find()).isTrue();
    String base = line.group(1);
    String token = line.group(3);

    Path tokenFile = repo.dir().resolve(".git/lanes/lead/http.token");
    assertThat(Files.readString(tokenFile).strip()).isEqualTo(token);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile))).isEqualTo("rw-------");
    assertThat(Files.readString(repo.dir().resolve(".git/lanes/lead/http.url")).strip()).isEqualTo(base);

    HttpResponse<String> state = get(base + "/api/state", "Bearer " + token);
    assertThat(state.statusCode()).isEqualTo(200);
    assertThat(state.body()).contains("\"lead\":{\"name\":\"lead-");
    assertThat(get(base + "/api/state", "Bearer nope").statusCode()).isEqualTo(401);
    assertThat(get(base + "/metrics", "Bearer " + token).body()).contains("lanes_workers");
  }

  @Test
  void watchAndLogs_findTheLocalLead_showItsRun_andFollowATaskToItsEnd() throws Exception {
    cluster.startLead("lead", repo.dir(), "2m", 1, "--http", "127.0.0.1:0");
    cluster.awaitLog("lead", "dashboard: ");
    cluster.startWorker("w1", repo.dir());
    Path plan = Files.writeString(dir.resolve("plan.yaml"), "name: watched\nagent:\n  command: [sh, -c, 'sleep 2;"
        + " echo agent says hello; echo done > core/x.txt']\ntasks:\n  - {id: core, prompt: p, owns: [core/]}\n");
    LanesRunIT.Run submitted = LanesRunIT.lanes("submit", plan.toString(), "--repo", repo.dir().toString(),
        "--kafka-config", cluster.clientFile("submit").toString(), "--timeout", "60");
    assertThat(submitted.exit()).as(submitted.output()).isZero();
    String run = submitted.out().strip().lines().reduce((a, b) -> b).orElseThrow();

    LanesRunIT.Run logs = LanesRunIT.lanes("logs", run, "core", "--follow", "--repo", repo.dir().toString());
    assertThat(logs.exit()).as(logs.output()).isZero();
    assertThat(logs.out()).contains("== " + run + "/core attempt 1 on w1: PASSED", "agent says hello");

    LanesRunIT.Run watch = LanesRunIT.lanes("watch", "--once", "--repo", repo.dir().toString());
    assertThat(watch.exit()).as(watch.output()).isZero();
    assertThat(watch.out()).contains("lead lead-", "run " + run + " (watched -> lanes/watched)", "core",
        "LANDED", "w1");

    LanesRunIT.Run unknown = LanesRunIT.lanes("logs", "no-such-run", "core", "--repo", repo.dir().toString());
    assertThat(unknown.exit()).isEqualTo(2);
    assertThat(unknown.err().strip()).endsWith("404: run: \"no-such-run\" is not a run this lead shows");
    LanesRunIT.Run badId = LanesRunIT.lanes("logs", "../etc", "core", "--repo", repo.dir().toString());
    assertThat(badId.exit()).isEqualTo(2);
    assertThat(badId.err()).contains("RUN: \"../etc\" is not an id");
    Path tokenFile = repo.dir().resolve(".git/lanes/lead/http.token");
    LanesRunIT.Run gone = LanesRunIT.lanes("watch", "--once", "--url", "http://127.0.0.1:1", "--token-file",
        tokenFile.toString());
    assertThat(gone.exit()).as(gone.output()).isEqualTo(1);
    assertThat(gone.err()).startsWith("lanes: the lead at http://127.0.0.1:1 does not answer");
    Path wrong = Files.writeString(dir.resolve("wrong.token"), "AAAA\n");
    String base = Files.readString(repo.dir().resolve(".git/lanes/lead/http.url")).strip();
    LanesRunIT.Run refused = LanesRunIT.lanes("watch", "--once", "--url", base, "--token-file", wrong.toString());
    assertThat(refused.exit()).isEqualTo(2);
    assertThat(refused.err()).contains("answered 401: Authorization: not the lead's token");
    LanesRunIT.Run none = LanesRunIT.lanes("watch", "--once", "--repo", GitRepo.sample(dir.resolve("other")).dir()
        .toString());
    assertThat(none.exit()).isEqualTo(2);
    assertThat(none.err()).contains("no lead serves a dashboard for");
  }

  @Test
  void lanesRun_printsItsDashboardLine_andABadAddressIsBadInput() throws Exception {
    Path plan = Files.writeString(dir.resolve("run.yaml"), "name: served\nagent:\n  command: [sh, -c, 'echo done >"
        + " core/y.txt']\ntasks:\n  - {id: core, prompt: p, owns: [core/]}\n");
    LanesRunIT.Run run = LanesRunIT.lanes("run", plan.toString(), "--repo", repo.dir().toString(), "--http",
        "127.0.0.1:0");
    assertThat(run.exit()).as(run.output()).isZero();
    assertThat(run.out()).containsPattern("(?m)^dashboard: http://127\\.0\\.0\\.1:\\d+/#token=[A-Za-z0-9_-]{43}$");
    LanesRunIT.Run bad = LanesRunIT.lanes("run", plan.toString(), "--repo", repo.dir().toString(), "--http",
        "nowhere");
    assertThat(bad.exit()).isEqualTo(2);
    assertThat(bad.err().strip()).isEqualTo("lanes: --http: \"nowhere\" is not HOST:PORT (such as 127.0.0.1:7070) or"
        + " off");
  }

  @Test
  void lanesRunWithHttpGiven_keepsARunWithAParkedTaskOpenForAPerson_andEndsOnceItIsSettled() throws Exception {
    Path plan = Files.writeString(dir.resolve("fails.yaml"), "name: fails\nagent:\n  command: [sh, -c, 'exit 1']\n"
        + "tasks:\n  - {id: core, prompt: p, owns: [core/]}\n");
    java.io.StringWriter out = new java.io.StringWriter();
    java.util.concurrent.CompletableFuture<Integer> exit = java.util.concurrent.CompletableFuture.supplyAsync(() ->
        Main.execute(new java.io.PrintWriter(out, true), new java.io.PrintWriter(out, true), "run", plan.toString(),
            "--repo", repo.dir().toString(), "--max-attempts", "2", "--http", "127.0.0.1:0"));
    org.awaitility.Awaitility.await().atMost(Duration.ofMinutes(1)).until(() -> LINE.matcher(out.toString()).find());
    Matcher line = LINE.matcher(out.toString());
    assertThat(line.find()).isTrue();
    String base = line.group(1);
    String token = "Bearer " + line.group(3);

    // Out of attempts, the task needs a person; with --http given the run stays open for one.
    org.awaitility.Awaitility.await().atMost(Duration.ofMinutes(1)).until(() -> get(base + "/api/state", token)
        .body().contains("\"kind\":\"needs-human\""));
    String run = dev.lanes.protocol.Json.mapper().readTree(get(base + "/api/state", token).body()).path("runs").get(0)
        .path("run").asText();
    HttpResponse<String> cancelled = client.send(HttpRequest.newBuilder(URI.create(base + "/api/runs/" + run
        + "/tasks/core/cancel")).timeout(Duration.ofSeconds(10)).header("Authorization", token)
        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(cancelled.statusCode()).as(cancelled.body()).isEqualTo(200);

    assertThat(exit.get(1, java.util.concurrent.TimeUnit.MINUTES)).as(out.toString()).isEqualTo(1);
    assertThat(out.toString()).containsPattern("core +failed .*cancelled by http");
  }

  private HttpResponse<String> get(String url, String authorization) throws Exception {
    return client.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
        .header("Authorization", authorization).build(), HttpResponse.BodyHandlers.ofString());
  }
}
