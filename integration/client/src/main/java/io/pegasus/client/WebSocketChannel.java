package io.pegasus.client;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import pegasus.wire.ErrorCode;

/**
 * One client WebSocket (RFC 6455) on a non-blocking {@link SocketChannel}: binary
 * messages only, no extensions.
 *
 * <p>Frame format (section 5.2): {@code FIN|RSV1-3|opcode (1 byte), MASK|len7 (1 byte),
 * len16 or len64 when len7 is 126 or 127, masking key (4 bytes, client frames only),
 * payload}. This client sends each message as one binary frame, masked with a fresh
 * random key (the server's frame guard closes unmasked client frames with 1002): the
 * header and the payload are copied into one direct send buffer of
 * {@link WireLimits#SOCKET_SEND_BUFFER_BYTES}, the XOR done in the same pass
 * ({@link FrameMask}), and written from there. Server frames are parsed by a
 * {@link FrameReader}: binary messages, whole or fragmented, go to the {@link Listener};
 * a ping is answered with a pong of its payload; a close frame is answered with its
 * code, and the socket is closed once the server ends it. A frame the reader refuses
 * (MESSAGE_TOO_LARGE before its payload is read, or MALFORMED_FRAME) is answered with a
 * close frame (1009, 1003 for text, else 1002), and what still arrives is dropped.
 *
 * <p>Threads: one reader thread per channel reads the socket into a direct buffer of
 * {@link WireLimits#SOCKET_READ_BUFFER_BYTES} and calls the {@link Listener}, one call
 * at a time; a payload is handed over as a view of that buffer, valid during the call
 * only. Any thread may send: a lock is held for a whole frame, and a sender waits for
 * socket space on a selector of its own, never longer than its deadline (a frame cut
 * short leaves the stream broken, so the channel is then aborted). Interrupts do not
 * close the socket: the channel is non-blocking, and a sender's interrupt status is
 * restored after its frame. The reader thread never waits for a sender: the pong or
 * close frame it must send is written by whichever thread next holds the lock free.
 */
final class WebSocketChannel {
  /** What a {@link WebSocketChannel} reports, on its reader thread, one call at a time. */
  interface Listener {
    /**
     * A part of a binary message, its bytes between {@code data}'s position and limit;
     * {@code last} on the final part (possibly empty). Valid only during the call.
     */
    void onBinary(ByteBuffer data, boolean last);

    /** The server's close frame (code 1005 when it carried none). */
    void onClose(int code, String reason);

    /**
     * The connection failed: I/O error, end of stream, or a frame this client refuses
     * (the code says which). May follow an earlier report; the first one is the cause.
     */
    void onFailure(PegasusException e);
  }

  // Close codes (RFC 6455 section 7.4.1).
  static final int CLOSE_NORMAL = 1000;
  static final int CLOSE_PROTOCOL_ERROR = 1002;
  static final int CLOSE_UNSUPPORTED_DATA = 1003;
  static final int CLOSE_NO_STATUS = 1005;
  static final int CLOSE_TOO_BIG = 1009;


  /** Largest frame header: 2 bytes, a 64-bit length, a masking key. */
  private static final int HEADER_BYTES_MAX = 14;

  static {
    if (WireLimits.SOCKET_READ_BUFFER_BYTES < WireLimits.HANDSHAKE_HEAD_BYTES_MAX
        || WireLimits.SOCKET_SEND_BUFFER_BYTES < HEADER_BYTES_MAX + FrameReader.CONTROL_PAYLOAD_BYTES_MAX) {
      throw new ExceptionInInitializerError("WireLimits: a socket buffer is smaller than what it must hold whole");
    }
  }

  private final String address;
  private final SocketChannel channel;
  private final Selector writeSelector;
  private final Selector readSelector;
  private final SecureRandom random;
  private final Listener listener;
  private final ByteBuffer sendBuffer;
  private final ByteBuffer readBuffer;

