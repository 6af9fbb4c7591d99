package dev.lanes.deploy;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.management.JMException;
import javax.management.ObjectName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which of the JVM's two compilers compiles what, by command. The daemons ({@code broker}, {@code coordinator},
 * {@code worker}) and the benchmarks, which stand for them, run as the JVM does by default: C1 first, then C2 for
 * whatever stays hot. Over hours C2's code is what they run: {@code lanes bench dispatch}'s secured leg took 0.6 ms of
 * CPU a task once C2 had compiled its hot paths, against 1.0 to 1.6 ms with C1 alone for Lanes, Kafka and Jackson
 * (2026-12-04). C2 costs its compile time in the first minute or so, which a daemon pays once.
 *
 * <p>The commands a person waits on that hold a broker, a lead and workers in one process ({@code run},
 * {@code demo}) end before C2 pays off, and on a small machine its compiler thread takes a core from them: they add
 * compiler directives at start that keep C2 to the JDK's cryptography, and C1 compiles everything else. Only C2
 * replaces AES, GCM's GHASH and SHA-2 with the CPU's own instructions, and without them TLS runs at about 2 MB/s here
 * against hundreds with them (AES-GCM on 4 KB records, 2026-12-03). Every other command ends in seconds or mostly
 * waits, and runs as the JVM's defaults have it.
 *
 * <p>{@code -Dlanes.jit=all} leaves C2 free to compile everything in any command, {@code -Dlanes.jit=crypto} keeps it
 * to the cryptography in any command (a daemon on a machine too small to spare a core for C2's first minute). With
 * {@code -XX:TieredStopAtLevel=1} (C1 only) there is no C2 to direct and nothing is done. X25519 (agreeing a pair's tag
 * key) stays on C1 under the directives: it runs once per pair of parties, when a worker enrols or a process starts,
 * not per message.
 */
final class Jit {
  private static final Logger LOG = LoggerFactory.getLogger(Jit.class);

  /** C2 for the JDK's ciphers and digests, and nothing else: the first directive a method matches applies. */
  static final String DIRECTIVES = """
      [
        {match: ["com/sun/crypto/provider/*.*", "sun/security/provider/SHA*.*",
                 "sun/security/provider/DigestBase.*"], c2: {Exclude: false}},
        {match: ["*.*"], c2: {Exclude: true}}
      ]
      """;

  /**
   * The commands that keep C2 to the cryptography unless told otherwise: each holds a broker, a lead and workers in one
   * process and is waited on by a person. They also pay for the JVM's management server that adding directives starts
   * (hundreds of milliseconds), which the other commands do not.
   */
  static final java.util.Set<String> CRYPTO_ONLY = java.util.Set.of("run", "demo");

  /** The values {@code -Dlanes.jit} takes. */
  static final java.util.Set<String> CHOICES = java.util.Set.of("all", "crypto");

  private Jit() {}

  /** Whether this process added the directives: what {@link #describe} reports. */
  private static volatile boolean added;

  /**
   * Directs the JIT as {@code command} runs: {@link #cryptoOnlyOnC2} for {@link #CRYPTO_ONLY} and with
   * {@code -Dlanes.jit=crypto}, the JVM's defaults otherwise.
   */
  static void forCommand(String command) {
    String asked = System.getProperty("lanes.jit", "");
    if (!asked.isEmpty() && !CHOICES.contains(asked)) {
      LOG.warn("-Dlanes.jit={}: not one of {}; lanes {} compiles as it does by default", asked, CHOICES, command);
      asked = "";
    }
    if (asked.equals("crypto") || (asked.isEmpty() && CRYPTO_ONLY.contains(command))) {
      cryptoOnlyOnC2();
    }
  }

  /** Adds {@link #DIRECTIVES} when C2 is there to direct. */
  static void cryptoOnlyOnC2() {
    if (!c2Enabled()) {
      return;
    }
    try {
      Path file = Files.createTempFile("lanes-jit-", ".json");
      try {
        Files.writeString(file, DIRECTIVES);
        // A directive the JVM cannot parse is not an exception: the answer says so instead of "N compiler directives added".
        String said = String.valueOf(ManagementFactory.getPlatformMBeanServer().invoke(
            new ObjectName("com.sun.management:type=DiagnosticCommand"), "compilerDirectivesAdd",
            new Object[] {new String[] {file.toString()}}, new String[] {String[].class.getName()})).strip();
        added = said.endsWith("added");
        LOG.debug("compiler directives: {}", said);
      } finally {
        Files.deleteIfExists(file);
      }
    } catch (IOException | JMException | RuntimeException | LinkageError e) {
      // Only speed is at stake: the process runs as it would with the JVM's defaults.
      LOG.debug("compiler directives not added: {}", e.toString());
    }
  }

  /**
   * Whether this JVM has both compilers, C1 to take what C2 is refused: not with {@code -XX:TieredStopAtLevel} below 4
   * (no C2), nor with {@code -XX:-TieredCompilation} or {@code -XX:CompilationMode=high-only} (no C1, so that methods
   * refused by C2 would be interpreted for good).
   */
  static boolean c2Enabled() {
    try {
      com.sun.management.HotSpotDiagnosticMXBean vm =
          ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
      return "true".equals(option(vm, "TieredCompilation", "true"))
          && Integer.parseInt(option(vm, "TieredStopAtLevel", "4")) >= 4
          && !option(vm, "CompilationMode", "default").startsWith("high-only");
    } catch (RuntimeException | LinkageError e) { // LinkageError: a runtime without the jdk.management module
      return false;
    }
  }

  private static String option(com.sun.management.HotSpotDiagnosticMXBean vm, String name, String absent) {
    try {
      return vm.getVMOption(name).getValue();
    } catch (IllegalArgumentException e) {
      return absent; // not an option of this JVM
    }
  }

  /** Which compiler compiles what in this process, for a benchmark to print beside its figures. */
  static String describe() {
    if (added) {
      return "C1, and C2 for the JDK's cryptography only (lanes' compiler directives)";
    }
    return c2Enabled() ? "C1 and C2 for everything (no directives)" : "without C2 for anything (C1 only, or C2 alone)";
  }
}
