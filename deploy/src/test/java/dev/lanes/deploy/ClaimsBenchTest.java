package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanes.protocol.OwnershipCheck;
import dev.lanes.protocol.OwnershipReport;
import dev.lanes.protocol.Plan;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ClaimsBenchTest {
  private static final Pattern LAST = Pattern.compile("claims tasks=(\\d+) patterns=(\\d+) ms=(\\d+) compared_pairs=(\\d+)");

  @Test
  void benchPrintsItsFiguresAndTheSummaryAsTheLastLine() {
    StringWriter out = new StringWriter();

    int code = Main.execute(new PrintWriter(out), new PrintWriter(new StringWriter()),
        "bench", "claims", "--tasks", "210", "--claims", "5", "--paths", "5000", "--runs", "2");

    assertThat(code).isZero();
    List<String> lines = out.toString().lines().toList();
    Matcher last = LAST.matcher(lines.get(lines.size() - 1));
    assertThat(last.matches()).as(lines.get(lines.size() - 1)).isTrue();
    assertThat(last.group(1)).isEqualTo("210");
    assertThat(last.group(2)).isEqualTo("1050");
    assertThat(Long.parseLong(last.group(4))).isPositive().isLessThan(1050L * 1049 / 2 / 10);
    // t0050 claims the utility classes of mod0051; t0150 claims the Markdown of mod0000..mod0049
    assertThat(lines).contains("conflicts found: 51");
    assertThat(lines).anyMatch(l -> l.startsWith("run 1 (cold): ")).anyMatch(l -> l.startsWith("run 2 (warm): "))
        .anyMatch(l -> l.startsWith("naive all pairs: "));
  }

  @Test
  void generatedTreeAndPlanAreDeterministicAndPlantRealConflicts() {
    List<String> tree = ClaimsBench.tree(210, 5000);
    Plan plan = ClaimsBench.plan(210, 5);

    assertThat(tree).hasSize(5000).isSorted().doesNotHaveDuplicates().isEqualTo(ClaimsBench.tree(210, 5000));
    assertThat(plan.tasks()).hasSize(210).allSatisfy(t -> assertThat(t.owns()).hasSize(5));
    OwnershipReport report = OwnershipCheck.check(plan, tree);
    assertThat(report.conflicts()).extracting(c -> String.join("+", c.tasks()))
        .contains("t0050+t0051", "t0000+t0150", "t0049+t0150")
        .hasSize(51);
    assertThat(report.conflicts()).filteredOn(c -> c.tasks().contains("t0051"))
        .singleElement()
        .satisfies(c -> assertThat(c.files()).isNotEmpty().allMatch(f -> f.matches("mod0051/src/main/java/.*/Util\\d+\\.java")));
  }
}
