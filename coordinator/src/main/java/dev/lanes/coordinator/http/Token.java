package dev.lanes.coordinator.http;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Optional;

/**
 * The secret that opens the lead's HTTP API: 32 random bytes, base64url, made fresh each time the lead starts and kept
 * in a file only its owner may read ({@link #FILE}, mode 600), so that {@code lanes watch} on the same machine finds it
 * and nobody else does. A request proves it knows the token with {@code Authorization: Bearer TOKEN}; the comparison
 * takes the same time whatever the guess.
 */
public final class Token {
  /** The token file's name in the lead's state directory. */
  public static final String FILE = "http.token";
  private static final String BEARER = "Bearer ";

  private final String value;
  private final byte[] digest;

  private Token(String value) {
    this.value = value;
    this.digest = sha256(value);
  }

  /** A fresh token, written to {@code dir}/{@value #FILE} with mode 600 before anyone can read it. */
  public static Token create(Path dir) {
    Token token = generate();
    token.writeTo(dir);
    return token;
  }

  /** A fresh token, kept in memory only until {@link #writeTo}. */
  public static Token generate() {
    byte[] bytes = new byte[32];
    new SecureRandom().nextBytes(bytes);
    return new Token(Base64.getUrlEncoder().withoutPadding().encodeToString(bytes));
  }

  /** Writes the token to {@code dir}/{@value #FILE} with mode 600 before anyone can read it. */
  public void writeTo(Path dir) {
    Token token = this;
    try {
      Files.createDirectories(dir);
      // Made with its mode from the start and moved into place: the token is never in a file others may read.
      Path temp = dir.resolve(FILE + ".new");
      Files.deleteIfExists(temp);
      try {
        Files.createFile(temp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      } catch (UnsupportedOperationException e) {
        Files.createFile(temp); // not a POSIX file system: its own access rules apply
      }
      Files.writeString(temp, token.value + "\n", StandardCharsets.US_ASCII);
      Files.move(temp, dir.resolve(FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (FileAlreadyExistsException e) {
      throw new UncheckedIOException("another lead writes its token in " + dir + " at the same time", e);
    } catch (IOException e) {
      throw new UncheckedIOException("could not write the HTTP token in " + dir + ": " + e.getMessage(), e);
    }
  }

  /** The token kept in {@code file}, as {@link #create} wrote it. */
  public static Token read(Path file) {
    try {
      String text = Files.readString(file, StandardCharsets.US_ASCII).strip();
      if (text.isEmpty() || text.length() > 200 || !text.matches("[A-Za-z0-9_-]+")) {
        throw new IllegalArgumentException("--token-file: " + file + " does not hold a token");
      }
      return new Token(text);
    } catch (IOException e) {
      throw new IllegalArgumentException("--token-file: " + file + " cannot be read: " + e.getMessage(), e);
    }
  }

  /** The token itself, for the dashboard line and a client's header. */
  public String value() {
    return value;
  }

  /** Whether an {@code Authorization} header carries this token; compared in constant time. */
  public boolean admits(Optional<String> authorization) {
    String given = authorization.filter(a -> a.regionMatches(true, 0, BEARER, 0, BEARER.length()))
        .map(a -> a.substring(BEARER.length()).strip()).orElse("");
    // Digests of both sides are compared, so that neither the length nor a common prefix shows in the time taken.
    return MessageDigest.isEqual(digest, sha256(given)) && !given.isEmpty();
  }

  private static byte[] sha256(String text) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
  }

  @Override
  public String toString() {
    return "Token[redacted]";
  }
}
