package io.pegasus.client;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import pegasus.wire.ErrorCode;

/**
 * Pushes the blocks of one map attempt to one server and commits them.
 *
 * <p>Batches are numbered 0, 1, 2, ... with no gaps; one {@link #push} is one batch is
 * one PushBlocks message (a list too large for one frame is split into several). Every
 * batch is kept until the server acknowledges it. When the connection fails
 * (CONNECTION_CLOSED or TIMEOUT) the writer waits (backoff starting at
 * {@link ClientOptions#retryWaitMillis()}, doubling), borrows a new connection and
 * resends every unacknowledged batch with its original number, in order; the server
 * stores a repeated (map, attempt, batch) once. After {@link ClientOptions#retries()}
 * reconnects without an acknowledged push in between it fails with the last error.
 * Other codes (DISK_FULL, UNKNOWN_SHUFFLE, ...) fail at once: they would fail again.
 *
 * <p>Recovery runs on the calling thread, inside push() and commit(); failures seen by
 * the receive thread only mark the connection broken. After a failure every call
 * throws the same error. Meant for one thread (the map task); methods are synchronized.
 *
 * <p>After a server restart the attempt cannot commit (MISSING_BATCHES: the server
 * does not keep uncommitted batches); the engine retries the task as a new attempt.
 */
public final class MapAttemptWriter implements AutoCloseable {
  private static final class Batch {
    final int number;
    final List<Block> blocks;
    final long storedBytes;
    /** The push of the latest send; replaced on resend. */
    volatile CompletableFuture<Void> future;

    Batch(int number, List<Block> blocks, long storedBytes) {
      this.number = number;
      this.blocks = blocks;
      this.storedBytes = storedBytes;
    }
  }

  private final ConnectionPool pool;
  private final String hostPort;
  private final String appId;
  private final int shuffleId;
  private final int mapId;
  private final long attempt;
  private final ClientOptions options;

  private Connection conn;
  /** Bumped whenever the connection is replaced; answers of older connections do not mark the new one broken. */
  private volatile int generation;
  /** Set by the receive thread when a push of the current connection failed with a connection failure. */
  private volatile PegasusException broken;
  /** Set when a push failed with a code that retrying would not fix; sticky. */
  private volatile PegasusException failure;
  private final ConcurrentSkipListMap<Integer, Batch> unacked = new ConcurrentSkipListMap<>();
  private final AtomicInteger failuresInARow = new AtomicInteger();
  private int nextBatch;
  private long bytesPushed;
  private long reconnects;
  private long resentBatches;
  private CommitResult committed;
  private boolean closed;

  public MapAttemptWriter(ConnectionPool pool, String hostPort, String appId, int shuffleId, int mapId, long attempt,
      ClientOptions o) {
    this.pool = Objects.requireNonNull(pool, "pool");
    this.hostPort = Objects.requireNonNull(hostPort, "hostPort");
    this.appId = Objects.requireNonNull(appId, "appId");
    this.shuffleId = shuffleId;
    this.mapId = mapId;
    this.attempt = attempt;
    this.options = Objects.requireNonNull(o, "options");
  }

  /**
   * Sends one batch: sets attempt/map/batch/seq on the blocks (seq = index in the list)
   * and pushes them as one PushBlocks. Returns once the frame is sent (not acknowledged),
   * blocking while the push window is full. The blocks' bytes are kept until the batch
   * is acknowledged, for a resend. An empty list is ignored.
   *
   * <p>A list that does not fit one frame ({@link #fits}) is not refused: it is split, in
   * order, into consecutive batches that do, so a caller that counts only stored bytes
   * against {@link #maxBatchBytes()} is safe with any number of blocks.
   *
   * @throws PegasusException MESSAGE_TOO_LARGE if a single block cannot fit a frame
   *     (nothing is sent and the writer stays usable); any error after retries
   */
  public synchronized void push(List<Block> blocks) throws PegasusException {
    checkUsable();
    if (committed != null) {
      throw new PegasusException(ErrorCode.INVALID_ARGUMENT, describe() + " is committed; no more pushes");
    }
    if (blocks.isEmpty()) return;
    int frame = ready().frameBytesMax();
    for (Block b : blocks) {
      if (!fitsFrame(frame, 1, b.storedLength())) {
        throw new PegasusException(ErrorCode.MESSAGE_TOO_LARGE, describe() + ": a block of " + b.storedLength()
            + " stored bytes does not fit a frame of " + frame + " bytes");
      }
    }
    int n = blocks.size();
    int first = 0;
    long bytes = 0;
    for (int i = 0; i < n; i++) {
      int len = blocks.get(i).storedLength();
      if (i > first && !fitsFrame(frame, i - first + 1, bytes + len)) {
        pushBatch(blocks.subList(first, i));
        first = i;
        bytes = 0;
      }
      bytes += len;
    }
    pushBatch(blocks.subList(first, n));
  }

