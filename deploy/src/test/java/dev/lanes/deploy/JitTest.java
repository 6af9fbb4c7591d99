package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;

/**
 * With the directives, C2 compiles the JDK's cryptography (onto the CPU's AES and GHASH instructions) and nothing else:
 * a hot method of ours ends compiled by C1. Read from the JVM's own list of compiled code.
 */
class JitTest {
  @Test
  void withoutC1OrWithoutC2NoDirectivesAreAdded() throws Exception {
    for (String option : List.of("-XX:TieredStopAtLevel=1", "-XX:-TieredCompilation", "-XX:CompilationMode=high-only")) {
      Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), option, "-cp",
          System.getProperty("java.class.path"), Probe.class.getName()).redirectErrorStream(true).start();
      String said = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
      assertThat(p.waitFor()).isZero();
      assertThat(said).as(option).isEqualTo("c2Enabled=false");
    }
  }

  /**
   * Prints what {@link Jit#c2Enabled} says in the JVM it runs in; given a command line, directs the JIT as
   * {@link Main#main} does before it runs the command and prints what {@link Jit#describe} then says.
   */
  static final class Probe {
    public static void main(String[] args) {
      if (args.length == 0) {
        System.out.println("c2Enabled=" + Jit.c2Enabled());
      } else {
        Main.directJit(args);
        System.out.println(Jit.describe());
      }
    }
  }

  @Test
  void theDaemonsAndBenchmarksCompileWithC2AndTheCommandsAPersonWaitsOnKeepItToCryptography() throws Exception {
    String everything = "C1 and C2 for everything (no directives)";
    String crypto = "C1, and C2 for the JDK's cryptography only (lanes' compiler directives)";
    for (String daemon : List.of("coordinator", "worker", "broker", "bench", "check")) {
      assertThat(probe(null, daemon)).as(daemon).isEqualTo(everything);
    }
    for (String waitedOn : List.of("run", "demo")) {
      assertThat(probe(null, waitedOn)).as(waitedOn).isEqualTo(crypto);
    }
    assertThat(probe("-Dlanes.jit=crypto", "coordinator")).isEqualTo(crypto);
    assertThat(probe("-Dlanes.jit=all", "run")).isEqualTo(everything);
    // A value it does not know is said, and the command's default applies.
    assertThat(probe("-Dlanes.jit=c2", "demo")).contains("-Dlanes.jit=c2: not one of").endsWith(crypto);
  }

  /** What {@link Probe} prints for {@code command} in a JVM of its own, started with {@code option} if any. */
  private static String probe(String option, String command) throws Exception {
    List<String> argv = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
        .toString()));
    if (option != null) {
      argv.add(option);
    }
    argv.addAll(List.of("-cp", System.getProperty("java.class.path"), Probe.class.getName(), command));
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String said = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
    assertThat(p.waitFor()).as(said).isZero();
    return said;
  }

  @Test
  void c2CompilesTheJdksCryptographyAndLeavesEverythingElseToC1() throws Exception {
    assertThat(Jit.c2Enabled()).as("the test JVM runs with C2, as the launcher starts Lanes").isTrue();
    Jit.cryptoOnlyOnC2();

    Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
    SecretKeySpec key = new SecretKeySpec(new byte[16], "AES");
    byte[] record = new byte[4096];
    long sum = 0;
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    List<String> compiled = List.of();
    for (int i = 0; System.nanoTime() < deadline; i++) {
      byte[] iv = new byte[12];
      iv[0] = (byte) i;
      iv[1] = (byte) (i >>> 8);
      iv[2] = (byte) (i >>> 16);
      gcm.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, iv));
      sum += gcm.doFinal(record)[0] + hot(i);
      if (i % 2000 == 1999) {
        compiled = codeList();
        if (at(compiled, "com.sun.crypto.provider.", "4") && at(compiled, "dev.lanes.deploy.JitTest.hot(", "1")) {
          break;
        }
      }
    }
    assertThat(sum).isNotZero();
    assertThat(compiled).as("the JDK's AES-GCM compiled by C2").anyMatch(l -> compiledAt(l, "com.sun.crypto.provider.",
        "4"));
    String hot = "dev.lanes.deploy.JitTest.hot(";
    assertThat(compiled).as("our hot method compiled by C1 alone").anyMatch(l -> compiledAt(l, hot, "1"))
        .noneMatch(l -> compiledAt(l, hot, "4"));
  }

  /** Hot enough for C2, were it allowed: called as often as the cipher, with a loop inside. */
  private static int hot(int x) {
    int s = 0;
    for (int i = 0; i < 100; i++) {
      s += Integer.rotateLeft(x + i, 3) ^ i;
    }
    return s;
  }

  private static boolean at(List<String> compiled, String method, String level) {
    return compiled.stream().anyMatch(l -> compiledAt(l, method, level));
  }

  /**
   * A line of {@code Compiler.codelist} (compile id, level, state, method with its signature, addresses) for a method
   * whose name starts with {@code method}, compiled at {@code level}.
   */
  private static boolean compiledAt(String line, String method, String level) {
    String[] f = line.trim().split(" ");
    return f.length > 3 && f[1].equals(level) && f[3].startsWith(method) && f[3].contains("(");
  }

  /** The directives go with this test: other tests in this JVM run as they would without them. */
  @org.junit.jupiter.api.AfterAll
  static void clearDirectives() throws Exception {
    ManagementFactory.getPlatformMBeanServer().invoke(new ObjectName("com.sun.management:type=DiagnosticCommand"),
        "compilerDirectivesClear", new Object[0], new String[0]);
  }

  private static List<String> codeList() throws Exception {
    String list = (String) ManagementFactory.getPlatformMBeanServer().invoke(
        new ObjectName("com.sun.management:type=DiagnosticCommand"), "compilerCodelist", new Object[0], new String[0]);
    return Arrays.asList(list.split("\n"));
  }
}
