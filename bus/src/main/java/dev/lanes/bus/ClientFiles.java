package dev.lanes.bus;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Properties;
import java.util.stream.Collectors;

/**
 * The client files a broker hands out, {@code DIR/clients/NAME.properties}: Kafka client properties a party passes
 * with {@code --kafka-config}, and Lanes' own {@code lanes.*} entries beside them. Every client file is written
 * through {@link #write}, so that whatever else a file should carry is added in one place.
 *
 * <p>The files hold passwords: each is readable by its owner only (mode 600) from the moment it exists, in a
 * directory only the owner can enter.
 */
public final class ClientFiles {
  private ClientFiles() {}

  /** Where the client file {@code name} of the broker directory {@code dir} is. */
  public static Path path(Path dir, String name) {
    return dir.resolve("clients").resolve(name + ".properties");
  }

  /**
   * Writes {@code entries} into the client file {@code name} under {@code dir}: entries already in the file and not
   * given are kept, given ones replace theirs. Returns the file.
   */
  public static Path write(Path dir, String name, Properties entries) {
    Path file = path(dir, name);
    Properties merged = Files.exists(file) ? read(file) : new Properties();
    merged.putAll(entries);
    createPrivateDirectory(file.getParent());
    writePrivate(file, merged, "Kafka client properties for lanes --kafka-config; keep this file secret");
    return file;
  }

  /** Deletes the client file {@code name}; true if there was one. */
  public static boolean delete(Path dir, String name) {
    try {
      return Files.deleteIfExists(path(dir, name));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + path(dir, name), e);
    }
  }

  /** Reads a properties file. */
  static Properties read(Path file) {
    Properties p = new Properties();
    try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      p.load(in);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
    return p;
  }

  /**
   * Writes a properties file only its owner can read, one sorted line per entry. The content goes to a temporary file
   * in the same directory, which the JDK creates with mode 600, and is then moved over the target, so neither a
   * reader nor a crash ever sees half a file or a moment of wider permissions.
   */
  static void writePrivate(Path file, Properties properties, String comment) {
    StringWriter text = new StringWriter();
    try {
      properties.store(text, null);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    // store() escapes line breaks inside values, so each entry is one line; drop its date line and sort the rest.
    String body = text.toString().lines().filter(l -> !l.startsWith("#")).sorted()
        .collect(Collectors.joining("\n", "# " + comment + "\n", "\n"));
    try {
      Path tmp = Files.createTempFile(file.getParent(), "." + file.getFileName(), ".tmp");
      try {
        Files.writeString(tmp, body, StandardCharsets.ISO_8859_1);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  /** Creates a directory only its owner may enter, or narrows an existing one to that. */
  static void createPrivateDirectory(Path dir) {
    try {
      Files.createDirectories(dir);
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + dir, e);
    }
  }
}
