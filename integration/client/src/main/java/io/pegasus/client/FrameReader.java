package io.pegasus.client;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import pegasus.wire.ErrorCode;

/**
 * Parses the frames a WebSocket server sends (RFC 6455 section 5.2) out of the bytes as
 * they are read, without I/O of its own. A frame is {@code FIN|RSV1-3|opcode (1 byte),
 * MASK|len7 (1 byte), len16 or len64 when len7 is 126 or 127, payload}; server frames
 * carry no masking key. Data payloads are handed on as they arrive, in views of the
 * read buffer (nothing is buffered here but a partial header, which stays in the read
 * buffer, and a control frame's at most 125 bytes). The opcodes and the control frame
 * bound are the format's, so the writer in {@link WebSocketChannel} uses them too.
 *
 * <p>Refused, as MALFORMED_FRAME: reserved bits (no extension is negotiated), a masked
 * frame, a text frame, an undefined opcode, a fragmented or oversized control frame, a
 * continuation with no message open, a new data frame inside one, a 64-bit length with
 * its top bit set. A data message (its fragments together) longer than
 * {@link #messageBytesMax} is MESSAGE_TOO_LARGE as soon as the header that makes it so
 * is read, before its payload. After a refusal the stream cannot be parsed on.
 * One thread (the reader's) uses an instance.
 */
final class FrameReader {
  static final int OP_CONTINUATION = 0x0;
  static final int OP_TEXT = 0x1;
  static final int OP_BINARY = 0x2;
  static final int OP_CLOSE = 0x8;
  static final int OP_PING = 0x9;
  static final int OP_PONG = 0xA;
  /** Largest control frame payload (section 5.5). */
  static final int CONTROL_PAYLOAD_BYTES_MAX = 125;

  private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

  /** Where the parsed frames go; called on the parsing thread. */
  interface Sink {
    /** A part of a binary message (position to limit), valid during the call; {@code last} on its final part. */
    void onData(ByteBuffer part, boolean last);

    void onPing(byte[] payload);

    /** A close frame's payload: empty, or the code (2 bytes, big-endian) and a UTF-8 reason. */
    void onClose(byte[] payload);
  }

  private final String from;
  private final Sink sink;
  private volatile int messageBytesMax;

  private boolean inFrame;
  private int opcode;
  private boolean fin;
  private long frameLength;
  private long payloadLeft;
  private boolean inMessage;
  private long messageBytes;
  private final byte[] control = new byte[CONTROL_PAYLOAD_BYTES_MAX];
  private int controlLength;

  /** @param from names the sender in messages, e.g. "server host:port" */
  FrameReader(String from, int messageBytesMax, Sink sink) {
    this.from = from;
    this.messageBytesMax = messageBytesMax;
    this.sink = sink;
  }

  /** Largest data message accepted from now on. */
  void messageBytesMax(int bytes) {
    messageBytesMax = bytes;
  }

  /**
   * Consumes the frames in {@code buf} (read mode), leaving an incomplete header in it.
   * Returns the refusal of a frame this client does not accept, or null.
   */
  PegasusException read(ByteBuffer buf) {
    for (;;) {
      if (!inFrame) {
        if (buf.remaining() < 2) return null;
        int p = buf.position();
        int b0 = buf.get(p) & 0xFF;
        int b1 = buf.get(p + 1) & 0xFF;
        int len7 = b1 & 0x7F;
        int headerBytes = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((b1 & 0x80) != 0 ? 4 : 0);
        if (buf.remaining() < headerBytes) return null;
        ByteBuffer be = buf.duplicate().order(ByteOrder.BIG_ENDIAN);
        long length = len7 == 126 ? be.getShort(p + 2) & 0xFFFF : len7 == 127 ? be.getLong(p + 2) : len7;
        buf.position(p + headerBytes);
        PegasusException refused = header(b0, (b1 & 0x80) != 0, length);
        if (refused != null) return refused;
        inFrame = true;
        if (payloadLeft == 0) frameDone();
        continue;
      }
      if (!buf.hasRemaining()) return null;
      int n = (int) Math.min(buf.remaining(), payloadLeft);
      int p = buf.position();
      payloadLeft -= n;
      if (opcode >= OP_CLOSE) {
        buf.get(control, controlLength, n);
        controlLength += n;
      } else {
        int limit = buf.limit();
        buf.limit(p + n);
        sink.onData(buf, fin && payloadLeft == 0);
        buf.limit(limit);
      }
      buf.position(p + n);
      if (payloadLeft == 0) frameDone();
    }
  }

  /** The close code that answers {@code refusal} (section 7.4.1): 1009 too big, 1003 text, else 1002. */
  int closeCodeFor(PegasusException refusal) {
    if (refusal.code() == ErrorCode.MESSAGE_TOO_LARGE) return WebSocketChannel.CLOSE_TOO_BIG;
    return opcode == OP_TEXT ? WebSocketChannel.CLOSE_UNSUPPORTED_DATA : WebSocketChannel.CLOSE_PROTOCOL_ERROR;
  }

  /** Where the stream stopped, for a message about a connection that ended: "" between messages. */
  String describeCut() {
    if (inFrame) return " inside a frame (" + payloadLeft + " payload bytes missing)";
    if (inMessage) return " inside a fragmented message";
    return "";
  }

  /** Checks a frame header and sets the frame state; the refusal, if any. */
  private PegasusException header(int b0, boolean masked, long length) {
    int op = b0 & 0x0F;
    opcode = op;
    if ((b0 & 0x70) != 0) return malformed("a frame with reserved bits set (no extension was negotiated)");
    if (masked) return malformed("a masked frame (RFC 6455 section 5.1: servers must not mask)");
    if (length < 0) return malformed("a 64-bit frame length with its top bit set");
    boolean last = (b0 & 0x80) != 0;
    switch (op) {
      case OP_CLOSE:
      case OP_PING:
      case OP_PONG:
        if (!last) return malformed("a fragmented control frame");
        if (length > CONTROL_PAYLOAD_BYTES_MAX) return malformed("a control frame of " + length + " bytes");
        controlLength = 0;
        break;
      case OP_TEXT:
        return malformed("a text frame");
      case OP_BINARY:
        if (inMessage) return malformed("a new data frame inside a fragmented message");
        messageBytes = 0;
        break;
      case OP_CONTINUATION:
        if (!inMessage) return malformed("a continuation frame with no fragmented message open");
        break;
      default:
        return malformed("a frame with the undefined opcode " + op);
    }
    if (op <= OP_BINARY) {
      messageBytes += length;
      int max = messageBytesMax;
      if (messageBytes > max) {
        return new PegasusException(ErrorCode.MESSAGE_TOO_LARGE, from + " sent a message of " + (last ? "" : "at least ")
            + messageBytes + " bytes, limit " + max);
      }
      inMessage = !last;
    }
    fin = last;
    frameLength = length;
    payloadLeft = length;
    return null;
  }

  private PegasusException malformed(String what) {
    return new PegasusException(ErrorCode.MALFORMED_FRAME, from + " sent " + what);
  }

  /** A frame's payload is complete. */
  private void frameDone() {
    inFrame = false;
    switch (opcode) {
      case OP_PING:
        sink.onPing(Arrays.copyOf(control, controlLength));
        break;
      case OP_CLOSE:
        sink.onClose(Arrays.copyOf(control, controlLength));
        break;
      case OP_PONG:
        break;
      default:
        // A final data frame without payload: nothing carried the end of the message yet.
        if (fin && frameLength == 0) sink.onData(EMPTY, true);
        break;
    }
  }
}
