package io.pegasus.client;

import io.pegasus.client.Frames.Frame;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.IntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import pegasus.wire.ErrorCode;
import pegasus.wire.Message;

/**
 * One WebSocket connection to a Pegasus server (schemas/FRAMING.md): the requests and
 * their answers. The WebSocket itself (handshake, framing, masking, ping and close) is
 * {@link WebSocketChannel}'s.
 *
 * <p>Requests may be sent from any thread. Answers are matched by request_id on the
 * channel's reader thread, which completes the futures: dependent stages of a
 * {@link #push} future run there unless an {@code *Async} variant is used, and must
 * not block. Memory stays bounded: at most {@code push_window} pushes are unanswered
 * (more callers block), at most {@link WireLimits#PENDING_REQUESTS_MAX} requests and
 * {@link WireLimits#STREAMS_MAX} read streams exist, an incoming message larger than
 * {@link #frameBytesMax()} fails the connection with MESSAGE_TOO_LARGE before its
 * body is buffered, and read streams buffer at most their credit plus one frame.
 *
 * <p>Every request has a timeout counted from the call. A push that times out after
 * it was sent keeps its window slot until its late answer arrives or the connection
 * closes, because the server still counts it. An {@code Error} answer fails only its
 * request; the connection stays usable unless the server closes it.
 */
public final class Connection implements AutoCloseable {
  private static final String PATH = "/ws";
  private static final int HEAD_BYTES_INITIAL = 4096;
  private static final int HEAD_BYTES_KEEP = 64 * 1024;
  private static final byte[] EMPTY = new byte[0];
  private static final Pattern ADDRESS = Pattern.compile("^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):(\\d{1,5})$");

  private final String address;
  /** "server host:port", for messages; built once, not per received frame. */
  private final String serverName;
  private final ClientOptions options;
  private final long requestTimeoutMillis;
  private volatile WebSocketChannel channel;

  private final ConcurrentHashMap<Integer, Pending<?>> pending = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Integer, ReadStream> streams = new ConcurrentHashMap<>();
  private final AtomicInteger lastRequestId = new AtomicInteger();
  private final ReentrantLock sendLock = new ReentrantLock();
  /** Push window slots; released to push_window after HelloAck. */
  private final Semaphore window = new Semaphore(0);
  private final Object closeLock = new Object();
  private volatile PegasusException closeError;
  /** An Error with request_id 0: the server's reason for the close that follows. */
  private volatile PegasusException serverError;

  // From HelloAck.
  private volatile String serverVersion = "";
  private volatile int frameBytesMax = WireLimits.FRAME_BYTES_MAX;
  private volatile int pushWindow = 1;
  private volatile int readFrameBytes = WireLimits.FRAME_BYTES_MAX;

  private final AtomicLong framesSent = new AtomicLong();
  private final AtomicLong bytesSent = new AtomicLong();
  private final AtomicLong framesReceived = new AtomicLong();
  private final AtomicLong bytesReceived = new AtomicLong();
  private final AtomicLong lateAnswers = new AtomicLong();
  private final AtomicLong unmatchedFrames = new AtomicLong();

  // Receive state: touched only by the channel's reader thread.
  private byte[] head = new byte[HEAD_BYTES_INITIAL];
  private int headLength;
  private int envelopeLength = -1;
  private Frame incoming;
  private byte[] body;
  /** Body bytes the incoming frame has (body may be a longer pooled array). */
  private int bodyNeed;
  private int bodyLength;
  /** Spare ReadData body arrays; they come back only through {@link BodyLease}s. */
  private final BodyPool bodies = new BodyPool(WireLimits.READ_BODY_POOL_BYTES);

  private static final class Pending<T> {
    final int id;
    final String what;
    final byte expect;
    final boolean isPush;
    final Function<Frame, T> map;
    final CompletableFuture<T> future = new CompletableFuture<>();
    volatile ScheduledFuture<?> timer;
    /** Handed to the socket: the server may know it. */
    volatile boolean sent;
    /** Timed out after it was sent: kept only to hold its id and window slot. */
    volatile boolean zombie;

    Pending(int id, String what, byte expect, boolean isPush, Function<Frame, T> map) {
      this.id = id;
      this.what = what;
      this.expect = expect;
      this.isPush = isPush;
      this.map = map;
    }

    void cancelTimer() {
      ScheduledFuture<?> t = timer;
      if (t != null) t.cancel(false);
    }
  }

  private Connection(String address, ClientOptions options) {
    this.address = address;
    this.serverName = "server " + address;
    this.options = options;
    this.requestTimeoutMillis = options.requestTimeoutMillis();
  }

  // ---------------------------------------------------------------------------
  // Opening

