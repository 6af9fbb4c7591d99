package dev.lanes.coordinator.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The dashboard's files, read from the class path (the jar) and kept once read. A name is one path segment of
 * letters, digits, {@code .}, {@code _} and {@code -} that does not start with a dot and ends in a known extension, so
 * no request names a file outside the dashboard's directory, a hidden file, or a directory.
 */
final class Static {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}");
  private static final Map<String, String> TYPES = Map.of(
      "html", "text/html; charset=utf-8",
      "js", "text/javascript; charset=utf-8",
      "css", "text/css; charset=utf-8",
      "json", "application/json; charset=utf-8",
      "svg", "image/svg+xml",
      "png", "image/png",
      "ico", "image/x-icon",
      "txt", "text/plain; charset=utf-8",
      "woff2", "font/woff2");

  /** A file and its content type. */
  record File(byte[] bytes, String type) {}

  private final String dir;
  private final Map<String, File> read = new ConcurrentHashMap<>();

  Static(String dir) {
    this.dir = dir.endsWith("/") ? dir : dir + "/";
  }

  /** The file of that name, if the dashboard has it; only files that exist are kept, so the cache stays bounded. */
  Optional<File> file(String name) {
    // Only names with a known extension: a directory on a file-system class path reads as a listing of it.
    if (!NAME.matcher(name).matches() || name.contains("..") || type(name).isEmpty()) {
      return Optional.empty();
    }
    File known = read.get(name);
    if (known != null) {
      return Optional.of(known);
    }
    try (InputStream in = Static.class.getClassLoader().getResourceAsStream(dir + name)) {
      if (in == null) {
        return Optional.empty();
      }
      File file = new File(in.readAllBytes(), type(name).get());
      read.put(name, file);
      return Optional.of(file);
    } catch (IOException e) {
      throw new UncheckedIOException("could not read the dashboard's " + name, e);
    }
  }

  static Optional<String> type(String name) {
    int dot = name.lastIndexOf('.');
    return dot < 0 ? Optional.empty() : Optional.ofNullable(TYPES.get(name.substring(dot + 1)));
  }
}