  /** Held for a whole frame. */
  private final ReentrantLock writeLock = new ReentrantLock();
  /** Set once a frame was cut short or a write failed: nothing more may be sent. */
  private volatile PegasusException sendBroken;
  /** A pong (its payload) the reader thread asked for and no one has sent yet. */
  private volatile byte[] pendingPong;
  /** The close frame's payload, set once; sent when the lock is next free. */
  private volatile byte[] pendingClose;
  private volatile boolean closeSent;
  /** A close frame was queued or sent: data frames that still arrive are dropped, sends are refused. */
  private final AtomicBoolean closing = new AtomicBoolean();
  private final AtomicBoolean aborted = new AtomicBoolean();
  private final AtomicLong pingsReceived = new AtomicLong();

  // Receive state: reader thread only.
  private final FrameReader reader;
  /** After a refused frame the stream cannot be parsed on: everything is dropped until the server ends it. */
  private boolean discarding;
  private volatile boolean closeReceived;

  private WebSocketChannel(String address, SocketChannel channel, Selector writeSelector, Selector readSelector,
      SecureRandom random, Listener listener, int messageBytesMax) {
    this.address = address;
    this.channel = channel;
    this.writeSelector = writeSelector;
    this.readSelector = readSelector;
    this.random = random;
    this.listener = listener;
    this.reader = new FrameReader("server " + address, messageBytesMax, new ServerFrames());
    this.sendBuffer = ByteBuffer.allocateDirect(WireLimits.SOCKET_SEND_BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    this.readBuffer = ByteBuffer.allocateDirect(WireLimits.SOCKET_READ_BUFFER_BYTES);
  }

  // ---------------------------------------------------------------------------
  // Opening

  /**
   * Connects to {@code host:port}, upgrades {@code path} to a WebSocket and starts the
   * reader thread, all within {@code timeoutMillis}. Fails with TIMEOUT, with
   * CONNECTION_CLOSED (unreachable, or an answer that is not a valid 101), or with the
   * code a refusing server names in its body.
   *
   * @param address "host:port" as the caller wrote it, for messages and the Host header
   */
  static WebSocketChannel open(String address, String host, int port, String path, long timeoutMillis,
      int messageBytesMax, Listener listener) throws PegasusException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    SocketChannel ch = null;
    Selector ws = null;
    Selector rs = null;
    try {
      ch = SocketChannel.open();
      ch.configureBlocking(false);
      ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
      ws = Selector.open();
      rs = Selector.open();
      WebSocketChannel c = new WebSocketChannel(address, ch, ws, rs, new SecureRandom(), listener, messageBytesMax);
      c.connect(new InetSocketAddress(host, port), deadline, timeoutMillis);
      c.upgrade(new Handshake(address, path, c.random), deadline, timeoutMillis);
      Thread t = new Thread(c::readLoop, "pegasus-ws-reader " + address);
      t.setDaemon(true);
      t.start();
      return c;
    } catch (PegasusException | RuntimeException e) {
      closeQuietly(ch, ws, rs);
      throw e;
    } catch (IOException e) {
      closeQuietly(ch, ws, rs);
      throw new PegasusException(ErrorCode.CONNECTION_CLOSED, "cannot connect to " + address + ": " + e, e);
    }
  }

  private void connect(InetSocketAddress to, long deadline, long timeoutMillis) throws IOException, PegasusException {
    if (to.isUnresolved()) throw new IOException("cannot resolve " + to.getHostString());
    SelectionKey key = channel.register(writeSelector, SelectionKey.OP_CONNECT);
    if (!channel.connect(to)) {
      while (!channel.finishConnect()) awaitReady(writeSelector, deadline, "connecting to", timeoutMillis);
    }
    key.interestOps(SelectionKey.OP_WRITE);
    channel.register(readSelector, SelectionKey.OP_READ);
  }