  /**
   * Connects to {@code ws://hostPort/ws} and completes the Hello handshake. Fails with
   * CONNECTION_CLOSED when the server cannot be reached, TIMEOUT after
   * connectTimeoutMillis, INVALID_ARGUMENT for an address that is not host:port, or
   * the server's code (e.g. UNSUPPORTED_VERSION).
   */
  public static Connection open(String hostPort, ClientOptions o) throws PegasusException {
    Objects.requireNonNull(o, "options");
    Matcher m = hostPort == null ? null : ADDRESS.matcher(hostPort);
    int port = m != null && m.matches() ? Integer.parseInt(m.group(2)) : -1;
    if (port < 1 || port > 65535) {
      throw new PegasusException(ErrorCode.INVALID_ARGUMENT, "server address \"" + hostPort + "\" is not host:port");
    }
    String host = m.group(1).startsWith("[") ? m.group(1).substring(1, m.group(1).length() - 1) : m.group(1);
    Connection c = new Connection(hostPort, o);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(o.connectTimeoutMillis());
    c.channel = WebSocketChannel.open(hostPort, host, port, PATH, o.connectTimeoutMillis(), WireLimits.FRAME_BYTES_MAX,
        c.new Receiver());
    try {
      long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      if (left <= 0) {
        throw new PegasusException(ErrorCode.TIMEOUT, "connecting to " + hostPort + " took more than "
            + o.connectTimeoutMillis() + " ms");
      }
      CompletableFuture<Frame> hello = c.call("Hello", Message.HelloAck,
          id -> Frames.hello(id, WireLimits.PROTOCOL_VERSION, o.clientName()), List.of(), 0, false, left, f -> f);
      c.acceptHello(c.await(hello));
      return c;
    } catch (PegasusException e) {
      c.fail(e, false);
      throw e;
    }
  }

  private void acceptHello(Frame ack) throws PegasusException {
    if (ack.protocolVersion != WireLimits.PROTOCOL_VERSION) {
      throw new PegasusException(ErrorCode.UNSUPPORTED_VERSION, "server " + address + " speaks protocol "
          + ack.protocolVersion + ", this client speaks " + WireLimits.PROTOCOL_VERSION);
    }
    if (ack.frameBytesMax < WireLimits.SERVER_FRAME_BYTES_MIN) {
      throw new PegasusException(ErrorCode.INVALID_ARGUMENT, "server " + address + " advertises frame_bytes_max "
          + ack.frameBytesMax + ", below the client's minimum " + WireLimits.SERVER_FRAME_BYTES_MIN);
    }
    if (ack.pushWindow < 1) {
      throw new PegasusException(ErrorCode.INVALID_ARGUMENT, "server " + address + " advertises push_window " + ack.pushWindow);
    }
    serverVersion = ack.serverVersion;
    frameBytesMax = (int) Math.min(ack.frameBytesMax, WireLimits.FRAME_BYTES_MAX);
    pushWindow = (int) Math.min(ack.pushWindow, WireLimits.PUSH_WINDOW_MAX);
    readFrameBytes = ack.readFrameBytes > 0 ? (int) Math.min(ack.readFrameBytes, frameBytesMax) : frameBytesMax;
    channel.messageBytesMax(frameBytesMax);
    window.release(pushWindow);
  }

  // ---------------------------------------------------------------------------
  // Properties

  /** The "host:port" this connection was made to. */
  public String address() {
    return address;
  }

  public ClientOptions options() {
    return options;
  }

  /** Most PushBlocks in flight: min(server's push_window, {@link WireLimits#PUSH_WINDOW_MAX}). */
  public int pushWindow() {
    return pushWindow;
  }

  /** Largest frame sent or accepted: min(server's frame_bytes_max, {@link WireLimits#FRAME_BYTES_MAX}). */
  public int frameBytesMax() {
    return frameBytesMax;
  }

  /** The server's target ReadData frame size. */
  public int readFrameBytes() {
    return readFrameBytes;
  }

  public String serverVersion() {
    return serverVersion;
  }

  /** False once the connection failed or was closed; every request then fails with CONNECTION_CLOSED. */
  public boolean isOpen() {
    return closeError == null;
  }

  /** Requests waiting for an answer, timed-out pushes included. */
  public int pendingCount() {
    return pending.size();
  }

  /** Read streams registered now. */
  public int streamCount() {
    return streams.size();
  }

  public long framesSent() {
    return framesSent.get();
  }

  public long bytesSent() {
    return bytesSent.get();
  }

  public long framesReceived() {
    return framesReceived.get();
  }

  public long bytesReceived() {
    return bytesReceived.get();
  }

  /** Answers that arrived after their request had timed out. */
  public long lateAnswers() {
    return lateAnswers.get();
  }

  /** Frames whose request_id matched nothing (e.g. data of a cancelled stream still in flight). */
  public long unmatchedFrames() {
    return unmatchedFrames.get();
  }

  /** Bytes of ReadData body arrays kept for reuse now (see {@link BodyPool}). */
  long spareBodyBytes() {
    return bodies.spareBytes();
  }

  /** Pings the server sent (each answered with a pong). */
  long pingsReceived() {
    WebSocketChannel ch = channel;
    return ch == null ? 0 : ch.pingsReceived();
  }

