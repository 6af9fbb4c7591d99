package dev.lanes.protocol;


/**
 * A double-ended queue of ints for the 0-1 breadth-first searches of claim intersection: a boxed deque spent most of
 * an overlap check allocating and unboxing, and the limits on claims are set by what one check may cost.
 */
final class IntDeque {
  private int[] items = new int[64];
  private int head;
  private int size;

  boolean isEmpty() {
    return size == 0;
  }

  void addFirst(int value) {
    grow();
    head = (head - 1) & (items.length - 1);
    items[head] = value;
    size++;
  }

  void addLast(int value) {
    grow();
    items[(head + size) & (items.length - 1)] = value;
    size++;
  }

  int pollFirst() {
    int value = items[head];
    head = (head + 1) & (items.length - 1);
    size--;
    return value;
  }

  /** Doubles the array, keeping its length a power of two so that indices wrap with a mask. */
  private void grow() {
    if (size < items.length) {
      return;
    }
    int[] bigger = new int[items.length * 2];
    int first = items.length - head;
    System.arraycopy(items, head, bigger, 0, first);
    System.arraycopy(items, 0, bigger, first, head);
    items = bigger;
    head = 0;
  }
}
