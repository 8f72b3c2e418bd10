package io.pegasus.client;

import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import pegasus.wire.ErrorCode;

/**
 * One open read (OpenRead, then ReadData frames until ReadEnd), consumed with
 * {@link #take()} by one thread.
 *
 * <p>Flow control is driven by the reader: the server may send {@code credit} stored
 * bytes ahead of the consumer (overdrawing by at most one frame); once half the credit
 * has been taken, the taken bytes are granted back with ReadCredit. The queue of
 * received blocks therefore never holds more than the credit plus one frame; a server
 * sending more fails the stream with FLOW_CONTROL_VIOLATION.
 *
 * <p>Memory: a received ReadData frame is one array that its blocks are views of. By
 * default a block handed out stays valid for as long as the caller holds it, and every
 * frame gets a fresh array. A consumer that is done with each block before it takes
 * the next (e.g. it decodes it with {@link BlockCodec#decode}, which copies) should call
 * {@link #recycleTakenBlocks()}: the connection then reuses a frame's array once all
 * its blocks were taken and passed, which saves zeroing, page faults and GC of an
 * array per frame (see {@link BodyLease} for the ownership rules).
 *
 * <p>Blocks are handed out as stored (use {@link BlockCodec#decode} to verify and
 * decompress). Blocks outside the requested ranges, partitions out of order, and a
 * ReadEnd whose counts differ from what arrived fail the stream with CORRUPT_DATA.
 */
public final class ReadStream implements AutoCloseable {
  private enum State { OPEN, ENDED, FAILED, CLOSED }

  private final Connection conn;
  private final int id;
  private final String appId;
  private final int shuffleId;
  private final int partitionStart;
  private final int partitionEnd;
  private final int mapStart;
  private final int mapEnd;
  private final int credit;
  private final long idleTimeoutMillis;
  /**
   * Object reads (OpenObject, FRAMING.md "Objects"): the path read, null for shuffle
   * reads. Each block's {@code attempt} is the object offset of its bytes; they must
   * follow each other from the requested offset and stay below {@link #objectEnd}.
   */
  private final String objectPath;
  private final long objectStart;
  private final long objectEnd;
  /** Object reads: the offset the next block must start at (reader thread, under lock). */
  private long nextOffset;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final ArrayDeque<Block> queue = new ArrayDeque<>();
  private State state = State.OPEN;
  private PegasusException error;
  /** The stream failed on the client side while the server may still be sending: cancel it. */
  private boolean cancelNeeded;
  private long queuedBytes;
  private long receivedBlocks;
  private long receivedBytes;
  private long grantedBytes;
  private int consumedSinceGrant;
  private int lastPartition;
  private long takenBlocks;
  private long takenBytes;
  private long creditGrants;
  /** Blocks taken are released at the next take() or close(). */
  private boolean recycling;
  /** The block last handed out in recycling mode, not yet released. */
  private Block lent;

  ReadStream(Connection conn, int id, String appId, int shuffleId, int partitionStart, int partitionEnd, int mapStart,
      int mapEnd, int credit, long idleTimeoutMillis) {
    this.conn = conn;
    this.id = id;
    this.appId = appId;
    this.shuffleId = shuffleId;
    this.partitionStart = partitionStart;
    this.partitionEnd = partitionEnd;
    this.mapStart = mapStart;
    this.mapEnd = mapEnd;
    this.credit = credit;
    this.idleTimeoutMillis = idleTimeoutMillis;
    this.grantedBytes = credit;
    this.lastPartition = partitionStart;
    this.objectPath = null;
    this.objectStart = 0;
    this.objectEnd = 0;
  }

  /** A read of bytes [offset, offset + length) of the object at {@code path} (OpenObject). */
  ReadStream(Connection conn, int id, String path, long offset, long length, int credit, long idleTimeoutMillis) {
    this.conn = conn;
    this.id = id;
    this.appId = "";
    this.shuffleId = 0;
    // The header fields an object read carries are 0 (FRAMING.md): one partition, one map.
    this.partitionStart = 0;
    this.partitionEnd = 1;
    this.mapStart = 0;
    this.mapEnd = 1;
    this.credit = credit;
    this.idleTimeoutMillis = idleTimeoutMillis;
    this.grantedBytes = credit;
    this.lastPartition = 0;
    this.objectPath = path;
    this.objectStart = offset;
    this.objectEnd = offset + length;
    this.nextOffset = offset;
  }