  @Override
  public String toString() {
    return "Connection{" + address + (isOpen() ? "" : ", closed") + "}";
  }

  // ---------------------------------------------------------------------------
  // Requests

  public void heartbeat(String appId) throws PegasusException {
    Objects.requireNonNull(appId, "appId");
    await(call("Heartbeat", Message.Ack, id -> Frames.heartbeat(id, appId), List.of(), 0, false, requestTimeoutMillis, f -> f));
  }

  /** Registers the shuffle (and the application). Idempotent; other sizes for an existing shuffle are CONFLICT. */
  public void registerShuffle(String appId, int shuffleId, int numMaps, int numPartitions) throws PegasusException {
    Objects.requireNonNull(appId, "appId");
    await(call("RegisterShuffle", Message.Ack, id -> Frames.registerShuffle(id, appId, shuffleId, numMaps, numPartitions),
        List.of(), 0, false, requestTimeoutMillis, f -> f));
  }

  /** Removes the shuffle's data; an unknown shuffle is not an error. */
  public void unregisterShuffle(String appId, int shuffleId) throws PegasusException {
    Objects.requireNonNull(appId, "appId");
    await(call("UnregisterShuffle", Message.Ack, id -> Frames.unregisterShuffle(id, appId, shuffleId), List.of(), 0, false,
        requestTimeoutMillis, f -> f));
  }

  /** Removes every shuffle of the application. */
  public void unregisterApp(String appId) throws PegasusException {
    Objects.requireNonNull(appId, "appId");
    await(call("UnregisterApp", Message.Ack, id -> Frames.unregisterApp(id, appId), List.of(), 0, false,
        requestTimeoutMillis, f -> f));
  }

  /**
   * Sends one PushBlocks; the blocks carry their own attempt/map/batch/seq and must be
   * of one (map, attempt, batch). Blocks the caller while push_window pushes are
   * unanswered, then until the frame is handed to the socket; after that the blocks'
   * bytes are no longer needed by this call. The future completes on Ack or fails
   * with a PegasusException (the server's code, TIMEOUT or CONNECTION_CLOSED).
   *
   * @throws PegasusException MESSAGE_TOO_LARGE when the frame would exceed
   *     {@link #frameBytesMax()}, TIMEOUT when no window slot frees within the request
   *     timeout, CONNECTION_CLOSED
   */
  public CompletableFuture<Void> push(String appId, int shuffleId, List<Block> blocks) throws PegasusException {
    Objects.requireNonNull(appId, "appId");
    if (blocks.size() > WireLimits.BLOCKS_PER_MESSAGE_MAX) {
      throw new PegasusException(ErrorCode.MESSAGE_TOO_LARGE, "PushBlocks of " + blocks.size() + " blocks exceeds "
          + WireLimits.BLOCKS_PER_MESSAGE_MAX);
    }
    long bodyBytes = 0;
    for (Block b : blocks) bodyBytes += b.storedLength();
    long least = WireLimits.FRAME_PREFIX_BYTES + (long) blocks.size() * WireLimits.BLOCK_HEADER_BYTES + bodyBytes;
    if (least > frameBytesMax) {
      throw new PegasusException(ErrorCode.MESSAGE_TOO_LARGE, "PushBlocks of " + blocks.size() + " blocks and " + bodyBytes
          + " stored bytes exceeds the connection's frame limit of " + frameBytesMax + " bytes");
    }
    List<Block> copy = List.copyOf(blocks);
    return call("PushBlocks", Message.Ack, id -> Frames.pushBlocks(id, appId, shuffleId, copy), copy, bodyBytes, true,
        requestTimeoutMillis, f -> null);
  }

  /** Seals a map attempt: answered once its blocks are durable. MISSING_BATCHES if batches 0..batchCount-1 did not all arrive. */
  public CommitResult commit(String appId, int shuffleId, int mapId, long attempt, int batchCount) throws PegasusException {
    Objects.requireNonNull(appId, "appId");
    Frame f = await(call("CommitMap", Message.CommitAck, id -> Frames.commitMap(id, appId, shuffleId, mapId, attempt, batchCount),
        List.of(), 0, false, requestTimeoutMillis, x -> x));
    return new CommitResult(f.won, f.winnerAttempt);
  }

  /**
   * Opens a read stream of the committed blocks of partitions [partitionStart,
   * partitionEnd) written by maps [mapStart, mapEnd). Errors the server answers
   * (UNKNOWN_SHUFFLE, INVALID_ARGUMENT, ...) surface from {@link ReadStream#take()}.
   */
  public ReadStream openRead(String appId, int shuffleId, int partitionStart, int partitionEnd, int mapStart, int mapEnd)
      throws PegasusException {
    Objects.requireNonNull(appId, "appId");
    return openStream("OpenRead",
        (id, credit) -> new ReadStream(this, id, appId, shuffleId, partitionStart, partitionEnd, mapStart, mapEnd, credit,
            requestTimeoutMillis),
        (id, credit) -> Frames.openRead(id, appId, shuffleId, partitionStart, partitionEnd, mapStart, mapEnd, credit));
  }

