package io.pegasus.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import pegasus.wire.ErrorCode;

/** Handshake, control requests and error codes against a real server. */
class ConnectionTest {
  private static TestServer server;
  private static final ClientOptions OPTS = ClientOptions.defaults().withRequestTimeoutMillis(10_000);

  @BeforeAll
  static void startServer() throws Exception {
    server = TestServer.start();
  }

  @AfterAll
  static void stopServer() {
    if (server != null) server.close();
  }

  private static int codeOf(ThrowingRunnable r) {
    PegasusException e = assertThrows(PegasusException.class, r::run);
    return e.code();
  }

  interface ThrowingRunnable {
    void run() throws Exception;
  }

  @Test
  void handshakeAdvertisesServerLimits() throws Exception {
    try (Connection c = Connection.open(server.address(), OPTS)) {
      assertTrue(c.isOpen());
      assertEquals(server.address(), c.address());
      assertEquals(8, c.pushWindow());
      assertEquals(16 * 1024 * 1024, c.frameBytesMax());
      assertEquals(1024 * 1024, c.readFrameBytes());
      assertEquals("0.1.0", c.serverVersion());
    }
  }

  @Test
  void controlRequests() throws Exception {
    try (Connection c = Connection.open(server.address(), OPTS)) {
      c.heartbeat("app-control");
      c.registerShuffle("app-control", 1, 4, 10);
      c.registerShuffle("app-control", 1, 4, 10); // idempotent
      c.registerShuffle("app-control", 2, 1, 1);
      c.unregisterShuffle("app-control", 2);
      c.unregisterShuffle("app-control", 2); // unknown shuffle: still Ack
      c.unregisterShuffle("app-control", 99);
      c.unregisterApp("app-control");
      c.heartbeat("app-control");
      assertEquals(0, c.pendingCount());
    }
  }

  @Test
  void errorsCarryServerCodesAndLeaveTheConnectionUsable() throws Exception {
    try (Connection c = Connection.open(server.address(), OPTS)) {
      assertEquals(ErrorCode.INVALID_ID, codeOf(() -> c.registerShuffle("../x", 0, 1, 1)));
      assertEquals(ErrorCode.INVALID_ID, codeOf(() -> c.heartbeat("../x")));

      c.registerShuffle("app-errors", 0, 2, 3);
      PegasusException conflict = assertThrows(PegasusException.class, () -> c.registerShuffle("app-errors", 0, 2, 4));
      assertEquals(ErrorCode.CONFLICT, conflict.code());
      assertEquals("CONFLICT", conflict.codeName());
      assertFalse(conflict.isConnectionFailure());

      try (ReadStream s = c.openRead("app-errors", 7, 0, 1, 0, 1)) {
        PegasusException e = assertThrows(PegasusException.class, s::take);
        assertEquals(ErrorCode.UNKNOWN_SHUFFLE, e.code(), e.getMessage());
        // Later calls report the same failure.
        assertEquals(ErrorCode.UNKNOWN_SHUFFLE, assertThrows(PegasusException.class, s::take).code());
      }
      try (ReadStream s = c.openRead("app-errors", 0, 0, 4, 0, 1)) {
        assertEquals(ErrorCode.INVALID_ARGUMENT, assertThrows(PegasusException.class, s::take).code());
      }
      // A push to an unknown shuffle fails its future with the server's code.
      Block b = BlockCodec.encode(0, TestData.text(1, 1000), true);
      CompletableFuture<Void> f = c.push("app-errors", 42, List.of(b));
      ExecutionException ee = assertThrows(ExecutionException.class, f::get);
      PegasusException pe = assertInstanceOf(PegasusException.class, ee.getCause());
      assertEquals(ErrorCode.UNKNOWN_SHUFFLE, pe.code());

      assertTrue(c.isOpen());
      c.heartbeat("app-errors");
      c.unregisterApp("app-errors");
    }
  }

  @Test
  void readOfAnEmptyShuffleEnds() throws Exception {
    try (Connection c = Connection.open(server.address(), OPTS)) {
      c.registerShuffle("app-empty", 0, 3, 3);
      try (ReadStream s = c.openRead("app-empty", 0, 0, 3, 0, 3)) {
        assertNull(s.take());
        assertNull(s.take());
      }
      c.unregisterApp("app-empty");
    }
  }

  @Test
  void oversizedPushIsRefusedBeforeSending() throws Exception {
    try (Connection c = Connection.open(server.address(), OPTS)) {
      c.registerShuffle("app-big", 0, 1, 1);
      Block big = BlockCodec.encode(0, TestData.random(1, 6 * 1024 * 1024), false);
      List<Block> three = List.of(big.withIds(0, 0, 0, 0), big.withIds(0, 0, 0, 1), big.withIds(0, 0, 0, 2));
      assertEquals(ErrorCode.MESSAGE_TOO_LARGE, codeOf(() -> c.push("app-big", 0, three)));
      assertTrue(c.isOpen());
      assertEquals(0, c.pendingCount());
      c.push("app-big", 0, List.of(big.withIds(0, 0, 0, 0))).get();
      c.unregisterApp("app-big");
    }
  }

  @Test
  void closedConnectionFailsRequests() throws Exception {
    Connection c = Connection.open(server.address(), OPTS);
    c.close();
    assertFalse(c.isOpen());
    PegasusException e = assertThrows(PegasusException.class, () -> c.heartbeat("app-x"));
    assertEquals(ErrorCode.CONNECTION_CLOSED, e.code());
    assertTrue(e.isConnectionFailure());
    c.close(); // idempotent
  }

  @Test
  void unreachableServerAndBadAddress() throws Exception {
    int freePort;
    try (ServerSocket s = new ServerSocket(0)) {
      freePort = s.getLocalPort();
    }
    PegasusException e = assertThrows(PegasusException.class,
        () -> Connection.open("127.0.0.1:" + freePort, OPTS.withConnectTimeoutMillis(3_000)));
    assertTrue(e.isConnectionFailure(), e.toString());
    assertEquals(ErrorCode.INVALID_ARGUMENT, codeOf(() -> Connection.open("no-port", OPTS)));
    assertEquals(ErrorCode.INVALID_ARGUMENT, codeOf(() -> Connection.open("host:99999", OPTS)));
  }

  @Test
  void concurrentRequestsOnOneConnection() throws Exception {
    try (Connection c = Connection.open(server.address(), OPTS)) {
      c.registerShuffle("app-conc", 0, 8, 4);
      Thread[] threads = new Thread[8];
      Exception[] errors = new Exception[threads.length];
      for (int t = 0; t < threads.length; t++) {
        int map = t;
        threads[t] = new Thread(() -> {
          try {
            for (int batch = 0; batch < 20; batch++) {
              Block b = BlockCodec.encode(batch % 4, TestData.text(map * 100 + batch, 40_000), true)
                  .withIds(0, map, batch, 0);
              c.push("app-conc", 0, List.of(b));
              c.heartbeat("app-conc");
            }
            assertTrue(c.commit("app-conc", 0, map, 0, 20).won());
          } catch (Exception e) {
            errors[map] = e;
          }
        });
        threads[t].start();
      }
      for (Thread t : threads) t.join();
      for (Exception e : errors) {
        if (e != null) throw e;
      }
      try (ReadStream s = c.openRead("app-conc", 0, 0, 4, 0, 8)) {
        assertEquals(8 * 20, TestData.drain(s).size());
      }
      c.unregisterApp("app-conc");
    }
  }
}
