package io.pegasus.client;

import java.util.Objects;
import pegasus.wire.ErrorCode;

/**
 * A read of one server's blocks (as {@link Connection#openRead}) that survives a dropped
 * connection, a timeout and a server restart: it opens the read again where it stopped.
 *
 * <p>Why it can: a server streams the committed blocks of a range partition by partition,
 * each partition's blocks in the order they were stored (schemas/FRAMING.md, Reads), and
 * once every map of the range has committed that sequence no longer changes. So a resumed
 * read opens at the partition of the last block taken and passes over the blocks of that
 * partition already taken. It checks that they are the same blocks (map, attempt, batch,
 * seq and length, in order, folded into a digest): if they are not, the stored data
 * changed underneath, and the read fails with CORRUPT_DATA instead of handing out a block
 * twice or missing one.
 *
 * <p>What is retried: CONNECTION_CLOSED and TIMEOUT (the connection failed, or the
 * server went silent for the request timeout) and SHUTTING_DOWN (the server is
 * restarting), each after {@link Backoff}'s wait, at most {@link ClientOptions#retries()}
 * times in a row without a new block in between, and at most
 * {@link WireLimits#READ_RESUMES_MAX} times in all, and not once the pool is closed. Any
 * other error, and the last failure once the retries are spent, is thrown: the data is then unreachable or lost,
 * and the engine should recompute it.
 *
 * <p>One thread consumes it, like a {@link ReadStream}. The connection is borrowed from
 * a {@link ConnectionPool}; {@link #close()} returns it when the read ended cleanly and
 * closes it otherwise (a half-read stream may still have frames on the wire).
 */
public final class ResumableRead implements AutoCloseable {
  private final ConnectionPool pool;
  private final ClientOptions options;
  private final String address;
  private final String appId;
  private final int shuffleId;
  private final int partitionEnd;
  private final int mapStart;
  private final int mapEnd;
  private final boolean recycle;

  private Connection conn;
  private ReadStream stream;
  private boolean ended;
  private boolean closed;
  /** The partition of the last block taken (the first of the range before any). */
  private int partition;
  /** Blocks of {@link #partition} taken, and their digest. */
  private long takenInPartition;
  private long digest;
  private int failuresInARow;
  private int resumes;
  private long blocksSkipped;

  private ResumableRead(ConnectionPool pool, String address, String appId, int shuffleId, int partitionStart,
      int partitionEnd, int mapStart, int mapEnd, boolean recycle) {
    this.pool = Objects.requireNonNull(pool, "pool");
    this.options = pool.options();
    this.address = Objects.requireNonNull(address, "address");
    this.appId = Objects.requireNonNull(appId, "appId");
    this.shuffleId = shuffleId;
    this.partition = partitionStart;
    this.partitionEnd = partitionEnd;
    this.mapStart = mapStart;
    this.mapEnd = mapEnd;
    this.recycle = recycle;
  }

  /**
   * Opens the read of partitions {@code [partitionStart, partitionEnd)} written by maps
   * {@code [mapStart, mapEnd)} on the server at {@code address}, retrying as for a
   * resume. With {@code recycle}, blocks are handed out as by
   * {@link ReadStream#recycleTakenBlocks()}: each valid only until the next take.
   */
  public static ResumableRead open(ConnectionPool pool, String address, String appId, int shuffleId,
      int partitionStart, int partitionEnd, int mapStart, int mapEnd, boolean recycle) throws PegasusException {
    ResumableRead r = new ResumableRead(pool, address, appId, shuffleId, partitionStart, partitionEnd, mapStart,
        mapEnd, recycle);
    try {
      r.ensureOpen();
    } catch (PegasusException | RuntimeException e) {
      r.close();
      throw e;
    }
    return r;
  }

  /**
   * The next block (stored bytes, not decoded), or null once the range is read. Throws as
   * described in the class comment; after a throw the read is unusable.
   */
  public Block take() throws PegasusException {
    if (closed) throw new PegasusException(ErrorCode.CONNECTION_CLOSED, describe() + " is closed");
    if (ended) return null;
    for (;;) {
      ensureOpen();
      Block b;
      try {
        b = stream.take();
      } catch (PegasusException e) {
        failed(e);
        continue;
      }
      if (b == null) {
        ended = true;
        return null;
      }
      if (b.partition() != partition) {
        partition = b.partition();
        takenInPartition = 0;
        digest = 0;
      }
      takenInPartition++;
      digest = fold(digest, b);
      failuresInARow = 0;
      return b;
    }
  }