  /**
   * Registers a read stream under a new request id, sends the frame that opens it
   * (OpenRead or OpenObject, named by {@code what}), and forgets the stream again if
   * that fails. LIMIT_EXCEEDED past WireLimits.STREAMS_MAX open streams.
   */
  private ReadStream openStream(String what, BiFunction<Integer, Integer, ReadStream> stream,
      BiFunction<Integer, Integer, ByteBuffer> opening) throws PegasusException {
    checkOpen();
    if (streams.size() >= WireLimits.STREAMS_MAX) {
      throw new PegasusException(ErrorCode.LIMIT_EXCEEDED, streams.size() + " read streams open on the connection to "
          + address + ", limit " + WireLimits.STREAMS_MAX);
    }
    int credit = options.readCreditBytes();
    int id = nextRequestId();
    ReadStream s = stream.apply(id, credit);
    streams.put(id, s);
    try {
      ByteBuffer frame;
      try {
        frame = opening.apply(id, credit);
      } catch (IllegalArgumentException e) {
        throw new PegasusException(ErrorCode.INVALID_ARGUMENT, what + ": " + e.getMessage(), e);
      }
      checkOpen();
      sendFrame(null, frame, List.of(), 0, deadline(requestTimeoutMillis));
    } catch (PegasusException e) {
      streams.remove(id, s);
      throw e;
    }
    return s;
  }

  // ---------------------------------------------------------------------------
  // Objects (FRAMING.md "Objects"); ObjectWriter, ObjectReader and Namespace build on these.

  /**
   * A path longer than the protocol allows is INVALID_PATH here, as the server would say,
   * rather than the INVALID_ARGUMENT of an over-long string field; the server checks the rest.
   */
  private static String checkPath(String path, String what) throws PegasusException {
    Objects.requireNonNull(path, what);
    if (path.length() > WireLimits.PATH_BYTES_MAX / 3
        && path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > WireLimits.PATH_BYTES_MAX) {
      throw new PegasusException(ErrorCode.INVALID_PATH, what + " of " + path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length
          + " bytes exceeds " + WireLimits.PATH_BYTES_MAX);
    }
    return path;
  }

  /**
   * Opens a writer of a new object at {@code path} (CreateObject); returns its handle on
   * this connection. Fails with IS_A_DIRECTORY, ALREADY_EXISTS, NOT_A_DIRECTORY,
   * INVALID_PATH, LIMIT_EXCEEDED, QUOTA_EXCEEDED, or INVALID_ARGUMENT when this server
   * refuses {@code ttlMs}.
   */
  public long createObject(String path, boolean overwrite, long ttlMs) throws PegasusException {
    checkPath(path, "path");
    Frame f = await(call("CreateObject", Message.ObjectCreated, id -> Frames.createObject(id, path, overwrite, ttlMs), List.of(),
        0, false, requestTimeoutMillis, x -> x));
    return f.handle;
  }

  /**
   * Sends one AppendObject of {@code data}'s remaining bytes at object offset
   * {@code offset}, with their CRC32C. Counted in the push window as a PushBlocks is:
   * blocks the caller while push_window requests are unanswered, then until the frame is
   * handed to the socket; after that {@code data} is no longer needed by this call. The
   * future completes on Ack or fails with the server's code.
   */
  public CompletableFuture<Void> appendObject(long handle, long offset, ByteBuffer data, int crc32c)
      throws PegasusException {
    int length = data.remaining();
    if (length > WireLimits.APPEND_BYTES_MAX) {
      throw new PegasusException(ErrorCode.MESSAGE_TOO_LARGE, "AppendObject of " + length + " bytes exceeds "
          + WireLimits.APPEND_BYTES_MAX);
    }
    // The body travels as the stored bytes of a carrier block (the send path takes blocks);
    // only its bytes go on the wire, after the AppendObject envelope.
    List<Block> body = List.of(new Block(offset, 0, 0, 0, 0, length, crc32c, (byte) pegasus.wire.Codec.NONE, data));
    return call("AppendObject", Message.Ack, id -> Frames.appendObject(id, handle, offset, length, crc32c), body, length, true,
        requestTimeoutMillis, f -> null);
  }

  /** Makes the object durable and visible (CloseObject); {@code length} must equal the bytes appended. */
  public PathInfo closeObject(long handle, long length) throws PegasusException {
    Frame f = await(call("CloseObject", Message.PathStatus, id -> Frames.closeObject(id, handle, length), List.of(), 0, false,
        requestTimeoutMillis, x -> x));
    return f.pathInfo;
  }

  /** Drops an open object (AbortObject); an unknown handle is not an error. */
  public void abortObject(long handle) throws PegasusException {
    await(call("AbortObject", Message.Ack, id -> Frames.abortObject(id, handle), List.of(), 0, false, requestTimeoutMillis,
        f -> f));
  }

