package dev.lanes.protocol;

/**
 * A lead took the lead role and serves from now on, recorded in the lead's log. Every such record shares one key, so
 * the compacted log keeps the latest: the lead that serves now if any does ({@code lanes status} asks the broker
 * whether a member still holds the role), else the last one that did.
 *
 * @param lead the lead's name, as in its log lines ({@code lead-<pid>-<random>})
 * @param host the machine it runs on
 * @param since when it took the role, an ISO-8601 instant in UTC
 */
public record LeadServing(String lead, String host, String since) implements Message {
  /** The one key of every such record. */
  public static final String KEY = "lead";

  @Override
  public String key() {
    return KEY;
  }
}
