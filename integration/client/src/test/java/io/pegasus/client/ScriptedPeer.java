package io.pegasus.client;

import com.google.flatbuffers.FlatBufferBuilder;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import pegasus.wire.Ack;
import pegasus.wire.BlockHeader;
import pegasus.wire.Envelope;
import pegasus.wire.Error;
import pegasus.wire.HelloAck;
import pegasus.wire.Message;
import pegasus.wire.ReadData;

/**
 * A WebSocket server played byte by byte by a test, on a real loopback socket: the
 * answers a Pegasus server never gives (a wrong Sec-WebSocket-Accept, an oversized or
 * fragmented frame, a connection cut inside a frame) on demand. It reads the client's
 * frames as RFC 6455 says a server must (masked, unmasking them), so a test also sees
 * exactly what the client put on the wire. One connection at a time; test code only.
 */
final class ScriptedPeer implements AutoCloseable {
  private static final int SOCKET_TIMEOUT_MILLIS = 20_000;

  private final ServerSocket server;
  private Socket socket;
  private DataInputStream in;
  private OutputStream out;

  ScriptedPeer() throws IOException {
    server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    server.setSoTimeout(SOCKET_TIMEOUT_MILLIS);
  }

  String address() {
    return "127.0.0.1:" + server.getLocalPort();
  }

  /** Waits for the client's TCP connection. */
  void accept() throws IOException {
    socket = server.accept();
    socket.setSoTimeout(SOCKET_TIMEOUT_MILLIS);
    socket.setTcpNoDelay(true);
    in = new DataInputStream(socket.getInputStream());
    out = socket.getOutputStream();
  }

