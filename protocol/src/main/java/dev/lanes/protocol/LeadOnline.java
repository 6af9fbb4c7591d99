package dev.lanes.protocol;

/**
 * A lead has started and is listening: every worker answers with its {@link WorkerStatus}, so the lead learns of
 * workers that started before it did.
 */
public record LeadOnline(String lead) implements Message {
  @Override
  public String key() {
    return lead;
  }
}