  private void pushBatch(List<Block> blocks) throws PegasusException {
    if (nextBatch >= WireLimits.BATCHES_PER_ATTEMPT_MAX) {
      throw fail(new PegasusException(ErrorCode.LIMIT_EXCEEDED, describe() + " needs more than "
          + WireLimits.BATCHES_PER_ATTEMPT_MAX + " batches; push larger batches"));
    }
    int number = nextBatch;
    List<Block> stamped = new ArrayList<>(blocks.size());
    long bytes = 0;
    for (int i = 0; i < blocks.size(); i++) {
      Block b = blocks.get(i);
      stamped.add(b.withIds(attempt, mapId, number, i));
      bytes += b.storedLength();
    }
    Batch batch = new Batch(number, List.copyOf(stamped), bytes);
    Connection c = ready();
    unacked.put(number, batch);
    try {
      send(c, batch);
    } catch (PegasusException e) {
      if (!e.isConnectionFailure()) {
        unacked.remove(number);
        if (e.code() == ErrorCode.MESSAGE_TOO_LARGE || e.code() == ErrorCode.INVALID_ARGUMENT) throw e;
        throw fail(e);
      }
      nextBatch++;
      bytesPushed += bytes;
      markBroken(generation, e);
      ready(); // reconnects and resends every unacknowledged batch, this one included
      return;
    }
    nextBatch++;
    bytesPushed += bytes;
  }

  private boolean fitsFrame(int frame, int blockCount, long storedBytes) {
    return blockCount <= WireLimits.BLOCKS_PER_MESSAGE_MAX
        && storedBytes + WireLimits.FRAME_PREFIX_BYTES + Frames.pushEnvelopeBytes(appId, blockCount) <= frame;
  }

  /**
   * Stored bytes a caller may gather for one push: the connection's frame limit minus
   * room for the envelope. Such a list is one batch if it has up to about 200 blocks
   * (each further block header takes {@link WireLimits#BLOCK_HEADER_BYTES}, see
   * {@link #fits}); with more blocks push() splits it. Opens the connection if needed,
   * to learn the server's limit; if that fails the protocol maximum is assumed (and the
   * failure surfaces from the next push).
   */
  public synchronized int maxBatchBytes() {
    if (conn == null && failure == null && !closed) {
      try {
        ready();
      } catch (PegasusException e) {
        // Reported by push() or commit().
      }
    }
    int frame = conn != null ? conn.frameBytesMax() : WireLimits.FRAME_BYTES_MAX;
    return frame - WireLimits.FRAME_PREFIX_BYTES - WireLimits.PUSH_ENVELOPE_BYTES_BASE;
  }

  /** True if a batch of {@code blockCount} blocks with {@code storedBytes} in total fits one frame. */
  public synchronized boolean fits(int blockCount, long storedBytes) {
    return fitsFrame(conn != null ? conn.frameBytesMax() : WireLimits.FRAME_BYTES_MAX, blockCount, storedBytes);
  }

  /**
   * Sends CommitMap with batch_count = batches pushed, on the connection that carried
   * the unacknowledged pushes, without waiting for their acks first: the server starts
   * a commit only once every push sent before it on the same connection is buffered or
   * refused (FRAMING.md, Ordering). Then checks those pushes: a refused one fails the
   * commit with its code, whatever the commit answered. A connection failure on the way
   * reconnects, resends every unacknowledged batch and commits again on the new
   * connection (a repeated winning commit answers won again). Returns the server's
   * answer; repeated calls return the same answer.
   *
   * <p>Pushes and the commit must share the connection: pushes sent on another one carry
   * no ordering guarantee, so the writer never commits on a connection other than the
   * one its unacknowledged batches were (re)sent on.
   */
  public synchronized CommitResult commit() throws PegasusException {
    if (committed != null) return committed;
    checkUsable();
    for (;;) {
      Connection c = ready(); // after a failure: a new connection carrying every unacknowledged batch
      int gen = generation;
      CommitResult r;
      try {
        r = c.commit(appId, shuffleId, mapId, attempt, nextBatch);
      } catch (PegasusException e) {
        if (e.isConnectionFailure()) {
          markBroken(gen, e);
          continue;
        }
        // A refused push (e.g. CHECKSUM_MISMATCH) is the reason for MISSING_BATCHES: report it.
        checkPushes();
        throw fail(e);
      }
      checkPushes();
      committed = r;
      failuresInARow.set(0);
      unacked.clear();
      return r;
    }
  }