  /** What {@code path} names (StatPath); NOT_FOUND when nothing is there. {@code name} is the full path. */
  public PathInfo statPath(String path) throws PegasusException {
    checkPath(path, "path");
    Frame f = await(call("StatPath", Message.PathStatus, id -> Frames.statPath(id, path), List.of(), 0, false,
        requestTimeoutMillis, x -> x));
    return f.pathInfo;
  }

  /** One page of a directory listing (ListDir): entries after {@code startAfter} in name order. */
  public DirPage listDir(String path, String startAfter, int limit) throws PegasusException {
    checkPath(path, "path");
    Objects.requireNonNull(startAfter, "startAfter");
    Frame f = await(call("ListDir", Message.DirListing, id -> Frames.listDir(id, path, startAfter, limit), List.of(), 0, false,
        requestTimeoutMillis, x -> x));
    return new DirPage(f.entries, f.more);
  }

  /** Creates directory {@code path} and its missing parents (MakeDirs); an existing directory is fine. */
  public void makeDirs(String path) throws PegasusException {
    checkPath(path, "path");
    await(call("MakeDirs", Message.Ack, id -> Frames.makeDirs(id, path), List.of(), 0, false, requestTimeoutMillis, f -> f));
  }

  /** Moves a file or a directory atomically (RenamePath); {@code to} must not exist. */
  public void renamePath(String from, String to) throws PegasusException {
    checkPath(from, "from");
    checkPath(to, "to");
    await(call("RenamePath", Message.Ack, id -> Frames.renamePath(id, from, to), List.of(), 0, false, requestTimeoutMillis,
        f -> f));
  }

  /** Deletes a file or a directory (DeletePath); false when nothing was there. */
  public boolean deletePath(String path, boolean recursive) throws PegasusException {
    checkPath(path, "path");
    Frame f = await(call("DeletePath", Message.DeleteResult, id -> Frames.deletePath(id, path, recursive), List.of(), 0, false,
        requestTimeoutMillis, x -> x));
    return f.deleted;
  }

  /**
   * Opens a read stream of bytes [offset, offset + length) of the file at {@code path}
   * (OpenObject); {@code objectId} not 0 pins the file (NOT_FOUND if the path names
   * another one now). The stream checks that the blocks' object offsets follow each
   * other; the caller checks their CRC32C. Errors the server answers surface from
   * {@link ReadStream#take()}.
   */
  public ReadStream openObject(String path, long offset, long length, long objectId) throws PegasusException {
    checkPath(path, "path");
    if (offset < 0 || length < 0) {
      throw new PegasusException(ErrorCode.INVALID_ARGUMENT, "object read of " + path + ": offset " + offset + ", length "
          + length);
    }
    return openStream("OpenObject",
        (id, credit) -> new ReadStream(this, id, path, offset, length, credit, requestTimeoutMillis),
        (id, credit) -> Frames.openObject(id, path, offset, length, credit, objectId));
  }

  /** Fails everything outstanding with CONNECTION_CLOSED and closes the socket. Idempotent. */
  @Override
  public void close() {
    fail(new PegasusException(ErrorCode.CONNECTION_CLOSED, "connection to " + address + " closed by the client"), false);
  }

  // ---------------------------------------------------------------------------
  // Read stream support (called by ReadStream)

  /** Grants a read stream more credit; a no-op once the stream or the connection is gone. */
  void sendCredit(int streamId, int bytes) {
    if (closeError != null || !streams.containsKey(streamId)) return;
    try {
      sendFrame(null, Frames.readCredit(streamId, bytes), List.of(), 0, deadline(requestTimeoutMillis));
    } catch (PegasusException e) {
      // The connection has failed and failed the stream with it; take() reports that.
    }
  }

  /** Forgets the stream and sends CancelRead; late frames of the stream are dropped. */
  void cancelRead(int streamId) {
    if (streams.remove(streamId) == null || closeError != null) return;
    try {
      sendFrame(null, Frames.cancelRead(streamId), List.of(), 0, deadline(requestTimeoutMillis));
    } catch (PegasusException e) {
      // Nothing to cancel on a failed connection.
    }
  }

  // ---------------------------------------------------------------------------
  // Sending

  private static long deadline(long millis) {
    return System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
  }

  private void checkOpen() throws PegasusException {
    PegasusException e = closeError;
    if (e != null) throw new PegasusException(e.code(), e.getMessage(), e);
  }

  private int nextRequestId() {
    // request_id 0 is the server's "could not read your frame"; never use it.
    for (;;) {
      int id = lastRequestId.incrementAndGet();
      if (id != 0 && !pending.containsKey(id) && !streams.containsKey(id)) return id;
    }
  }

