package dev.lanes.protocol;

import java.util.List;

/** A plan that cannot run. {@link #problems()} lists every problem found, each naming its field, value and rule. */
public final class PlanException extends ProtocolException {
  private static final long serialVersionUID = 1L;
  private final List<String> problems;

  /** The most problems the message lists; {@link #problems()} has them all. */
  static final int SHOWN = 50;

  public PlanException(String source, List<String> problems) {
    super(source + ": " + (problems.size() == 1 ? problems.get(0) : "\n  " + String.join("\n  ",
        problems.subList(0, Math.min(SHOWN, problems.size())))
        + (problems.size() > SHOWN ? "\n  ... and " + (problems.size() - SHOWN) + " more problem(s) like these" : "")));
    this.problems = List.copyOf(problems);
  }

  public List<String> problems() {
    return problems;
  }
}