  /**
   * After the commit was answered: the pushes sent before it on its connection were
   * answered first (their futures are complete; the bounded wait is a guard only).
   * Throws the first refused push's error. A push that failed with the connection
   * (CONNECTION_CLOSED, TIMEOUT) is not an error here: the commit's answer is the
   * server's word on which batches it holds.
   */
  private void checkPushes() throws PegasusException {
    for (Batch b : unacked.values()) {
      CompletableFuture<Void> f = b.future;
      if (f == null) continue;
      try {
        f.get(options.requestTimeoutMillis() + 10_000L, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        throw fail(Connection.interrupted(describe() + ": waiting for push answers", e));
      } catch (TimeoutException e) {
        // No answer at all: the commit's answer stands.
      } catch (ExecutionException e) {
        Throwable t = e.getCause();
        PegasusException pe = t instanceof PegasusException ? (PegasusException) t
            : new PegasusException(ErrorCode.INTERNAL, "push failed: " + t, t);
        if (!pe.isConnectionFailure()) throw fail(pe);
      }
    }
    checkUsable();
  }

  /** Stored bytes pushed (each batch counted once). */
  public synchronized long bytesPushed() {
    return bytesPushed;
  }

  /** Batches pushed, i.e. the batch_count the commit sends. */
  public synchronized int batches() {
    return nextBatch;
  }

  /** Batches not yet acknowledged. */
  public int unackedBatches() {
    return unacked.size();
  }

  /** Connections replaced after failures. */
  public synchronized long reconnects() {
    return reconnects;
  }

  /** Batches sent again after reconnects. */
  public synchronized long resentBatches() {
    return resentBatches;
  }

  /** The connection in use, or null; for tests and diagnostics. */
  synchronized Connection connection() {
    return conn;
  }

  /**
   * Returns the connection to the pool, or closes it if it failed. Does not commit:
   * an uncommitted attempt is never served, so its pushed batches are harmless.
   */
  @Override
  public synchronized void close() {
    if (closed) return;
    closed = true;
    Connection c = conn;
    conn = null;
    unacked.clear();
    if (c == null) return;
    if (broken == null && c.isOpen()) pool.release(c);
    else c.close();
  }

  // ---------------------------------------------------------------------------

  private String describe() {
    return "map " + mapId + " attempt " + attempt + " of " + appId + "/" + shuffleId + " on " + hostPort;
  }

  private void checkUsable() throws PegasusException {
    PegasusException f = failure;
    if (f != null) throw new PegasusException(f.code(), f.getMessage(), f);
    if (closed) throw new PegasusException(ErrorCode.INVALID_ARGUMENT, describe() + ": writer is closed");
  }

  private PegasusException fail(PegasusException e) {
    if (failure == null) failure = e;
    return e;
  }

  private void markBroken(int gen, PegasusException e) {
    if (gen == generation && broken == null) broken = e;
  }

  private void send(Connection c, Batch b) throws PegasusException {
    int gen = generation;
    CompletableFuture<Void> f = c.push(appId, shuffleId, b.blocks);
    b.future = f;
    f.whenComplete((ok, t) -> {
      if (t == null) {
        // An ack from any connection counts: the data arrived.
        unacked.remove(b.number, b);
        failuresInARow.set(0);
        return;
      }
      PegasusException e = t instanceof PegasusException ? (PegasusException) t
          : new PegasusException(ErrorCode.INTERNAL, "push failed: " + t, t);
      if (gen != generation) return;
      if (e.isConnectionFailure()) markBroken(gen, e);
      else fail(e);
    });
  }

  /** The current connection, after replacing a broken one and resending unacknowledged batches. */
  private Connection ready() throws PegasusException {
    checkUsable();
    if (conn != null && broken == null && conn.isOpen()) return conn;
    PegasusException cause = broken;
    if (conn == null && cause == null) {
      try {
        conn = pool.borrow(hostPort);
        generation++;
        return conn;
      } catch (PegasusException e) {
        if (!e.isConnectionFailure()) throw fail(e);
        cause = e;
      }
    }
    if (cause == null) {
      cause = new PegasusException(ErrorCode.CONNECTION_CLOSED, "connection to " + hostPort + " closed");
    }
    recover(cause);
    return conn;
  }

  private void recover(PegasusException cause) throws PegasusException {
    PegasusException last = cause;
    for (;;) {
      int failures = failuresInARow.incrementAndGet();
      if (failures > options.retries()) {
        throw fail(new PegasusException(last.code(), describe() + ": " + last.getMessage() + " (gave up after "
            + options.retries() + " reconnects)", last));
      }
      generation++;
      Connection old = conn;
      conn = null;
      broken = null;
      if (old != null) old.close();
      sleep(Backoff.millis(options, failures));
      try {
        Connection c = pool.borrow(hostPort);
        conn = c;
        reconnects++;
        int gen = generation;
        for (Map.Entry<Integer, Batch> e : unacked.entrySet()) {
          send(c, e.getValue());
          resentBatches++;
          if (broken != null && gen == generation) throw broken;
        }
        return;
      } catch (PegasusException e) {
        if (!e.isConnectionFailure()) throw fail(e);
        last = e;
      }
    }
  }

  private void sleep(long millis) throws PegasusException {
    try {
      Backoff.sleep(millis, describe() + ": waiting to reconnect");
    } catch (PegasusException e) {
      throw fail(e);
    }
  }
}