  private <T> CompletableFuture<T> call(String what, byte expect, IntFunction<ByteBuffer> encode, List<Block> blocks,
      long bodyBytes, boolean isPush, long timeoutMillis, Function<Frame, T> map) throws PegasusException {
    checkOpen();
    long deadline = deadline(timeoutMillis);
    if (isPush) acquireWindow(deadline, timeoutMillis);
    Pending<T> p = null;
    try {
      if (pending.size() >= WireLimits.PENDING_REQUESTS_MAX) {
        throw new PegasusException(ErrorCode.LIMIT_EXCEEDED, pending.size() + " requests pending on the connection to "
            + address + ", limit " + WireLimits.PENDING_REQUESTS_MAX);
      }
      int id = nextRequestId();
      p = new Pending<>(id, what, expect, isPush, map);
      pending.put(id, p);
      ByteBuffer frame;
      try {
        frame = encode.apply(id);
      } catch (IllegalArgumentException e) {
        throw new PegasusException(ErrorCode.INVALID_ARGUMENT, what + ": " + e.getMessage(), e);
      }
      long frameBytes = frame.remaining() + bodyBytes;
      if (frameBytes > frameBytesMax) {
        throw new PegasusException(ErrorCode.MESSAGE_TOO_LARGE, what + " frame of " + frameBytes
            + " bytes exceeds the connection's " + frameBytesMax);
      }
      checkOpen(); // fail() may have run between the first check and put()
      long remaining = deadline - System.nanoTime();
      if (remaining <= 0) throw timeout(what, p.id, timeoutMillis);
      Pending<T> q = p;
      p.timer = Timers.schedule(() -> onTimeout(q, timeoutMillis), Math.max(1, TimeUnit.NANOSECONDS.toMillis(remaining)));
      sendFrame(p, frame, blocks, bodyBytes, deadline);
      return p.future;
    } catch (PegasusException e) {
      if (p == null) {
        if (isPush) window.release();
      } else if (!p.sent) {
        p.cancelTimer();
        if (pending.remove(p.id, p) && isPush) window.release();
      }
      throw e;
    }
  }

  private void acquireWindow(long deadline, long timeoutMillis) throws PegasusException {
    try {
      if (!window.tryAcquire(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        throw new PegasusException(ErrorCode.TIMEOUT, "no push window slot on the connection to " + address + " within "
            + timeoutMillis + " ms (" + pushWindow + " pushes unanswered)");
      }
    } catch (InterruptedException e) {
      throw interrupted("PushBlocks to " + address, e);
    }
    PegasusException c = closeError;
    if (c != null) throw new PegasusException(c.code(), c.getMessage(), c);
  }

  private PegasusException timeout(String what, int id, long timeoutMillis) {
    return new PegasusException(ErrorCode.TIMEOUT, what + " (request " + Integer.toUnsignedString(id) + ") to " + address
        + " got no answer within " + timeoutMillis + " ms");
  }

  private void onTimeout(Pending<?> p, long timeoutMillis) {
    synchronized (p) { // against sendFrame marking it sent
      if (pending.get(p.id) != p) return;
      if (p.sent) {
        p.zombie = true;
      } else if (pending.remove(p.id, p) && p.isPush) {
        window.release();
      }
    }
    p.future.completeExceptionally(timeout(p.what, p.id, timeoutMillis));
  }

  static PegasusException interrupted(String what, InterruptedException e) {
    Thread.currentThread().interrupt();
    return new PegasusException(ErrorCode.INTERNAL, what + " was interrupted", e);
  }

  private <T> T await(CompletableFuture<T> f) throws PegasusException {
    try {
      return f.get();
    } catch (InterruptedException e) {
      throw interrupted("waiting for an answer from " + address, e);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof PegasusException) {
        PegasusException pe = (PegasusException) c;
        throw new PegasusException(pe.code(), pe.getMessage(), pe);
      }
      throw new PegasusException(ErrorCode.INTERNAL, "request to " + address + " failed: " + c, c);
    }
  }

