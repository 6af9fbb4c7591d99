package dev.lanes.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lanes.coordinator.git.TargetBranch;
import dev.lanes.coordinator.http.Token;
import dev.lanes.protocol.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.stream.Stream;
import picocli.CommandLine.Option;

/**
 * A client of the lead's HTTP API, for {@code lanes watch} and {@code lanes logs}: where the lead serves and its
 * token, given ({@code --url}, {@code --token-file}) or found where a lead on this machine keeps them (the
 * repository's {@code .git/lanes/lead/}, or the run directory of a {@code lanes run} on it, the newest first).
 */
final class LeadApi {
  /** Where to find the lead: the options both commands share. */
  static final class Options {
    @Option(names = "--url", paramLabel = "URL",
        description = "The lead's dashboard address (http://HOST:PORT); default: the lead serving --repo on this"
            + " machine.")
    String url;

    @Option(names = "--token-file", paramLabel = "FILE",
        description = "The file with the lead's token (its http.token); default: the one beside the lead found.")
    Path tokenFile;

    @Option(names = "--repo", paramLabel = "DIR", defaultValue = ".",
        description = "The repository whose lead (lanes coordinator or lanes run) to find (default: ${DEFAULT-VALUE}).")
    Path repo;
  }

  /** The lead could not be reached or stopped answering: the work's failure to report, exit 1. */
  static final class Unreachable extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Unreachable(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** One server-sent event. */
  record Event(long id, String kind, String data) {}

  private final URI base;
  private final Token token;
  private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private LeadApi(URI base, Token token) {
    this.base = base;
    this.token = token;
  }

  static LeadApi find(Options options) {
    Optional<Path> found = options.url != null && options.tokenFile != null ? Optional.empty() : local(options.repo);
    String url = options.url != null ? options.url : found.map(dir -> read(dir.resolve(HttpOptions.URL_FILE)))
        .orElseThrow(() -> new IllegalArgumentException("--url: no lead serves a dashboard for " + options.repo
            + " on this machine; start one with --http, or give --url and --token-file"));
    URI base;
    try {
      base = URI.create(url.strip().replaceAll("/+$", ""));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--url: \"" + url + "\" is not a URL: " + e.getMessage(), e);
    }
    if (!"http".equals(base.getScheme()) || base.getHost() == null || base.getPort() < 0) {
      throw new IllegalArgumentException("--url: \"" + url + "\" is not http://HOST:PORT");
    }
    Path tokenFile = options.tokenFile != null ? options.tokenFile : found.map(dir -> dir.resolve(Token.FILE))
        .orElseThrow(() -> new IllegalArgumentException("--token-file: no token found for " + url
            + "; give the lead's http.token"));
    return new LeadApi(base, Token.read(tokenFile));
  }

  /** The state directory of the newest lead on this machine that serves a dashboard for {@code repo}. */
  private static Optional<Path> local(Path repo) {
    Path gitDir;
    try (TargetBranch target = TargetBranch.open(repo.toAbsolutePath())) {
      gitDir = target.commonGitDir();
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("--repo: " + repo + " is not a git repository, so no lead of it is found;"
          + " give --url and --token-file", e);
    }
    List<Path> dirs = new ArrayList<>();
    dirs.add(HttpOptions.leadDir(gitDir));
    RunRecords.list(gitDir).forEach(r -> dirs.add(r.dir().resolve("lead")));
    return dirs.stream().filter(d -> Files.isRegularFile(d.resolve(HttpOptions.URL_FILE))
        && Files.isRegularFile(d.resolve(Token.FILE)))
        .max(Comparator.comparingLong(d -> modified(d.resolve(HttpOptions.URL_FILE))));
  }

  private static long modified(Path file) {
    try {
      return Files.getLastModifiedTime(file).toMillis();
    } catch (IOException e) {
      return 0;
    }
  }

  private static String read(Path file) {
    try {
      return Files.readString(file).strip();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }

  String base() {
    return base.toString();
  }

  /** A GET of the API as JSON; a refusal (401, 404) is bad input, naming the lead's own words. */
  JsonNode get(String path) {
    HttpResponse<String> response;
    try {
      response = client.send(request(path).timeout(Duration.ofSeconds(30)).build(),
          HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new Unreachable("the lead at " + base + " does not answer: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Unreachable("interrupted", e);
    }
    JsonNode body = parse(response.body());
    if (response.statusCode() != 200) {
      throw new IllegalArgumentException("the lead at " + base + " answered " + response.statusCode() + ": "
          + body.path("error").asText(response.body()));
    }
    return body;
  }

  /**
   * Follows the change stream from after {@code lastSeen} until {@code until} says to stop (true) or the stream ends.
   *
   * @return whether {@code until} stopped it (false: the lead closed the stream)
   */
  boolean follow(long lastSeen, Predicate<Event> until) {
    HttpResponse<Stream<String>> response;
    try {
      response = client.send(request("/api/events").header("Last-Event-ID", Long.toString(lastSeen)).build(),
          HttpResponse.BodyHandlers.ofLines());
    } catch (IOException e) {
      throw new Unreachable("the lead at " + base + " does not answer: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Unreachable("interrupted", e);
    }
    if (response.statusCode() != 200) {
      String body = String.join("\n", response.body().toList());
      throw new IllegalArgumentException("the lead at " + base + " answered " + response.statusCode() + ": "
          + parse(body).path("error").asText(body));
    }
    try (Stream<String> lines = response.body()) {
      long id = -1;
      String kind = "message";
      for (Iterator<String> it = lines.iterator(); it.hasNext(); ) {
        String line = it.next();
        if (line.startsWith("id: ")) {
          id = Long.parseLong(line.substring(4).strip());
        } else if (line.startsWith("event: ")) {
          kind = line.substring(7).strip();
        } else if (line.startsWith("data: ")) {
          if (until.test(new Event(id, kind, line.substring(6)))) {
            return true;
          }
          id = -1;
          kind = "message";
        }
      }
      return false;
    } catch (UncheckedIOException e) {
      throw new Unreachable("the lead at " + base + " stopped answering: " + e.getCause(), e);
    }
  }

  private HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(base.resolve(path)).header("Authorization", "Bearer " + token.value());
  }

  private static JsonNode parse(String body) {
    try {
      return Json.mapper().readTree(body);
    } catch (IOException e) {
      return Json.mapper().createObjectNode();
    }
  }
}