  /** Opens the stream if there is none: borrows a connection, opens the read, passes over the blocks already taken. */
  private void ensureOpen() throws PegasusException {
    while (stream == null) {
      try {
        conn = pool.borrow(address);
        ReadStream s = conn.openRead(appId, shuffleId, partition, partitionEnd, mapStart, mapEnd);
        stream = s;
        if (recycle) s.recycleTakenBlocks();
        long d = 0;
        for (long i = 0; i < takenInPartition; i++) {
          Block b = s.take();
          if (b == null || b.partition() != partition) {
            throw changed(i, b == null ? "the read ended" : "partition " + b.partition() + " came");
          }
          d = fold(d, b);
          blocksSkipped++;
        }
        if (d != digest) throw changed(takenInPartition, "other blocks came");
      } catch (PegasusException e) {
        failed(e);
      }
    }
  }

  private PegasusException changed(long at, String what) {
    return new PegasusException(ErrorCode.CORRUPT_DATA, describe() + ": resumed at partition " + partition
        + ", " + what + " where block " + at + " of the " + takenInPartition + " already taken of it was expected:"
        + " the stored blocks changed between two reads");
  }

  /** Drops the stream and its connection; rethrows {@code e} unless it is worth a retry, else waits to retry. */
  private void failed(PegasusException e) throws PegasusException {
    dropConnection(false);
    // A closed pool (the executor is shutting down) hands out nothing however long one waits.
    boolean transientFailure = (e.isConnectionFailure() || e.code() == ErrorCode.SHUTTING_DOWN) && !pool.isClosed();
    if (!transientFailure) {
      closed = true;
      throw e;
    }
    failuresInARow++;
    if (failuresInARow > options.retries() || resumes >= WireLimits.READ_RESUMES_MAX) {
      closed = true;
      throw new PegasusException(e.code(), e.getMessage() + " (gave up after " + resumes + " resumes of "
          + describe() + ")", e);
    }
    resumes++;
    Backoff.sleep(Backoff.millis(options, failuresInARow), describe() + ": waiting to resume");
  }

  /** Ends the stream; returns its connection to the pool if {@code reuse}, else closes it. */
  private void dropConnection(boolean reuse) {
    ReadStream s = stream;
    Connection c = conn;
    stream = null;
    conn = null;
    if (s != null) s.close();
    if (c == null) return;
    if (reuse) pool.release(c);
    else c.close();
  }

  /** Folds a block's identity into an order-sensitive digest. */
  private static long fold(long d, Block b) {
    long x = b.attempt();
    x = x * 0x9E3779B97F4A7C15L + b.mapId();
    x = x * 0x9E3779B97F4A7C15L + b.batch();
    x = x * 0x9E3779B97F4A7C15L + b.seq();
    x = x * 0x9E3779B97F4A7C15L + b.storedLength();
    x ^= x >>> 29;
    return d * 0xBF58476D1CE4E5B9L + x;
  }

  /** Times the read was opened again after a failure. */
  public int resumes() {
    return resumes;
  }

  /** Blocks received again on resumes and passed over. */
  public long blocksSkipped() {
    return blocksSkipped;
  }

  /** Whether the server sent the whole range (take() returned null). */
  public boolean ended() {
    return ended;
  }

  String describe() {
    return "read of " + appId + "/" + shuffleId + " partitions [" + partition + "," + partitionEnd + ") maps ["
        + mapStart + "," + mapEnd + ") from " + address;
  }

  @Override
  public String toString() {
    return "ResumableRead{" + describe() + ", resumes " + resumes + "}";
  }

  /** Ends the read. Returns the connection to the pool if the read ended cleanly; closes it otherwise. Idempotent. */
  @Override
  public void close() {
    closed = true;
    dropConnection(ended);
  }
}
