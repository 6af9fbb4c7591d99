package dev.lanes.deploy;

import dev.lanes.coordinator.Lead;
import dev.lanes.coordinator.http.HttpServer;
import dev.lanes.coordinator.http.Token;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Option;

/** The lead's HTTP server (dashboard, API, metrics): the options {@code lanes coordinator} and {@code lanes run} share. */
final class HttpOptions {
  /** Where the lead keeps the dashboard's address for {@code lanes watch}, beside its {@link Token#FILE}. */
  static final String URL_FILE = "http.url";
  private static final Pattern ADDRESS = Pattern.compile("(\\[[0-9a-fA-F:.]+]|[A-Za-z0-9.-]+):([0-9]{1,5})");

  @Option(names = "--http", paramLabel = "HOST:PORT",
      description = "Serve the dashboard, its API and /metrics on this address, or off (default: 127.0.0.1:7070 for"
          + " lanes coordinator, a free port on 127.0.0.1 for lanes run). Every API request needs the token printed"
          + " on the dashboard line.")
  String http;

  @Option(names = "--metrics-public",
      description = "Serve /metrics without the token, for a Prometheus that scrapes it; the API still needs it.")
  boolean metricsPublic;

  /**
   * Whether a person was asked to sit at the dashboard: {@code --http} given with an address. Then a run whose tasks
   * wait for a person stays open for them (see {@link Lead.Attention}); the default address alone does not say that
   * anybody looks.
   */
  boolean watched() {
    return http != null && !http.strip().equals("off");
  }

  /** {@code attention}, with runs waiting for a person also when the dashboard is {@link #watched}. */
  Lead.Attention attention(Lead.Attention attention) {
    return attention.waiting(attention.waitForPeople() || watched());
  }

  /** The server's options, or empty for {@code --http off}; {@code fallback} when the option is not given. */
  Optional<HttpServer.Options> options(String fallback) {
    String given = http == null ? fallback : http.strip();
    if (given.equals("off")) {
      return Optional.empty();
    }
    Matcher m = ADDRESS.matcher(given);
    int port = m.matches() ? Integer.parseInt(m.group(2)) : -1;
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("--http: \"" + given + "\" is not HOST:PORT (such as 127.0.0.1:7070) or off");
    }
    String host = m.group(1).startsWith("[") ? m.group(1).substring(1, m.group(1).length() - 1) : m.group(1);
    return Optional.of(HttpServer.Options.on(host, port).withMetricsPublic(metricsPublic));
  }

  /**
   * Starts the server for {@code lead} when asked for, with a fresh token in {@code stateDir}, and prints the one
   * line that opens the dashboard.
   */
  Optional<HttpServer> serve(String fallback, Lead lead, Path stateDir, PrintWriter out) {
    Optional<HttpServer.Options> options = options(fallback);
    if (options.isEmpty()) {
      return Optional.empty();
    }
    Token token = Token.generate();
    HttpServer server;
    try {
      server = HttpServer.start(options.get(), lead, token);
    } catch (IllegalArgumentException e) {
      if (http != null) {
        throw e;
      }
      // Only the default: a second lead on this machine (one waiting to take over) goes on without a dashboard.
      out.println("warning: " + e.getMessage() + "; no dashboard (choose an address with --http, or --http off)");
      out.flush();
      return Optional.empty();
    }
    try {
      token.writeTo(stateDir);
      Files.writeString(stateDir.resolve(URL_FILE), server.baseUrl() + "\n");
    } catch (IOException e) {
      server.close();
      throw new UncheckedIOException("could not write " + stateDir.resolve(URL_FILE) + ": " + e.getMessage(), e);
    } catch (UncheckedIOException e) {
      server.close();
      throw e;
    }
    out.println("dashboard: " + server.dashboardUrl());
    out.flush();
    return Optional.of(server);
  }

  /** The lead's state directory for a daemon lead on a repository: beside the locks it keeps on its targets. */
  static Path leadDir(Path commonGitDir) {
    return commonGitDir.resolve("lanes").resolve("lead");
  }
}
