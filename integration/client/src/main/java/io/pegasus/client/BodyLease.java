package io.pegasus.client;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * The ownership of one ReadData body array shared by the frame's blocks (each block is
 * a view of it): the array goes back to its {@link BodyPool} once each of the blocks
 * was released exactly once, and not before.
 *
 * <p>A block is released only when nobody can read it any more: dropped by its stream
 * without being handed out, or handed out by a stream in recycling mode and then
 * followed by the next {@code take()} or {@code close()} (see
 * {@link ReadStream#recycleTakenBlocks()}). A block handed out otherwise is never
 * released, so its array is never reused: recycling is opt-in per stream, and the
 * default keeps every block valid for as long as the caller holds it.
 */
final class BodyLease {
  private final BodyPool pool;
  private final byte[] body;
  private final AtomicInteger unreleased;

  BodyLease(BodyPool pool, byte[] body, int blocks) {
    if (blocks < 1) throw new IllegalArgumentException("a lease needs at least one block, got " + blocks);
    this.pool = pool;
    this.body = body;
    this.unreleased = new AtomicInteger(blocks);
  }

  /**
   * One block of this body will not be read again. After the last one the array goes
   * back to the pool. Releasing more often than there are blocks is a bug that would
   * hand out bytes still in use: it throws instead.
   */
  void release() {
    int left = unreleased.decrementAndGet();
    if (left == 0) {
      pool.give(body);
    } else if (left < 0) {
      throw new IllegalStateException("a ReadData body was released more often than it has blocks");
    }
  }

  /** Blocks not yet released. */
  int unreleased() {
    return unreleased.get();
  }
}
