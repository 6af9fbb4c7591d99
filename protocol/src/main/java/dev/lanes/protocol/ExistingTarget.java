package dev.lanes.protocol;

/**
 * What a run does with a target branch that already exists and is ahead of the plan's base, as the user chose it
 * ({@code --continue} or {@code --fresh}). Without a choice such a run is refused: a run never stacks silently on the
 * result of an earlier one.
 */
public enum ExistingTarget {
  /** Build on the target as it is. */
  CONTINUE,
  /** Start the target again from the base; its old tip is kept under {@code refs/lanes/backup/}. */
  FRESH
}
