package dev.lanes.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The size rules the lead applies to a finding where it enters. */
class FindingTest {
  private static Finding finding(String kind, String text, List<String> paths) {
    return new Finding("r", "t", 1, "w", kind, text, paths);
  }

  @Test
  void oversize_noneForWhatAnHonestWorkerSends() {
    assertThat(finding(Finding.NOTE, "x".repeat(Finding.MAX_TEXT), List.of()).oversize()).isEmpty();
    assertThat(finding(Finding.NEEDS_PATHS, "why", Collections.nCopies(Finding.MAX_CLAIMS, "a/")).oversize()).isEmpty();
    assertThat(finding(Finding.OWNERSHIP_VIOLATION, "out", Collections.nCopies(Finding.MAX_PATHS, "f")).oversize())
        .isEmpty();
  }

  @Test
  void oversize_textOverTheLimitIsNamed() {
    assertThat(finding(Finding.NOTE, "x".repeat(Finding.MAX_TEXT + 1), List.of()).oversize())
        .contains("text: 262145 characters; at most 262144");
  }

  @Test
  void oversize_claimsAreFewerThanPaths() {
    assertThat(finding(Finding.NEEDS_PATHS, "why", Collections.nCopies(33, "a/")).oversize())
        .contains("paths: 33 claims; at most 32");
    assertThat(finding(Finding.FOLLOW_UP, "{}", Collections.nCopies(33, "a/")).oversize())
        .contains("paths: 33 claims; at most 32");
    assertThat(finding(Finding.OWNERSHIP_VIOLATION, "out", Collections.nCopies(1001, "f")).oversize())
        .contains("paths: 1001 paths; at most 1000");
  }
}