  private void upgrade(Handshake h, long deadline, long timeoutMillis) throws IOException, PegasusException {
    ByteBuffer request = h.request();
    while (request.hasRemaining()) {
      if (channel.write(request) == 0) awaitReady(writeSelector, deadline, "connecting to", timeoutMillis);
    }
    int headBytes;
    for (;;) {
      readBuffer.flip();
      headBytes = Handshake.headLength(readBuffer);
      readBuffer.compact();
      if (headBytes >= 0) break;
      if (readBuffer.position() >= WireLimits.HANDSHAKE_HEAD_BYTES_MAX) {
        throw new PegasusException(ErrorCode.CONNECTION_CLOSED, "server " + address + " answered the WebSocket upgrade"
            + " with a head longer than " + WireLimits.HANDSHAKE_HEAD_BYTES_MAX + " bytes");
      }
      readSome(deadline, timeoutMillis, "the answer to the WebSocket upgrade");
    }
    readBuffer.flip();
    byte[] head = new byte[headBytes];
    readBuffer.get(head);
    readBuffer.compact(); // what follows the head is the server's first frames
    Handshake.Answer a = h.parse(head);
    if (a.status == 101) {
      h.checkAccepted(a);
      return;
    }
    long length = a.contentLength();
    int want = (int) Math.min(length < 0 ? WireLimits.HANDSHAKE_BODY_BYTES_MAX : length, WireLimits.HANDSHAKE_BODY_BYTES_MAX);
    try {
      while (readBuffer.position() < want) readSome(deadline, timeoutMillis, "the body of a refused upgrade");
    } catch (IOException e) { // PegasusException included (TIMEOUT)
      // The server may close before a body it did not announce; take what came.
    }
    readBuffer.flip();
    byte[] body = new byte[Math.min(want, readBuffer.remaining())];
    readBuffer.get(body);
    throw h.refusal(a, body);
  }

  /** Reads into readBuffer (write mode) once something arrives; end of stream is an IOException. */
  private void readSome(long deadline, long timeoutMillis, String what) throws IOException, PegasusException {
    for (;;) {
      int n = channel.read(readBuffer);
      if (n > 0) return;
      if (n < 0) throw new IOException("the server ended the connection while sending " + what);
      awaitReady(readSelector, deadline, "connecting to", timeoutMillis);
    }
  }

  /** Waits until {@code s} reports its channel ready; TIMEOUT after the deadline. */
  private void awaitReady(Selector s, long deadline, String doing, long timeoutMillis) throws IOException, PegasusException {
    long left = deadline - System.nanoTime();
    if (left <= 0) {
      throw new PegasusException(ErrorCode.TIMEOUT, doing + " " + address + " took more than " + timeoutMillis + " ms");
    }
    if (Thread.interrupted()) {
      throw Connection.interrupted(doing + " " + address, new InterruptedException());
    }
    s.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
    s.selectedKeys().clear();
  }

  private static void closeQuietly(SocketChannel ch, Selector a, Selector b) {
    for (java.io.Closeable c : new java.io.Closeable[] {ch, a, b}) {
      try {
        if (c != null) c.close();
      } catch (IOException e) {
        // nothing to do
      }
    }
  }

  // ---------------------------------------------------------------------------
  // Properties

  /** Largest data message accepted; the connection lowers it to the server's frame_bytes_max. */
  void messageBytesMax(int bytes) {
    reader.messageBytesMax(bytes);
  }

  /** Pings received from the server (each answered). */
  long pingsReceived() {
    return pingsReceived.get();
  }

  // ---------------------------------------------------------------------------
  // Sending

  /**
   * Sends the remaining bytes of {@code parts}, in order, as one binary message (one
   * masked frame). The buffers are read, not consumed. Returns once every byte is with
   * the socket. TIMEOUT when the lock or the socket stayed busy until the deadline (the
   * channel is then broken if a part of the frame had been written); CONNECTION_CLOSED
   * when the channel is closing or failed.
   */
  void sendBinary(ByteBuffer[] parts, long deadline) throws PegasusException {
    lock(deadline);
    boolean interrupted = Thread.interrupted(); // a set interrupt status would make every select return at once
    try {
      checkSendable();
      long length = 0;
      for (ByteBuffer p : parts) length += p.remaining();
      writeFrame(FrameReader.OP_BINARY, parts, length, deadline);
      flushControl(deadline);
    } finally {
      writeLock.unlock();
      if (interrupted) Thread.currentThread().interrupt();
    }
    sendPendingControl();
  }

