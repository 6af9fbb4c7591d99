package dev.lanes.coordinator;

/** Opens the board's feeding, which only the lead's package may do, to the tests of the HTTP server's package. */
public final class BoardFeed {
  private BoardFeed() {}

  /** One change of the inbox, which the board hands to its followers as one {@code inbox} event. */
  public static void inboxChanged(Board board, Object item, boolean added) {
    board.inboxChanged(item, added);
  }
}
