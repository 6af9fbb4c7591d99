package dev.lanes.deploy;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** {@code --pass-env NAME}: what {@code lanes worker}, {@code lanes coordinator} and {@code lanes run} share. */
final class PassEnvOption {
  @Option(names = "--pass-env", paramLabel = "NAME",
      description = "Let agents and verify commands see this variable of this process's environment besides PATH, HOME,"
          + " USER, LANG, LC_*, TERM, TMPDIR, SHELL and the LANES_* variables; repeatable. Everything else is withheld.")
  List<String> names = new ArrayList<>();

  List<String> names() {
    return List.copyOf(names);
  }
}