  private void lock(long deadline) throws PegasusException {
    try {
      if (!writeLock.tryLock(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        throw new PegasusException(ErrorCode.TIMEOUT, "could not send to " + address + ": the socket stayed busy");
      }
    } catch (InterruptedException e) {
      throw Connection.interrupted("sending to " + address, e);
    }
  }

  private void checkSendable() throws PegasusException {
    PegasusException b = sendBroken;
    if (b != null) throw new PegasusException(b.code(), b.getMessage(), b);
    if (closing.get() || aborted.get()) {
      throw new PegasusException(ErrorCode.CONNECTION_CLOSED, "connection to " + address + " is closing");
    }
  }

  /** Writes one frame (lock held): header, then the payload masked, through sendBuffer. */
  private void writeFrame(int op, ByteBuffer[] parts, long length, long deadline) throws PegasusException {
    ByteBuffer out = sendBuffer;
    out.clear();
    out.put((byte) (0x80 | op));
    if (length < 126) {
      out.put((byte) (0x80 | length));
    } else if (length <= 0xFFFF) {
      out.put((byte) (0x80 | 126));
      out.order(ByteOrder.BIG_ENDIAN).putShort((short) length).order(ByteOrder.LITTLE_ENDIAN);
    } else {
      out.put((byte) (0x80 | 127));
      out.order(ByteOrder.BIG_ENDIAN).putLong(length).order(ByteOrder.LITTLE_ENDIAN);
    }
    int key = random.nextInt();
    out.order(ByteOrder.BIG_ENDIAN).putInt(key).order(ByteOrder.LITTLE_ENDIAN);
    long offset = 0;
    for (ByteBuffer part : parts) {
      ByteBuffer src = part.hasArray() || part.order() == ByteOrder.LITTLE_ENDIAN ? part
          : part.duplicate().order(ByteOrder.LITTLE_ENDIAN);
      int at = src.position();
      int end = src.limit();
      while (at < end) {
        if (!out.hasRemaining()) flush(deadline);
        int n = Math.min(end - at, out.remaining());
        FrameMask.copy(src, at, out, out.position(), n, FrameMask.wordAt(key, offset));
        out.position(out.position() + n);
        at += n;
        offset += n;
      }
    }
    flush(deadline);
  }

  /** Writes sendBuffer's contents (write mode) to the socket and clears it. */
  private void flush(long deadline) throws PegasusException {
    ByteBuffer out = sendBuffer;
    out.flip();
    try {
      while (out.hasRemaining()) {
        if (channel.write(out) > 0) continue;
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw broken(new PegasusException(ErrorCode.TIMEOUT, "sending a frame to " + address
              + " did not finish in time (the server does not read)"));
        }
        writeSelector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        writeSelector.selectedKeys().clear();
        if (aborted.get()) throw new IOException("the connection was closed");
      }
    } catch (PegasusException e) {
      throw e;
    } catch (IOException | ClosedSelectorException e) {
      throw broken(new PegasusException(ErrorCode.CONNECTION_CLOSED, "send to " + address + " failed: " + e, e));
    } finally {
      out.clear();
    }
  }

  private PegasusException broken(PegasusException e) {
    if (sendBroken == null) sendBroken = e;
    return e;
  }

  /** Sends the queued pong and close frame, if any (lock held). */
  private void flushControl(long deadline) throws PegasusException {
    byte[] pong = pendingPong;
    pendingPong = null; // after a close frame none may follow: dropped
    if (pong != null && !closeSent) {
      writeFrame(FrameReader.OP_PONG, new ByteBuffer[] {ByteBuffer.wrap(pong)}, pong.length, deadline);
    }
    byte[] close = pendingClose;
    if (close != null && !closeSent) {
      closeSent = true;
      writeFrame(FrameReader.OP_CLOSE, new ByteBuffer[] {ByteBuffer.wrap(close)}, close.length, deadline);
    }
  }

