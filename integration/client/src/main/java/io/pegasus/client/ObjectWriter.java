package io.pegasus.client;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.zip.CRC32C;
import pegasus.wire.ErrorCode;

/**
 * Writes one object, a file of the server's path namespace (FRAMING.md "Objects"); the
 * Java twin of shuffle-client/src/object-writer.ts.
 *
 * <p>{@link #create} sends CreateObject and fails at once when the path cannot be
 * written (ALREADY_EXISTS, IS_A_DIRECTORY, NOT_A_DIRECTORY, INVALID_PATH). Bytes are
 * gathered into one chunk of {@code chunkBytes} and sent as AppendObject requests with
 * their CRC32C, several in flight: at most {@code appendsInFlight} of this writer's, and
 * the connection's push window bounds them with everyone's pushes and appends. A chunk's
 * bytes are with the socket once the send returns, so the one chunk buffer is refilled
 * at once: the writer's memory is one chunk. Nothing is visible until {@link #close()}
 * returns; then every reader on every connection sees the whole object. {@link #abort()},
 * a failed append, or a connection that closes first leaves nothing visible.
 *
 * <p>Used by one thread at a time. After a failure every call throws that failure.
 */
public final class ObjectWriter {
  /** Writer settings; immutable, every {@code withX} returns a copy. */
  public static final class Options {
    private static final Options DEFAULTS = new Options(false, 0, WireLimits.OBJECT_CHUNK_BYTES_DEFAULT,
        WireLimits.OBJECT_APPENDS_IN_FLIGHT_DEFAULT);

    private final boolean overwrite;
    private final long ttlMs;
    private final int chunkBytes;
    private final int appendsInFlight;

    private Options(boolean overwrite, long ttlMs, int chunkBytes, int appendsInFlight) {
      this.overwrite = overwrite;
      this.ttlMs = ttlMs;
      this.chunkBytes = chunkBytes;
      this.appendsInFlight = appendsInFlight;
    }

    /** No overwrite, no TTL, 1 MiB chunks, 8 appends in flight. */
    public static Options defaults() {
      return DEFAULTS;
    }

    /** Replace a file already at the path when close() makes this one visible (else ALREADY_EXISTS). */
    public Options withOverwrite(boolean v) {
      return new Options(v, ttlMs, chunkBytes, appendsInFlight);
    }

    /** The file expires this long after its close (0: never). This server refuses anything but 0 for now. */
    public Options withTtlMs(long v) {
      if (v < 0) throw new IllegalArgumentException("ttlMs " + v + " is negative");
      return new Options(overwrite, v, chunkBytes, appendsInFlight);
    }

    /** Bytes per AppendObject, 1 to {@link WireLimits#APPEND_BYTES_MAX}. */
    public Options withChunkBytes(int v) {
      if (v < 1 || v > WireLimits.APPEND_BYTES_MAX) {
        throw new IllegalArgumentException("chunkBytes " + v + " not in 1.." + WireLimits.APPEND_BYTES_MAX);
      }
      return new Options(overwrite, ttlMs, v, appendsInFlight);
    }

    /** This writer's AppendObject requests awaiting their Ack before write() waits. */
    public Options withAppendsInFlight(int v) {
      if (v < 1 || v > WireLimits.OBJECT_APPENDS_IN_FLIGHT_MAX) {
        throw new IllegalArgumentException("appendsInFlight " + v + " not in 1.." + WireLimits.OBJECT_APPENDS_IN_FLIGHT_MAX);
      }
      return new Options(overwrite, ttlMs, chunkBytes, v);
    }

    public boolean overwrite() {
      return overwrite;
    }

    public long ttlMs() {
      return ttlMs;
    }

    public int chunkBytes() {
      return chunkBytes;
    }

    public int appendsInFlight() {
      return appendsInFlight;
    }
  }

  private enum State { OPEN, CLOSING, CLOSED, FAILED }

  private final Connection conn;
  private final String path;
  private final long handle;
  private final int appendsMax;
  private final byte[] chunk;
  private int filled;
  /** Bytes handed to the connection so far: the offset of the next append. */
  private long sent;
  private final ArrayDeque<CompletableFuture<Void>> inFlight = new ArrayDeque<>();
  private State state = State.OPEN;
  /** The first failure; an append's is recorded by the connection's reader thread. */
  private volatile PegasusException failure;

  private ObjectWriter(Connection conn, String path, long handle, Options o) {
    this.conn = conn;
    this.path = path;
    this.handle = handle;
    this.appendsMax = o.appendsInFlight;
    this.chunk = new byte[o.chunkBytes];
  }

  /** Opens a writer of a new object at {@code path} (absolute) with the default options. */
  public static ObjectWriter create(Connection conn, String path) throws PegasusException {
    return create(conn, path, Options.defaults());
  }

  /**
   * Opens a writer of a new object at {@code path} (absolute). Fails at once with
   * ALREADY_EXISTS (a file is there and not {@code overwrite}, or another writer writes
   * the path), IS_A_DIRECTORY, NOT_A_DIRECTORY (an ancestor is a file), INVALID_PATH,
   * LIMIT_EXCEEDED or QUOTA_EXCEEDED.
   */
  public static ObjectWriter create(Connection conn, String path, Options o) throws PegasusException {
    Objects.requireNonNull(conn, "conn");
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(o, "options");
    long handle = conn.createObject(path, o.overwrite, o.ttlMs);
    return new ObjectWriter(conn, path, handle, o);
  }

