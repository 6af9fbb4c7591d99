package dev.lanes.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --webhook} and {@code --notify-command} as a user types them: a URL that is not plain http(s), or a command
 * that cannot be split into arguments, is refused with one line and exit 2 before the lead or a broker starts, and
 * leaves nothing behind in the repository.
 */
class NotifyOptionsTest {
  @TempDir Path dir;

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
      "--webhook|file:/etc/passwd|lanes: --webhook: \"file:/etc/passwd\" must be an http:// or https:// URL",
      "--webhook|jar:http://h/x.jar!/a|lanes: --webhook: \"jar:http://h/x.jar!/a\" must be an http:// or https:// URL",
      "--webhook|http:///no-host|lanes: --webhook: \"http:///no-host\" must name a host",
      "--webhook|https://bot:hunter2@h.example/x|lanes: --webhook: \"https://***@h.example/x\" must not carry a user or"
          + " password before the host (Lanes would not send them); put a token in the path or query as the receiver"
          + " asks",
      "--notify-command|notify-send 'Lanes|lanes: --notify-command: \"notify-send 'Lanes\" has a ' quote that is not"
          + " closed"})
  void refusedBeforeAnythingStarts(String option, String value, String message) throws IOException {
    Path repo = LanesRunIT.repo(dir);
    Path plan = Files.writeString(dir.resolve("plan.yaml"), """
        name: notify
        agent:
          command: [sh, -c, 'true']
        tasks:
          - {id: one, prompt: Nothing., owns: [one.txt]}
        """);
    for (List<String> command : List.of(List.of("coordinator", "--repo", repo.toString()),
        List.of("run", plan.toString(), "--repo", repo.toString()))) {
      List<String> args = new ArrayList<>(command);
      args.addAll(List.of(option, value));

      LanesRunIT.Run r = LanesRunIT.lanes(args.toArray(String[]::new));

      assertThat(r.exit()).as(r.output()).isEqualTo(2);
      assertThat(r.err().strip()).isEqualTo(message);
      assertThat(r.out()).isEmpty();
      assertThat(repo.resolve(".git/lanes")).as(command.get(0) + " left nothing in the repository").doesNotExist();
    }
  }
}