  /** Reads the upgrade request: the request line under key "", headers by lower-case name. */
  Map<String, String> readRequest() throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) throw new EOFException("client closed during its request");
      head.write(b);
      matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
    Map<String, String> h = new HashMap<>();
    h.put("", lines[0]);
    for (int i = 1; i < lines.length; i++) {
      int c = lines[i].indexOf(':');
      if (c > 0) h.put(lines[i].substring(0, c).trim().toLowerCase(Locale.ROOT), lines[i].substring(c + 1).trim());
    }
    return h;
  }

  /** Answers 101 with the given Sec-WebSocket-Accept. */
  void answer101(String accept) throws IOException {
    write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
        + accept + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
  }

  /** Accepts the connection and the upgrade as RFC 6455 asks. Returns the request headers. */
  Map<String, String> acceptUpgrade() throws IOException {
    accept();
    Map<String, String> h = readRequest();
    answer101(Handshake.acceptFor(h.get("sec-websocket-key")));
    return h;
  }

  /** Accepts the upgrade and answers the client's Hello with HelloAck(frameBytesMax). */
  void acceptSession(long frameBytesMax) throws IOException {
    acceptUpgrade();
    ClientFrame hello = readFrame();
    if (hello.opcode != FrameReader.OP_BINARY) throw new IOException("expected Hello, got opcode " + hello.opcode);
    writeMessage(helloAck(requestId(hello.payload), frameBytesMax));
  }

  void write(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  /** Sends {@code payload} as one unmasked binary frame. */
  void writeMessage(byte[] payload) throws IOException {
    write(frame(FrameReader.OP_BINARY, true, payload));
  }

  /** One unmasked server frame. */
  static byte[] frame(int opcode, boolean fin, byte[] payload) {
    return frameHeader(opcode, fin, payload.length, payload);
  }

  /** A frame header announcing {@code length} payload bytes, followed by {@code payload} (which may be shorter). */
  static byte[] frameHeader(int opcode, boolean fin, long length, byte[] payload) {
    ByteBuffer b = ByteBuffer.allocate(10 + payload.length).order(ByteOrder.BIG_ENDIAN);
    b.put((byte) ((fin ? 0x80 : 0) | opcode));
    if (length < 126) {
      b.put((byte) length);
    } else if (length <= 0xFFFF) {
      b.put((byte) 126).putShort((short) length);
    } else {
      b.put((byte) 127).putLong(length);
    }
    b.put(payload);
    byte[] r = new byte[b.position()];
    b.flip().get(r);
    return r;
  }

  /** A close frame's payload: the code, then the reason. */
  static byte[] closePayload(int code, String reason) {
    byte[] r = reason.getBytes(StandardCharsets.UTF_8);
    byte[] p = new byte[2 + r.length];
    p[0] = (byte) (code >>> 8);
    p[1] = (byte) code;
    System.arraycopy(r, 0, p, 2, r.length);
    return p;
  }

  /** A frame the client sent, unmasked. */
  static final class ClientFrame {
    final int opcode;
    final boolean fin;
    final boolean masked;
    final int key;
    final byte[] payload;

    ClientFrame(int opcode, boolean fin, boolean masked, int key, byte[] payload) {
      this.opcode = opcode;
      this.fin = fin;
      this.masked = masked;
      this.key = key;
      this.payload = payload;
    }

    int closeCode() {
      return payload.length >= 2 ? ((payload[0] & 0xFF) << 8) | (payload[1] & 0xFF) : 1005;
    }
  }

  ClientFrame readFrame() throws IOException {
    int b0 = in.readUnsignedByte();
    int b1 = in.readUnsignedByte();
    long len = b1 & 0x7F;
    if (len == 126) len = in.readUnsignedShort();
    else if (len == 127) len = in.readLong();
    boolean masked = (b1 & 0x80) != 0;
    int key = masked ? in.readInt() : 0;
    byte[] p = new byte[Math.toIntExact(len)];
    in.readFully(p);
    for (int i = 0; i < p.length; i++) p[i] ^= (byte) (key >>> (8 * (3 - (i & 3))));
    return new ClientFrame(b0 & 0x0F, (b0 & 0x80) != 0, masked, key, p);
  }

  /** Reads frames until one with {@code opcode} arrives (pongs and others in between are skipped). */
  ClientFrame readUntil(int opcode) throws IOException {
    for (;;) {
      ClientFrame f = readFrame();
      if (f.opcode == opcode) return f;
    }
  }

  /** Ends the TCP connection at once (RST), as a killed process would leave it. */
  void kill() throws IOException {
    socket.setSoLinger(true, 0);
    socket.close();
  }

  @Override
  public void close() throws IOException {
    if (socket != null) socket.close();
    server.close();
  }

  // ---------------------------------------------------------------------------
  // Pegasus frames a server sends

  static int requestId(byte[] frame) {
    return (int) envelope(frame).requestId();
  }

  /** The Envelope at the head of a frame (u32 length, then the FlatBuffer). */
  private static Envelope envelope(byte[] frame) {
    ByteBuffer b = ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN);
    int e = b.getInt(0);
    ByteBuffer env = b.duplicate().position(4).limit(4 + e).slice().order(ByteOrder.LITTLE_ENDIAN);
    return Envelope.getRootAsEnvelope(env);
  }

  /** The message type (pegasus.wire.Message) of a client frame. */
  static byte messageType(byte[] frame) {
    return envelope(frame).messageType();
  }

  /** Reads client frames until one carries a message of {@code type}; returns its request id. */
  int readUntilMessage(byte type) throws IOException {
    for (;;) {
      ClientFrame f = readFrame();
      if (f.opcode == FrameReader.OP_BINARY && messageType(f.payload) == type) return requestId(f.payload);
    }
  }

  static byte[] helloAck(int requestId, long frameBytesMax) {
    FlatBufferBuilder b = new FlatBufferBuilder(256);
    int version = b.createString("scripted");
    int m = HelloAck.createHelloAck(b, WireLimits.PROTOCOL_VERSION, version, frameBytesMax, 8, 256 * 1024, 0, 0);
    return finish(b, requestId, Message.HelloAck, m);
  }

  static byte[] ack(int requestId) {
    FlatBufferBuilder b = new FlatBufferBuilder(64);
    Ack.startAck(b);
    int m = Ack.endAck(b);
    return finish(b, requestId, Message.Ack, m);
  }

  static byte[] error(int requestId, int code, String message) {
    FlatBufferBuilder b = new FlatBufferBuilder(256);
    int text = b.createString(message);
    int m = Error.createError(b, code, text);
    return finish(b, requestId, Message.Error, m);
  }

  /** A ReadData frame for the read stream {@code requestId}: the blocks' headers, then their stored bytes. */
  static byte[] readData(int requestId, java.util.List<Block> blocks) {
    FlatBufferBuilder b = new FlatBufferBuilder(256);
    ReadData.startBlocksVector(b, blocks.size());
    for (int i = blocks.size() - 1; i >= 0; i--) {
      Block k = blocks.get(i);
      BlockHeader.createBlockHeader(b, k.attempt(), k.mapId(), k.partition(), k.batch(), k.seq(), k.rawLength(),
          k.storedLength(), Integer.toUnsignedLong(k.crc32c()), k.codec());
    }
    int vector = b.endVector();
    int m = ReadData.createReadData(b, vector);
    byte[] head = finish(b, requestId, Message.ReadData, m);
    ByteArrayOutputStream frame = new ByteArrayOutputStream();
    frame.writeBytes(head);
    for (Block k : blocks) {
      ByteBuffer stored = k.stored();
      byte[] bytes = new byte[stored.remaining()];
      stored.get(bytes);
      frame.writeBytes(bytes);
    }
    return frame.toByteArray();
  }

  private static byte[] finish(FlatBufferBuilder b, int requestId, byte type, int message) {
    int env = Envelope.createEnvelope(b, Integer.toUnsignedLong(requestId), type, message);
    b.finish(env, "PGS1");
    byte[] envelope = b.sizedByteArray();
    ByteBuffer f = ByteBuffer.allocate(4 + envelope.length).order(ByteOrder.LITTLE_ENDIAN);
    f.putInt(envelope.length).put(envelope);
    return f.array();
  }
}
