package dev.lanes.worker;

import dev.lanes.process.ChildProcess;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Any program as an agent: an argv template whose {@code {prompt}}, {@code {task}} and {@code {worktree}} are replaced
 * inside each element, in one pass, and never seen by a shell. Judged by its exit code alone.
 */
record CommandAdapter(List<String> template) implements AgentAdapter {
  private static final Pattern PLACEHOLDER = Pattern.compile("\\{(prompt|task|worktree)}");
  private static final int DESCRIBED = 60;

  CommandAdapter {
    template = List.copyOf(template);
  }

  @Override
  public List<String> argv(Request request) {
    Map<String, String> values =
        Map.of("prompt", request.prompt(), "task", request.task(), "worktree", request.worktree().toString());
    return template.stream().map(arg -> substitute(arg, values)).toList();
  }

  /** The template as written, when it is short enough to read at a glance. */
  @Override
  public String describe() {
    String text = String.join(" ", template);
    return text.length() > DESCRIBED ? "" : text;
  }

  @Override
  public Watch watch(Request request, Consumer<String> progress, ChildProcess.Stop stop) {
    return Watch.NONE;
  }

  /** Replaces each placeholder once; a value that itself looks like a placeholder is taken literally. */
  static String substitute(String arg, Map<String, String> values) {
    Matcher m = PLACEHOLDER.matcher(arg);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      m.appendReplacement(out, Matcher.quoteReplacement(values.get(m.group(1))));
    }
    m.appendTail(out);
    return out.toString();
  }
}