  /**
   * Sends queued control frames unless another thread holds the lock, which then sends
   * them itself after its frame (it calls this after unlocking, so none is left behind).
   * Bounded by {@link WireLimits#CLOSE_TIMEOUT_MILLIS}; a failure aborts the channel.
   */
  private void sendPendingControl() {
    while ((pendingPong != null || (pendingClose != null && !closeSent)) && sendBroken == null && !aborted.get()
        && writeLock.tryLock()) {
      boolean interrupted = Thread.interrupted();
      try {
        flushControl(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WireLimits.CLOSE_TIMEOUT_MILLIS));
      } catch (PegasusException e) {
        abort();
      } finally {
        writeLock.unlock();
        if (interrupted) Thread.currentThread().interrupt();
      }
    }
  }

  // ---------------------------------------------------------------------------
  // Closing

  /**
   * Starts the closing handshake: sends a close frame with {@code code} and
   * {@code reason} (once a frame in progress is done), drops data that still arrives,
   * and drops the socket when the server has answered and ended it, or after
   * {@link WireLimits#CLOSE_TIMEOUT_MILLIS}. Idempotent; the first code wins.
   */
  void close(int code, String reason) {
    if (!closing.compareAndSet(false, true)) return;
    if (!closeReceived) {
      byte[] r = reason.getBytes(StandardCharsets.UTF_8);
      int n = Math.min(r.length, FrameReader.CONTROL_PAYLOAD_BYTES_MAX - 2);
      byte[] payload = new byte[2 + n];
      payload[0] = (byte) (code >>> 8);
      payload[1] = (byte) code;
      System.arraycopy(r, 0, payload, 2, n);
      pendingClose = payload;
      sendPendingControl();
    }
    if (!aborted.get()) Timers.schedule(this::abort, WireLimits.CLOSE_TIMEOUT_MILLIS);
  }

  /** Drops the socket at once; senders and the reader thread see it closed. Idempotent. */
  void abort() {
    if (!aborted.compareAndSet(false, true)) return;
    closing.set(true);
    try {
      channel.close();
    } catch (IOException e) {
      // closed anyway
    }
    readSelector.wakeup();
    try {
      writeSelector.close(); // wakes a sender waiting in select; it then sees the channel closed
    } catch (IOException e) {
      // nothing to do
    }
  }

  // ---------------------------------------------------------------------------
  // Receiving (reader thread)

  private void readLoop() {
    try {
      ByteBuffer buf = readBuffer;
      int n = buf.position(); // what followed the handshake's answer
      for (;;) {
        if (n < 0) {
          endOfStream();
          return;
        }
        if (n == 0) {
          if (aborted.get()) throw new IOException("the connection was closed");
          readSelector.select();
          readSelector.selectedKeys().clear();
        } else if (discarding) {
          buf.clear();
        } else {
          buf.flip();
          PegasusException refused = reader.read(buf);
          buf.compact();
          if (refused != null) {
            discarding = true;
            close(reader.closeCodeFor(refused), refused.codeName());
            listener.onFailure(refused);
          }
        }
        n = channel.read(buf);
      }
    } catch (IOException | ClosedSelectorException e) {
      abort();
      if (!closeReceived) {
        listener.onFailure(new PegasusException(ErrorCode.CONNECTION_CLOSED, "connection to " + address + " failed: " + e, e));
      }
    } catch (RuntimeException | Error e) {
      abort();
      listener.onFailure(new PegasusException(ErrorCode.INTERNAL, "receiving from " + address + " failed: " + e, e));
    } finally {
      try {
        readSelector.close();
      } catch (IOException e) {
        // nothing to do
      }
    }
  }

  private void endOfStream() {
    boolean clean = closeReceived || closing.get();
    abort();
    if (clean) return;
    listener.onFailure(new PegasusException(ErrorCode.CONNECTION_CLOSED, "server " + address + " ended the connection"
        + reader.describeCut() + " without a close frame"));
  }

  /** What the reader thread does with the frames {@link #reader} parses. */
  private final class ServerFrames implements FrameReader.Sink {
    @Override
    public void onData(ByteBuffer part, boolean last) {
      if (!closing.get()) listener.onBinary(part, last);
    }

    @Override
    public void onPing(byte[] payload) {
      pingsReceived.incrementAndGet();
      if (closing.get()) return;
      pendingPong = payload;
      sendPendingControl();
    }

    @Override
    public void onClose(byte[] payload) {
      int code = CLOSE_NO_STATUS;
      String reason = "";
      if (payload.length >= 2) {
        code = ((payload[0] & 0xFF) << 8) | (payload[1] & 0xFF);
        reason = new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8);
      }
      boolean first = !closeReceived;
      closeReceived = true;
      if (closing.compareAndSet(false, true)) {
        // Echo the code (section 5.5.1); the server then ends the TCP connection.
        pendingClose = payload.length >= 2 ? new byte[] {payload[0], payload[1]} : new byte[0];
        sendPendingControl();
        if (!aborted.get()) Timers.schedule(WebSocketChannel.this::abort, WireLimits.CLOSE_TIMEOUT_MILLIS);
      }
      if (first) listener.onClose(code, reason);
    }
  }
}