  /**
   * The next block (stored bytes, not yet decoded), or null at the end of the stream.
   * Waits at most the connection's request timeout for a block to arrive (TIMEOUT).
   * Fails with the server's Error code, CORRUPT_DATA when ReadEnd's block and byte
   * counts differ from what arrived, FLOW_CONTROL_VIOLATION, or CONNECTION_CLOSED.
   * After a failure every call throws the same error.
   */
  public Block take() throws PegasusException {
    Block b = null;
    PegasusException err = null;
    boolean cancel = false;
    int grant = 0;
    lock.lock();
    try {
      Block done = lent; // the caller has promised not to read it any more
      lent = null;
      if (done != null) done.release(); // before waiting: the reader thread may reuse its body at once
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(idleTimeoutMillis);
      for (;;) {
        if (state == State.FAILED) {
          err = error;
          cancel = cancelNeeded;
          cancelNeeded = false;
          break;
        }
        b = queue.poll();
        if (b != null) {
          int n = b.storedLength();
          queuedBytes -= n;
          takenBlocks++;
          takenBytes += n;
          if (recycling) lent = b;
          if (state == State.OPEN) {
            consumedSinceGrant += n;
            if (consumedSinceGrant >= credit / 2) {
              grant = consumedSinceGrant;
              consumedSinceGrant = 0;
              grantedBytes += grant;
              creditGrants++;
            }
          }
          break;
        }
        if (state == State.ENDED || state == State.CLOSED) break;
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          failLocked(new PegasusException(ErrorCode.TIMEOUT, describe() + ": no data for " + idleTimeoutMillis + " ms"));
          err = error;
          cancel = true;
          cancelNeeded = false;
          break;
        }
        try {
          changed.awaitNanos(left);
        } catch (InterruptedException e) {
          throw Connection.interrupted("reading " + describe(), e);
        }
      }
    } finally {
      lock.unlock();
    }
    if (cancel) conn.cancelRead(id);
    if (err != null) throw new PegasusException(err.code(), err.getMessage(), err);
    if (grant > 0) conn.sendCredit(id, grant);
    return b;
  }

  /**
   * Lets the connection reuse the memory of the blocks this stream hands out: from this
   * call on, a block returned by {@link #take()} may be read only until the next
   * {@code take()} or {@code close()} of this stream, after which its bytes may be
   * overwritten by later data. Blocks taken before the call stay valid. For consumers
   * that decode (copy) each block before taking the next; call it from the consuming
   * thread, before or between takes.
   */
  public void recycleTakenBlocks() {
    lock.lock();
    try {
      recycling = true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Ends the read; sends CancelRead if the server may still be sending. Idempotent. In
   * recycling mode the last block taken must not be read after this.
   */
  @Override
  public void close() {
    boolean cancel;
    Block done;
    lock.lock();
    try {
      done = lent;
      lent = null;
      cancel = state == State.OPEN || cancelNeeded;
      cancelNeeded = false;
      if (state != State.FAILED) state = State.CLOSED;
      dropQueued();
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    if (done != null) done.release();
    if (cancel) conn.cancelRead(id);
  }

  /** Blocks and stored bytes received so far. */
  public long blocksReceived() {
    lock.lock();
    try {
      return receivedBlocks;
    } finally {
      lock.unlock();
    }
  }

  public long bytesReceived() {
    lock.lock();
    try {
      return receivedBytes;
    } finally {
      lock.unlock();
    }
  }

  /** Blocks handed out by take(). */
  public long blocksTaken() {
    lock.lock();
    try {
      return takenBlocks;
    } finally {
      lock.unlock();
    }
  }

  /** ReadCredit messages sent. */
  public long creditGrants() {
    lock.lock();
    try {
      return creditGrants;
    } finally {
      lock.unlock();
    }
  }

  /** Stored bytes received but not yet taken; at most the credit plus one frame. */
  public long queuedBytes() {
    lock.lock();
    try {
      return queuedBytes;
    } finally {
      lock.unlock();
    }
  }

  String describe() {
    if (objectPath != null) {
      return "read of " + objectPath + " bytes [" + objectStart + "," + objectEnd + ") from " + conn.address();
    }
    return "read of " + appId + "/" + shuffleId + " partitions [" + partitionStart + "," + partitionEnd + ") maps ["
        + mapStart + "," + mapEnd + ") from " + conn.address();
  }

  @Override
  public String toString() {
    return "ReadStream{" + describe() + "}";
  }

  // ---------------------------------------------------------------------------
  // Called by the connection on its receive thread; never blocks.

  void onData(Block[] blocks, int bodyBytes) {
    lock.lock();
    try {
      if (state != State.OPEN) { // cancelled or failed: drop quietly
        releaseAll(blocks);
        return;
      }
      if (objectPath != null && !objectBlocksFollow(blocks)) {
        releaseAll(blocks);
        return;
      }
      for (Block b : blocks) {
        int p = b.partition();
        int m = b.mapId();
        if (Integer.compareUnsigned(p, lastPartition) < 0 || Integer.compareUnsigned(p, partitionEnd) >= 0
            || Integer.compareUnsigned(m, mapStart) < 0 || Integer.compareUnsigned(m, mapEnd) >= 0) {
          cancelNeeded = true;
          failLocked(new PegasusException(ErrorCode.CORRUPT_DATA, describe() + ": got a block of partition "
              + Integer.toUnsignedString(p) + " map " + Integer.toUnsignedString(m)
              + " (outside the ranges, or after partition " + Integer.toUnsignedString(lastPartition) + ")"));
          releaseAll(blocks);
          return;
        }
        lastPartition = p;
      }
      receivedBlocks += blocks.length;
      receivedBytes += bodyBytes;
      if (receivedBytes > grantedBytes + conn.frameBytesMax()) {
        cancelNeeded = true;
        failLocked(new PegasusException(ErrorCode.FLOW_CONTROL_VIOLATION, describe() + ": server sent " + receivedBytes
            + " bytes against " + grantedBytes + " granted"));
        releaseAll(blocks);
        return;
      }
      for (Block b : blocks) queue.add(b);
      queuedBytes += bodyBytes;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Object reads (lock held): each block starts where the previous one ended, the first
   * at the requested offset, and none passes the end of the range; else the stream fails
   * with CORRUPT_DATA and is cancelled.
   */
  private boolean objectBlocksFollow(Block[] blocks) {
    for (Block b : blocks) {
      long at = b.attempt();
      if (at != nextOffset || at + b.storedLength() > objectEnd) {
        cancelNeeded = true;
        failLocked(new PegasusException(ErrorCode.CORRUPT_DATA, describe() + ": got " + b.storedLength()
            + " bytes at offset " + at + ", expected bytes from " + nextOffset));
        return false;
      }
      nextOffset = at + b.storedLength();
    }
    return true;
  }

  void onEnd(long blockCount, long byteCount) {
    lock.lock();
    try {
      if (state != State.OPEN) return;
      if (blockCount != receivedBlocks || byteCount != receivedBytes) {
        failLocked(new PegasusException(ErrorCode.CORRUPT_DATA, describe() + ": ReadEnd counts " + blockCount + " blocks / "
            + byteCount + " bytes, received " + receivedBlocks + " blocks / " + receivedBytes + " bytes"));
        return;
      }
      state = State.ENDED;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** The server answered Error, or the connection failed. */
  void onError(PegasusException e) {
    lock.lock();
    try {
      if (state != State.OPEN) return;
      failLocked(e);
    } finally {
      lock.unlock();
    }
  }

  private void failLocked(PegasusException e) {
    state = State.FAILED;
    error = e;
    dropQueued();
    changed.signalAll();
  }

  /** Empties the queue (lock held); its blocks were never handed out, so nobody can read them. */
  private void dropQueued() {
    for (Block b = queue.poll(); b != null; b = queue.poll()) b.release();
    queuedBytes = 0;
  }

  /** Releases blocks that were not queued and never handed out. */
  private static void releaseAll(Block[] blocks) {
    for (Block b : blocks) b.release();
  }
}
