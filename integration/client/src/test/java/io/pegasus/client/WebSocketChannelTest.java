package io.pegasus.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import pegasus.wire.ErrorCode;

/**
 * The client's WebSocket transport ({@link WebSocketChannel}, {@link Handshake},
 * {@link FrameMask}) against a {@link ScriptedPeer}: a real loopback socket whose
 * server side the test writes byte by byte, for the answers a Pegasus server never
 * gives on demand. The real server's side of the same transport is covered by every
 * other test class (its frame guard closes unmasked or malformed client frames).
 */
@Timeout(60)
class WebSocketChannelTest {
  private static final ClientOptions OPTS = ClientOptions.defaults().withConnectTimeoutMillis(10_000)
      .withRequestTimeoutMillis(20_000);
  private static final int MiB = 1024 * 1024;

  /** Opens a Connection to the peer on another thread while the test plays the server. */
  private static CompletableFuture<Connection> openAsync(ScriptedPeer peer) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return Connection.open(peer.address(), OPTS);
      } catch (PegasusException e) {
        throw new java.util.concurrent.CompletionException(e);
      }
    });
  }

  /** Opens a connection to `peer` and plays the server's side of the upgrade and Hello, advertising `frameBytesMax`. */
  private static Connection openSession(ScriptedPeer peer, int frameBytesMax) throws Exception {
    CompletableFuture<Connection> open = openAsync(peer);
    peer.acceptSession(frameBytesMax);
    return open.get(30, TimeUnit.SECONDS);
  }

  private static PegasusException failureOf(CompletableFuture<?> f) throws Exception {
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
    return assertInstanceOf(PegasusException.class, e.getCause());
  }

  /** The first code other than CONNECTION_CLOSED along the causes: why the connection closed. */
  private static int reasonCode(PegasusException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof PegasusException && ((PegasusException) t).code() != ErrorCode.CONNECTION_CLOSED) {
        return ((PegasusException) t).code();
      }
    }
    return ErrorCode.CONNECTION_CLOSED;
  }

  /** Starts a heartbeat on another thread; the peer answers or fails it. */
  private static CompletableFuture<Void> heartbeatAsync(Connection c) {
    return CompletableFuture.runAsync(() -> {
      try {
        c.heartbeat("app");
      } catch (PegasusException e) {
        throw new java.util.concurrent.CompletionException(e);
      }
    });
  }

  @Test
  void upgradeRequestIsRfc6455WithoutOrigin() throws Exception {
    try (ScriptedPeer peer = new ScriptedPeer()) {
      CompletableFuture<Connection> open = openAsync(peer);
      Map<String, String> req = peer.acceptUpgrade();
      assertEquals("GET /ws HTTP/1.1", req.get(""));
      assertEquals("websocket", req.get("upgrade"));
      assertEquals("13", req.get("sec-websocket-version"));
      assertEquals(16, java.util.Base64.getDecoder().decode(req.get("sec-websocket-key")).length);
      assertEquals(peer.address(), req.get("host"));
      assertFalse(req.containsKey("origin"), "the data plane refuses upgrades with an Origin");
      ScriptedPeer.ClientFrame hello = peer.readFrame();
      peer.writeMessage(ScriptedPeer.helloAck(ScriptedPeer.requestId(hello.payload), 16 * MiB));
      try (Connection c = open.get(30, TimeUnit.SECONDS)) {
        assertEquals("scripted", c.serverVersion());
      }
    }
  }

  @Test
  void handshakeRefusedOnAWrongAccept() throws Exception {
    try (ScriptedPeer peer = new ScriptedPeer()) {
      CompletableFuture<Connection> open = openAsync(peer);
      peer.accept();
      peer.readRequest();
      peer.answer101(Handshake.acceptFor("dGhlIHNhbXBsZSBub25jZQ=="));
      PegasusException e = failureOf(open);
      assertEquals(ErrorCode.CONNECTION_CLOSED, e.code(), e.toString());
      assertTrue(e.getMessage().contains("Sec-WebSocket-Accept"), e.getMessage());
    }
  }

  @Test
  void handshakeRefusedWithAnHttpStatusCarriesTheServersCode() throws Exception {
    try (ScriptedPeer peer = new ScriptedPeer()) {
      CompletableFuture<Connection> open = openAsync(peer);
      peer.accept();
      peer.readRequest();
      String body = "{\"code\":\"UNAUTHORIZED\",\"message\":\"origin x may not open the data plane\"}";
      peer.write(("HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: " + body.length()
          + "\r\n\r\n" + body).getBytes(StandardCharsets.ISO_8859_1));
      PegasusException e = failureOf(open);
      assertEquals(ErrorCode.UNAUTHORIZED, e.code(), e.toString());
      assertTrue(e.getMessage().contains("HTTP 403"), e.getMessage());
    }
    try (ScriptedPeer peer = new ScriptedPeer()) {
      CompletableFuture<Connection> open = openAsync(peer);
      peer.accept();
      peer.readRequest();
      peer.write("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 13\r\n\r\nSHUTTING_DOWN".getBytes(StandardCharsets.ISO_8859_1));
      PegasusException e = failureOf(open);
      assertEquals(ErrorCode.SHUTTING_DOWN, e.code(), e.toString());
    }
    try (ScriptedPeer peer = new ScriptedPeer()) {
      CompletableFuture<Connection> open = openAsync(peer);
      peer.accept();
      peer.readRequest();
      peer.write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      PegasusException e = failureOf(open);
      assertEquals(ErrorCode.CONNECTION_CLOSED, e.code(), e.toString());
      assertTrue(e.getMessage().contains("HTTP 404"), e.getMessage());
    }
  }

  @Test
  void clientFramesAreMaskedWithAFreshKeyEach() throws Exception {
    try (ScriptedPeer peer = new ScriptedPeer()) {
      CompletableFuture<Connection> open = openAsync(peer);
      peer.acceptUpgrade();
      ScriptedPeer.ClientFrame hello = peer.readFrame();
      assertTrue(hello.masked && hello.fin);
      peer.writeMessage(ScriptedPeer.helloAck(ScriptedPeer.requestId(hello.payload), 16 * MiB));
      try (Connection c = open.get(30, TimeUnit.SECONDS)) {
        CompletableFuture<Void> hb = heartbeatAsync(c);
        ScriptedPeer.ClientFrame f = peer.readFrame();
        assertTrue(f.masked && f.fin);
        assertEquals(FrameReader.OP_BINARY, f.opcode);
        assertNotEquals(hello.key, f.key, "two frames with one masking key");
        // Unmasked, the payload is the frame the client encoded.
        assertEquals(pegasus.wire.Message.Heartbeat, messageType(f.payload));
        peer.writeMessage(ScriptedPeer.ack(ScriptedPeer.requestId(f.payload)));
        hb.get(30, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void serverCloseWithACodeFailsRequestsWithItsReason() throws Exception {
    try (ScriptedPeer peer = new ScriptedPeer()) {
      Connection c = openSession(peer, 16 * MiB);
      CompletableFuture<Void> hb = heartbeatAsync(c);
      peer.readUntil(FrameReader.OP_BINARY);
      peer.writeMessage(ScriptedPeer.error(0, ErrorCode.FLOW_CONTROL_VIOLATION, "too many pushes"));
      peer.write(ScriptedPeer.frame(FrameReader.OP_CLOSE, true, ScriptedPeer.closePayload(1002, "FLOW_CONTROL_VIOLATION")));
      PegasusException e = failureOf(hb);
      assertEquals(ErrorCode.CONNECTION_CLOSED, e.code(), e.toString());
      assertTrue(e.getMessage().contains("code 1002, FLOW_CONTROL_VIOLATION"), e.getMessage());
      assertTrue(e.getMessage().contains("too many pushes"), e.getMessage());
      // The client answers the close with the same code.
      assertEquals(1002, peer.readUntil(FrameReader.OP_CLOSE).closeCode());
      assertFalse(c.isOpen());
      c.close();
    }
  }

  @Test
  void oversizedServerFrameFailsBeforeItsPayloadArrives() throws Exception {
    try (ScriptedPeer peer = new ScriptedPeer()) {
      Connection c = openSession(peer, MiB);
      assertEquals(MiB, c.frameBytesMax());
      CompletableFuture<Void> hb = heartbeatAsync(c);
      peer.readUntil(FrameReader.OP_BINARY);
      // Only the header: a client that waited for the payload would wait forever.
      peer.write(ScriptedPeer.frameHeader(FrameReader.OP_BINARY, true, MiB + 1, new byte[0]));
      PegasusException e = failureOf(hb);
      assertEquals(ErrorCode.CONNECTION_CLOSED, e.code(), e.toString());
      assertEquals(ErrorCode.MESSAGE_TOO_LARGE, reasonCode(e), e.toString());
      assertEquals(1009, peer.readUntil(FrameReader.OP_CLOSE).closeCode());
      c.close();
    }
  }

  @Test
  void fragmentedServerMessagesWithControlFramesBetweenArriveWhole() throws Exception {
    try (ScriptedPeer peer = new ScriptedPeer()) {
      CompletableFuture<Connection> open = openAsync(peer);
      peer.acceptUpgrade();
      ScriptedPeer.ClientFrame hello = peer.readFrame();
      byte[] ack = ScriptedPeer.helloAck(ScriptedPeer.requestId(hello.payload), 16 * MiB);
      int a = 3;
      int b = ack.length / 2;
      peer.write(ScriptedPeer.frame(FrameReader.OP_BINARY, false, Arrays.copyOfRange(ack, 0, a)));
      peer.write(ScriptedPeer.frame(FrameReader.OP_PING, true, "between".getBytes(StandardCharsets.UTF_8)));
      peer.write(ScriptedPeer.frame(FrameReader.OP_CONTINUATION, false, Arrays.copyOfRange(ack, a, b)));
      peer.write(ScriptedPeer.frame(FrameReader.OP_CONTINUATION, false, new byte[0]));
      peer.write(ScriptedPeer.frame(FrameReader.OP_CONTINUATION, true, Arrays.copyOfRange(ack, b, ack.length)));
      try (Connection c = open.get(30, TimeUnit.SECONDS)) {
        assertEquals("scripted", c.serverVersion());
        assertArrayEquals("between".getBytes(StandardCharsets.UTF_8), peer.readUntil(FrameReader.OP_PONG).payload);
        // An answer split into one-byte fragments, with an empty final one.
        CompletableFuture<Void> hb = heartbeatAsync(c);
        byte[] answer = ScriptedPeer.ack(ScriptedPeer.requestId(peer.readUntil(FrameReader.OP_BINARY).payload));
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < answer.length; i++) {
          all.write(ScriptedPeer.frame(i == 0 ? FrameReader.OP_BINARY : FrameReader.OP_CONTINUATION, false,
              new byte[] {answer[i]}));
        }
        all.write(ScriptedPeer.frame(FrameReader.OP_CONTINUATION, true, new byte[0]));
        peer.write(all.toByteArray());
        hb.get(30, TimeUnit.SECONDS);
        assertTrue(c.isOpen());
      }
    }
  }

  @Test
  void aContinuationWithoutAMessageIsAProtocolError() throws Exception {
    try (ScriptedPeer peer = new ScriptedPeer()) {
      Connection c = openSession(peer, 16 * MiB);
      CompletableFuture<Void> hb = heartbeatAsync(c);
      peer.readUntil(FrameReader.OP_BINARY);
      peer.write(ScriptedPeer.frame(FrameReader.OP_CONTINUATION, true, new byte[4]));
      PegasusException e = failureOf(hb);
      assertEquals(ErrorCode.MALFORMED_FRAME, reasonCode(e), e.toString());
      assertEquals(1002, peer.readUntil(FrameReader.OP_CLOSE).closeCode());
      c.close();
    }
  }

  @Test
  void connectionKilledInsideAFrameFailsRequestsPromptly() throws Exception {
    try (ScriptedPeer peer = new ScriptedPeer()) {
      Connection c = openSession(peer, 16 * MiB);
      CompletableFuture<Void> hb = heartbeatAsync(c);
      byte[] answer = ScriptedPeer.ack(ScriptedPeer.requestId(peer.readUntil(FrameReader.OP_BINARY).payload));
      peer.write(ScriptedPeer.frameHeader(FrameReader.OP_BINARY, true, answer.length,
          Arrays.copyOf(answer, answer.length / 2)));
      peer.kill();
      long t0 = System.nanoTime();
      PegasusException e = failureOf(hb);
      assertEquals(ErrorCode.CONNECTION_CLOSED, e.code(), e.toString());
      assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) < 10_000);
      assertFalse(c.isOpen());
      c.close();
    }
  }

  @Test
  void connectionEndedInsideAFrameSaysSo() throws Exception {
    try (ScriptedPeer peer = new ScriptedPeer()) {
      Connection c = openSession(peer, 16 * MiB);
      CompletableFuture<Void> hb = heartbeatAsync(c);
      byte[] answer = ScriptedPeer.ack(ScriptedPeer.requestId(peer.readUntil(FrameReader.OP_BINARY).payload));
      peer.write(ScriptedPeer.frameHeader(FrameReader.OP_BINARY, true, 1000, Arrays.copyOf(answer, 10)));
      peer.close(); // FIN, no close frame
      PegasusException e = failureOf(hb);
      assertEquals(ErrorCode.CONNECTION_CLOSED, e.code(), e.toString());
      assertTrue(e.getMessage().contains("inside a frame (990 payload bytes missing)"), e.getMessage());
      c.close();
    }
  }

  @Test
  void pingIsAnsweredWithItsPayload() throws Exception {
    try (ScriptedPeer peer = new ScriptedPeer()) {
      try (Connection c = openSession(peer, 16 * MiB)) {
        byte[] payload = new byte[125];
        new Random(3).nextBytes(payload);
        peer.write(ScriptedPeer.frame(FrameReader.OP_PING, true, payload));
        ScriptedPeer.ClientFrame pong = peer.readFrame();
        assertEquals(FrameReader.OP_PONG, pong.opcode);
        assertTrue(pong.masked && pong.fin);
        assertArrayEquals(payload, pong.payload);
        assertTrue(c.isOpen());
      }
    }
  }

  /**
   * uWebSockets.js pings a connection that has been quiet for most of its idle timeout
   * and closes it if nothing comes back: a connection that answers stays open through
   * several pings. Waits for the pings themselves, not for a fixed time.
   */
  @Test
  void realServerPingsAreAnsweredAndTheIdleConnectionStaysOpen() throws Exception {
    try (TestServer server = TestServer.start("--idle-timeout-ms", "8000");
        Connection c = Connection.open(server.address(), OPTS)) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(50);
      while (c.pingsReceived() < 2 && c.isOpen() && System.nanoTime() < deadline) Thread.sleep(100);
      assertTrue(c.pingsReceived() >= 2, "pings received: " + c.pingsReceived() + ", open: " + c.isOpen());
      assertTrue(c.isOpen());
      c.heartbeat("app-ping");
    }
  }

  @Test
  void maskedCopyMatchesBytewiseMasking() {
    Random r = new Random(42);
    for (int round = 0; round < 500; round++) {
      int length = r.nextInt(100);
      int srcAt = r.nextInt(9);
      int dstAt = r.nextInt(9);
      long offset = r.nextInt(1 << 20);
      int key = r.nextInt();
      byte[] src = new byte[srcAt + length + 3];
      r.nextBytes(src);
      byte[] expected = new byte[length];
      for (int i = 0; i < length; i++) expected[i] = (byte) (src[srcAt + i] ^ (key >>> (8 * (3 - ((offset + i) & 3)))));
      ByteBuffer heap = ByteBuffer.wrap(src, 1, src.length - 1).slice();
      ByteBuffer direct = ByteBuffer.allocateDirect(src.length).put(src).flip().order(ByteOrder.LITTLE_ENDIAN);
      for (ByteBuffer s : new ByteBuffer[] {heap, direct}) {
        int at = s == heap ? srcAt - 1 : srcAt;
        if (at < 0) continue;
        ByteBuffer dst = ByteBuffer.allocateDirect(dstAt + length + 8).order(ByteOrder.LITTLE_ENDIAN);
        FrameMask.copy(s, at, dst, dstAt, length, FrameMask.wordAt(key, offset));
        byte[] got = new byte[length];
        dst.get(dstAt, got);
        assertArrayEquals(expected, got, "round " + round + (s == heap ? " heap" : " direct"));
      }
    }
  }

  /** The message type of a client frame, read with the generated classes. */
  private static byte messageType(byte[] frame) {
    ByteBuffer b = ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN);
    int e = b.getInt(0);
    ByteBuffer env = b.duplicate().position(4).limit(4 + e).slice().order(ByteOrder.LITTLE_ENDIAN);
    return pegasus.wire.Envelope.getRootAsEnvelope(env).messageType();
  }
}