  /**
   * Sends one frame: the prefix and envelope in {@code frame}, then the stored bytes
   * of {@code blocks}, as one WebSocket message (the channel copies them into its send
   * buffer while masking them; nothing is copied here). Senders take turns for the
   * whole message; each waits until its bytes are with the socket, which bounds memory
   * when the peer is slow. A send that cannot finish before the deadline fails the
   * connection (a partial message cannot be taken back).
   */
  private void sendFrame(Pending<?> p, ByteBuffer frame, List<Block> blocks, long bodyBytes, long deadline)
      throws PegasusException {
    ByteBuffer[] parts = new ByteBuffer[1 + blocks.size()];
    parts[0] = frame;
    for (int i = 0; i < blocks.size(); i++) parts[i + 1] = blocks.get(i).stored();
    try {
      if (!sendLock.tryLock(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        throw new PegasusException(ErrorCode.TIMEOUT, "could not send to " + address + ": the socket stayed busy");
      }
    } catch (InterruptedException e) {
      throw interrupted("sending to " + address, e);
    }
    try {
      checkOpen();
      if (p != null) {
        synchronized (p) {
          // Timed out while waiting for the socket: it was never sent, and must not be now.
          if (pending.get(p.id) != p) {
            throw new PegasusException(ErrorCode.TIMEOUT, p.what + " to " + address
                + " could not be sent in time (the socket stayed busy)");
          }
          p.sent = true;
        }
      }
      try {
        channel.sendBinary(parts, deadline);
      } catch (PegasusException e) {
        // The channel refuses only when closing or broken, or times out mid-frame: the connection is done.
        fail(e, true);
        PegasusException c = closeError;
        throw e.code() == ErrorCode.TIMEOUT ? e : new PegasusException(c.code(), c.getMessage(), c);
      }
      framesSent.incrementAndGet();
      bytesSent.addAndGet(frame.remaining() + bodyBytes);
    } finally {
      sendLock.unlock();
    }
  }

  // ---------------------------------------------------------------------------
  // Receiving

  private final class Receiver implements WebSocketChannel.Listener {
    @Override
    public void onBinary(ByteBuffer data, boolean last) {
      if (closeError != null) return;
      try {
        receive(data, last);
      } catch (PegasusException e) {
        protocolFailure(e);
      } catch (RuntimeException e) {
        protocolFailure(new PegasusException(ErrorCode.INTERNAL, "receiving from " + address + " failed: " + e, e));
      }
    }

    @Override
    public void onClose(int code, String reason) {
      PegasusException why = serverError;
      fail(new PegasusException(ErrorCode.CONNECTION_CLOSED, "connection to " + address + " closed by the server (code "
          + code + (reason == null || reason.isEmpty() ? "" : ", " + reason) + ")"
          + (why == null ? "" : " after " + why.codeName() + ": " + why.getMessage()), why), false);
    }

    @Override
    public void onFailure(PegasusException error) {
      if (error.code() != ErrorCode.CONNECTION_CLOSED) {
        protocolFailure(error);
        return;
      }
      PegasusException why = serverError;
      fail(why == null ? error : new PegasusException(ErrorCode.CONNECTION_CLOSED, error.getMessage() + " after "
          + why.codeName() + ": " + why.getMessage(), why), true);
    }
  }

  /** The stream of frames from the server cannot be trusted any more. */
  private void protocolFailure(PegasusException e) {
    Frame f = incoming;
    if (f != null) {
      // The envelope was read: the request it answers fails with the precise code.
      Pending<?> p = pending.remove(f.requestId);
      if (p != null) {
        p.cancelTimer();
        p.future.completeExceptionally(e);
      }
      ReadStream s = streams.remove(f.requestId);
      if (s != null) s.onError(e);
    }
    fail(e, false);
  }

  private void receive(ByteBuffer data, boolean last) throws PegasusException {
    bytesReceived.addAndGet(data.remaining());
    for (;;) {
      if (incoming == null) {
        int need = WireLimits.FRAME_PREFIX_BYTES + Math.max(0, envelopeLength);
        if (headLength < need) {
          if (!data.hasRemaining()) break;
          int n = Math.min(need - headLength, data.remaining());
          data.get(head, headLength, n);
          headLength += n;
          continue;
        }
        if (envelopeLength < 0) {
          int e = ByteBuffer.wrap(head, 0, 4).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
          Frames.checkEnvelopeLength(e, serverName);
          if (WireLimits.FRAME_PREFIX_BYTES + e > frameBytesMax) {
            throw new PegasusException(ErrorCode.MESSAGE_TOO_LARGE, "server " + address + " sent a frame larger than "
                + frameBytesMax + " bytes");
          }
          if (head.length < WireLimits.FRAME_PREFIX_BYTES + e) head = Arrays.copyOf(head, WireLimits.FRAME_PREFIX_BYTES + e);
          envelopeLength = e;
          continue;
        }
        Frame f = Frames.decodeEnvelope(ByteBuffer.wrap(head, WireLimits.FRAME_PREFIX_BYTES, envelopeLength).slice());
        incoming = f;
        long frameBytes = (long) WireLimits.FRAME_PREFIX_BYTES + envelopeLength + f.bodyBytes;
        if (frameBytes > frameBytesMax) {
          throw new PegasusException(ErrorCode.MESSAGE_TOO_LARGE, "server " + address + " sent a " + f.typeName()
              + " frame of " + frameBytes + " bytes, limit " + frameBytesMax);
        }
        if (f.bodyBytes == 0) {
          body = EMPTY;
        } else if (f.type == Message.ReadData) {
          body = bodies.take(f.bodyBytes, frameBytesMax); // possibly reused: blocks of it are leased
        } else {
          body = new byte[f.bodyBytes];
        }
        bodyNeed = f.bodyBytes;
        bodyLength = 0;
        continue;
      }
      if (bodyLength < bodyNeed) {
        if (!data.hasRemaining()) break;
        int n = Math.min(bodyNeed - bodyLength, data.remaining());
        data.get(body, bodyLength, n);
        bodyLength += n;
        continue;
      }
      if (data.hasRemaining()) {
        throw Frames.malformed("server " + address + " sent a " + incoming.typeName() + " frame whose body is longer than the "
            + bodyNeed + " bytes its headers name");
      }
      break;
    }
    if (!last) return;
    Frame f = incoming;
    if (f == null || bodyLength != bodyNeed) {
      throw Frames.malformed("server " + address + " sent a message that ends inside its "
          + (f == null ? "envelope" : "body (" + bodyLength + " of " + bodyNeed + " bytes)"));
    }
    byte[] b = body;
    incoming = null;
    body = null;
    bodyLength = 0;
    headLength = 0;
    envelopeLength = -1;
    if (head.length > HEAD_BYTES_KEEP) head = new byte[HEAD_BYTES_INITIAL];
    boolean pooled = b.length > 0 && f.type == Message.ReadData && f.blockTotal > 0;
    Frames.attachBody(f, b, pooled ? new BodyLease(bodies, b, f.blockTotal) : null);
    framesReceived.incrementAndGet();
    dispatch(f);
  }

  private void dispatch(Frame f) {
    int id = f.requestId;
    Pending<?> p = pending.remove(id);
    if (p != null) {
      answer(p, f);
      return;
    }
    ReadStream s = streams.get(id);
    if (s != null) {
      switch (f.type) {
        case Message.ReadData:
          s.onData(f.blocks, f.bodyBytes);
          break;
        case Message.ReadEnd:
          streams.remove(id, s);
          s.onEnd(f.blockCount, f.byteCount);
          break;
        case Message.Error:
          streams.remove(id, s);
          s.onError(serverError(s.describe(), f));
          break;
        default:
          // An answer type on a stream id: the stream cannot go on. Forgotten here without
          // a CancelRead (the receive thread never blocks on a send); late frames are dropped.
          streams.remove(id, s);
          s.onError(new PegasusException(ErrorCode.UNKNOWN_MESSAGE, s.describe() + ": unexpected " + f.typeName()
              + " on a read stream"));
          break;
      }
      return;
    }
    if (id == 0 && f.type == Message.Error) {
      serverError = serverError("server " + address, f);
      return;
    }
    unmatchedFrames.incrementAndGet();
  }

  private <T> void answer(Pending<T> p, Frame f) {
    p.cancelTimer();
    if (p.isPush) window.release();
    if (p.zombie) {
      lateAnswers.incrementAndGet();
      return;
    }
    if (f.type == Message.Error) {
      p.future.completeExceptionally(serverError(p.what + " to " + address, f));
    } else if (f.type != p.expect) {
      p.future.completeExceptionally(new PegasusException(ErrorCode.UNKNOWN_MESSAGE, "server " + address + " answered "
          + p.what + " with " + f.typeName()));
    } else {
      p.future.complete(p.map.apply(f));
    }
  }

  private static PegasusException serverError(String what, Frame f) {
    return new PegasusException(f.errorCode, what + ": " + PegasusException.codeName(f.errorCode) + ": " + f.errorMessage);
  }

  // ---------------------------------------------------------------------------
  // Closing

  /** The close code that tells the server why: 1000 for a plain close, 1009 or 1002 after a frame the client refused. */
  private static int closeCode(PegasusException e) {
    switch (e.code()) {
      case ErrorCode.CONNECTION_CLOSED:
      case ErrorCode.TIMEOUT:
        return WebSocketChannel.CLOSE_NORMAL;
      case ErrorCode.MESSAGE_TOO_LARGE:
        return WebSocketChannel.CLOSE_TOO_BIG;
      default:
        return WebSocketChannel.CLOSE_PROTOCOL_ERROR;
    }
  }

  /**
   * Fails everything outstanding and closes the socket. Idempotent. Requests and
   * streams see CONNECTION_CLOSED (with {@code err} as the cause when it is another code).
   */
  private void fail(PegasusException err, boolean abort) {
    PegasusException e;
    synchronized (closeLock) {
      if (closeError != null) return;
      e = err.code() == ErrorCode.CONNECTION_CLOSED ? err
          : new PegasusException(ErrorCode.CONNECTION_CLOSED, "connection to " + address + " closed: " + err.codeName() + ": "
              + err.getMessage(), err);
      closeError = e;
    }
    // Wake every thread waiting for a window slot; they see closeError.
    window.release(1 << 20);
    for (Pending<?> p : pending.values()) {
      if (pending.remove(p.id, p)) {
        p.cancelTimer();
        if (!p.zombie) p.future.completeExceptionally(e);
      }
    }
    for (Integer id : streams.keySet()) {
      ReadStream s = streams.remove(id);
      if (s != null) s.onError(e);
    }
    WebSocketChannel ch = channel;
    if (ch == null) return;
    if (abort) {
      ch.abort();
    } else {
      int code = closeCode(err);
      ch.close(code, code == WebSocketChannel.CLOSE_NORMAL ? "" : err.codeName());
    }
  }
}
