package dev.lanes.protocol;

import java.util.Optional;

/**
 * The rules of {@code git check-ref-format --branch} for a branch name written in a plan, checked in Java before any
 * git command sees the name. A plan names its target and base branches; the lead turns the target into
 * {@code refs/heads/<target>}, a file under the repository's git directory, so a name git would refuse is refused here
 * first and a name such as {@code ../../hooks-x} never becomes a path. Names are also kept to {@value #MAX_LENGTH}
 * characters, and may not start with {@code -}, which git would read as an option.
 */
public final class RefName {
  /** Longer names are refused: no real branch comes near it, and each component must fit in a file name. */
  public static final int MAX_LENGTH = 200;

  private RefName() {}

  /** Why {@code name} is not a valid branch name, naming the rule; empty when it is one. */
  public static Optional<String> broken(String name) {
    if (name.isEmpty()) {
      return Optional.of("is empty");
    } else if (name.length() > MAX_LENGTH) {
      return Optional.of("is longer than " + MAX_LENGTH + " characters");
    } else if (name.startsWith("-")) {
      return Optional.of("starts with '-', which git reads as an option");
    } else if (name.equals("@") || name.equals("HEAD")) {
      return Optional.of("is a name git reserves");
    } else if (name.contains("..")) {
      return Optional.of("contains \"..\"");
    } else if (name.contains("@{")) {
      return Optional.of("contains \"@{\"");
    } else if (name.startsWith("/") || name.endsWith("/") || name.contains("//")) {
      return Optional.of("has an empty component (a leading, trailing or doubled '/')");
    } else if (name.endsWith(".")) {
      return Optional.of("ends with '.'");
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        return Optional.of("contains a control character (code " + (int) c + ")");
      } else if (" ~^:?*[\\".indexOf(c) >= 0) {
        return Optional.of("contains '" + c + "'; git refuses space, ~ ^ : ? * [ and \\ in a ref name");
      }
    }
    for (String component : name.split("/")) {
      if (component.startsWith(".")) {
        return Optional.of("has a component that starts with '.' (\"" + component + "\")");
      } else if (component.endsWith(".lock")) {
        return Optional.of("has a component that ends with \".lock\" (\"" + component + "\")");
      }
    }
    return Optional.empty();
  }
}