  public String path() {
    return path;
  }

  /** The connection the object is written on (its handle means nothing on another). */
  public Connection connection() {
    return conn;
  }

  /** Bytes written so far (sent or buffered). */
  public long length() {
    return sent + filled;
  }

  public boolean isOpen() {
    return state == State.OPEN && failure == null;
  }

  public void write(int b) throws PegasusException {
    checkOpen();
    chunk[filled++] = (byte) b;
    if (filled == chunk.length) sendChunk();
  }

  /** Copies the bytes; waits only while {@code appendsInFlight} chunks are unacknowledged. */
  public void write(byte[] b, int off, int len) throws PegasusException {
    Objects.checkFromIndexSize(off, len, b.length);
    checkOpen();
    while (len > 0) {
      int n = Math.min(chunk.length - filled, len);
      System.arraycopy(b, off, chunk, filled, n);
      filled += n;
      off += n;
      len -= n;
      if (filled == chunk.length) sendChunk();
    }
  }

  public void write(ByteBuffer src) throws PegasusException {
    checkOpen();
    while (src.hasRemaining()) {
      int n = Math.min(chunk.length - filled, src.remaining());
      src.get(chunk, filled, n);
      filled += n;
      if (filled == chunk.length) sendChunk();
    }
  }

  /**
   * Sends what is buffered, waits for every append, and makes the object durable and
   * visible (CloseObject). Returns its status (name: the full path). On failure the object
   * is dropped and the failure thrown; the path may have been taken meanwhile
   * (ALREADY_EXISTS, IS_A_DIRECTORY, NOT_A_DIRECTORY).
   */
  public PathInfo close() throws PegasusException {
    checkOpen();
    state = State.CLOSING;
    try {
      if (filled > 0) sendChunk();
      while (!inFlight.isEmpty()) awaitOldest();
      checkFailure();
      PathInfo info = conn.closeObject(handle, sent);
      state = State.CLOSED;
      return info;
    } catch (PegasusException e) {
      fail(e);
      abortQuietly();
      throw failure;
    }
  }

  /** Drops the object: nothing becomes visible. Idempotent; a no-op after a successful close(). */
  public void abort() {
    if (state == State.CLOSED) return;
    if (failure == null) fail(new PegasusException(ErrorCode.INVALID_ARGUMENT, "writer of " + path + " was aborted"));
    state = State.FAILED;
    abortQuietly();
  }

  private void abortQuietly() {
    if (!conn.isOpen()) return; // the server drops the writers of a closed connection
    // Appends already sent are answered before the AbortObject (the server orders it after them).
    inFlight.clear();
    try {
      conn.abortObject(handle);
    } catch (PegasusException e) {
      // Best effort: a failed writer is dropped by the server anyway.
    }
  }

  private void sendChunk() throws PegasusException {
    CRC32C c = new CRC32C();
    c.update(chunk, 0, filled);
    CompletableFuture<Void> f;
    try {
      f = conn.appendObject(handle, sent, ByteBuffer.wrap(chunk, 0, filled), (int) c.getValue());
    } catch (PegasusException e) {
      fail(e);
      throw e;
    }
    // The frame's bytes are with the socket now: the chunk can be refilled.
    sent += filled;
    filled = 0;
    f.whenComplete((v, err) -> {
      if (err != null) recordFailure(err);
    });
    inFlight.add(f);
    while (!inFlight.isEmpty() && (inFlight.size() >= appendsMax || inFlight.peekFirst().isDone())) awaitOldest();
    checkFailure();
  }

  private void awaitOldest() throws PegasusException {
    CompletableFuture<Void> f = inFlight.pollFirst();
    try {
      f.get();
    } catch (InterruptedException e) {
      PegasusException pe = Connection.interrupted("writing " + path, e);
      fail(pe);
      throw pe;
    } catch (ExecutionException e) {
      recordFailure(e.getCause());
      checkFailure();
    }
  }

  private void recordFailure(Throwable err) {
    if (failure != null) return;
    synchronized (this) {
      if (failure != null) return;
      failure = err instanceof PegasusException ? (PegasusException) err
          : new PegasusException(ErrorCode.INTERNAL, "append to " + path + " failed: " + err, err);
    }
  }

  private void fail(PegasusException e) {
    recordFailure(e);
    state = State.FAILED;
  }

  private void checkFailure() throws PegasusException {
    PegasusException e = failure;
    if (e != null) {
      state = State.FAILED;
      throw new PegasusException(e.code(), e.getMessage(), e);
    }
  }

  private void checkOpen() throws PegasusException {
    checkFailure();
    if (state != State.OPEN) {
      throw new PegasusException(ErrorCode.INVALID_ARGUMENT, "writer of " + path + " is " + state.name().toLowerCase());
    }
  }

  @Override
  public String toString() {
    return "ObjectWriter{" + path + ", " + length() + " bytes, " + state.name().toLowerCase() + "}";
  }
}
