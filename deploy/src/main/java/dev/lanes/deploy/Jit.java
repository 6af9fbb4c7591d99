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
 * Which of the JVM's two compilers compiles what. Lanes' own code, Kafka's and Jackson's run best here compiled by C1
 * alone: one process holds a broker, a lead and workers that mostly wait on one another, and on a small machine C2's
 * compiler thread takes a core from them for the first minutes. The JDK's cryptography is the opposite: only C2
 * replaces AES, GCM's GHASH and SHA-2 with the CPU's own instructions, and without them TLS runs at about 2 MB/s here
 * against hundreds with them (AES-GCM on 4 KB records, 2026-12-03), which made a SASL_SSL broker several times slower
 * than a plaintext one in {@code lanes bench dispatch}.
 *
 * <p>So the process runs with both compilers, as the JVM does by default, and at start adds compiler directives that
 * keep C2 to the JDK's cryptography: every other method is refused by C2 when it gets hot and stays compiled by C1.
 * With {@code -XX:TieredStopAtLevel=1} (C1 only) there is no C2 to direct and nothing is done;
 * {@code -Dlanes.jit=all} leaves C2 free to compile everything. X25519 (agreeing a pair's tag key) stays on C1: it
 * runs once per pair of parties, when a worker enrols or a process starts, not per message.
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
   * The commands that run long enough for C2 to matter, and so get the directives; the others end before C2 compiles
   * much, and do not pay the hundreds of milliseconds that starting the JVM's management server costs.
   */
  static final java.util.Set<String> LONG_RUNNING = java.util.Set.of("broker", "coordinator", "worker", "run", "demo",
      "bench");

  private Jit() {}

  /** Whether this process added the directives: what {@link #describe} reports. */
  private static volatile boolean added;

  /** Adds {@link #DIRECTIVES} when C2 is there to direct and not asked to compile everything. */
  static void cryptoOnlyOnC2() {
    if ("all".equals(System.getProperty("lanes.jit")) || !c2Enabled()) {
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
