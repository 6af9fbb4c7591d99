package dev.lanes.worker;

import dev.lanes.protocol.TaskOffered;

/**
 * The prompt an agent is given: the task's own prompt, then what Lanes will hold the agent to. An agent that knows
 * which files it owns, what will be run to check its work and where to report what it could not do wastes fewer
 * attempts than one that learns it from a rejected result.
 */
final class TaskPrompt {
  private TaskPrompt() {}

  static String build(TaskOffered offer) {
    StringBuilder out = new StringBuilder(offer.prompt().strip()).append("\n\n");
    out.append("## How Lanes runs this task\n\n");
    out.append("You work in a git worktree of your own. You own these paths (globs relative to the repository root;"
        + " a path without wildcards or ending in / covers everything beneath it):\n");
    offer.owns().forEach(claim -> out.append("- ").append(claim).append('\n'));
    out.append("Changes to any other file are rejected, and the whole attempt with them. Lanes commits your changes"
        + " itself; you need not commit.\n\n");
    offer.verify().ifPresentOrElse(
        verify -> out.append("When you are done, Lanes runs this command at the repository root, and the task passes"
            + " only if it exits 0:\n    ").append(verify.strip().replace("\n", "\n    ")).append("\n\n"),
        () -> out.append("No verify command is set for this task: your changes are taken as they are.\n\n"));
    out.append("To tell the lead something, write .lanes/findings.json (it is never committed). Every key is"
        + " optional, any other key makes the file invalid, owns and paths are globs like the ones above:\n");
    out.append("    {\"follow-ups\": [{\"title\": \"one line\", \"prompt\": \"what to do\", \"owns\": [\"path/\"]}],\n");
    out.append("     \"needs\": [{\"paths\": [\"path/outside/yours\"], \"why\": \"what you would have changed\"}],\n");
    out.append("     \"questions\": [\"for a human\"],\n");
    out.append("     \"notes\": [\"anything else the lead should know\"]}\n");
    out.append("Use follow-ups for work that belongs in a separate task, needs for files outside your paths that you"
        + " would have had to change.\n");
    return out.toString();
  }

  /** The prompt of a review attempt: the task, the change to review, and how to give the verdict. */
  static String review(TaskOffered offer, String diff) {
    StringBuilder out = new StringBuilder("You review another agent's change before it may land. Read it, and the"
        + " repository around it (your working directory holds the change applied), and decide whether it does what"
        + " the task asked, correctly and completely.\n\n");
    out.append("## The task\n\n").append(offer.title()).append("\n\n").append(offer.prompt().strip()).append("\n\n");
    out.append("## The change (").append(offer.review().map(r -> "by " + r.writer()).orElse("")).append(")\n\n");
    out.append(diff.strip()).append("\n\n");
    out.append("## Your verdict\n\n");
    out.append("Write it to .lanes/findings.json, and change no other file (nothing you change is kept):\n");
    out.append("    {\"review\": {\"verdict\": \"approve\"}}\n");
    out.append("or\n");
    out.append("    {\"review\": {\"verdict\": \"request-changes\", \"comments\": \"what must change, and why\"}}\n");
    out.append("Your comments are given to the writer as they are: be specific.\n");
    return out.toString();
  }
}
