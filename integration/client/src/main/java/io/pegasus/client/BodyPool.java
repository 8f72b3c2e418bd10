package io.pegasus.client;

import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * The spare body arrays of one connection's ReadData frames, for reuse.
 *
 * <p>Why: a fresh array per ReadData frame (several MiB) must be zeroed, faults in
 * fresh heap pages and is a humongous object for G1; profiled, that cost more of the
 * reader thread's CPU than copying the bytes into it. An array only comes back here
 * through a {@link BodyLease} whose every block was released, i.e. when no caller can
 * read it any more; arrays never released are simply left to the garbage collector.
 *
 * <p>Bounded: at most {@code bytesMax} bytes are kept; an array that does not fit is
 * dropped. A request that no kept array can serve drops the smallest one, so the pool
 * follows the frame sizes the server sends. Thread-safe (the reader thread takes,
 * consumers give back).
 */
final class BodyPool {
  /** Arrays are allocated in multiples of this, so that frames of slightly different sizes share them. */
  static final int ROUND_BYTES = 256 * 1024;

  private final long bytesMax;
  private final ArrayDeque<byte[]> spare = new ArrayDeque<>();
  private long spareBytes;

  BodyPool(long bytesMax) {
    this.bytesMax = bytesMax;
  }

  /**
   * An array of at least {@code n} bytes and at most {@code max(n, capMax)}: a kept one
   * if one is large enough, else a new one rounded up to {@link #ROUND_BYTES}. Its
   * contents are arbitrary.
   */
  byte[] take(int n, int capMax) {
    synchronized (this) {
      byte[] smallest = null;
      for (Iterator<byte[]> it = spare.iterator(); it.hasNext();) {
        byte[] a = it.next();
        if (a.length >= n && a.length <= Math.max(n, capMax)) {
          it.remove();
          spareBytes -= a.length;
          return a;
        }
        if (smallest == null || a.length < smallest.length) smallest = a;
      }
      if (smallest != null && spare.remove(smallest)) spareBytes -= smallest.length;
    }
    long rounded = ((long) n + ROUND_BYTES - 1) / ROUND_BYTES * ROUND_BYTES;
    return new byte[(int) Math.max(n, Math.min(rounded, capMax))];
  }

  /** Keeps {@code a} for reuse if the bound allows; the caller must not touch it afterwards. */
  synchronized void give(byte[] a) {
    if (spareBytes + a.length > bytesMax) return;
    spare.push(a);
    spareBytes += a.length;
  }

  /** Bytes kept now. */
  synchronized long spareBytes() {
    return spareBytes;
  }

  /** Arrays kept now. */
  synchronized int spareCount() {
    return spare.size();
  }
}
