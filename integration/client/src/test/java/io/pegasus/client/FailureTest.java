package io.pegasus.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import pegasus.wire.ErrorCode;

/** Servers that die or restart under the client. Each test starts its own server. */
class FailureTest {
  private static final ClientOptions OPTS = ClientOptions.defaults().withRequestTimeoutMillis(20_000)
      .withConnectTimeoutMillis(3_000).withRetryWaitMillis(50);

  private static void writeCommitted(Connection c, String app, int blocks, int blockBytes) throws Exception {
    c.registerShuffle(app, 0, 1, 1);
    for (int i = 0; i < blocks; i++) {
      c.push(app, 0, List.of(BlockCodec.encode(0, TestData.random(i, blockBytes), false).withIds(0, 0, i, 0)));
    }
    assertTrue(c.commit(app, 0, 0, 0, blocks).won());
  }

  @Test
  void serverKilledDuringReadFailsTheReadPromptly() throws Exception {
    try (TestServer server = TestServer.start()) {
      try (Connection c = Connection.open(server.address(), OPTS.withReadCreditBytes(1024 * 1024))) {
        writeCommitted(c, "app-kill", 24, 1024 * 1024);
        ReadStream s = c.openRead("app-kill", 0, 0, 1, 0, 1);
        for (int i = 0; i < 3; i++) BlockCodec.decode(s.take());
        server.kill();
        PegasusException e = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
          long t0 = System.nanoTime();
          PegasusException x = assertThrows(PegasusException.class, () -> {
            while (s.take() != null) {
              // drain what had arrived before the kill
            }
          });
          long ms = (System.nanoTime() - t0) / 1_000_000;
          assertTrue(ms < 5_000, "took " + ms + " ms");
          return x;
        });
        assertEquals(ErrorCode.CONNECTION_CLOSED, e.code(), e.toString());
        assertFalse(c.isOpen());
        s.close();
      }
    }
  }

  @Test
  void afterARestartAnUncommittedAttemptCannotCommit() throws Exception {
    TestServer server = TestServer.start();
    try (ConnectionPool pool = new ConnectionPool(OPTS)) {
      Connection c = pool.borrow(server.address());
      c.registerShuffle("app-restart", 0, 1, 2);
      pool.release(c);
      MapAttemptWriter w = new MapAttemptWriter(pool, server.address(), "app-restart", 0, 0, 1, OPTS);
      w.push(List.of(BlockCodec.encode(0, TestData.text(1, 10_000), true)));
      w.push(List.of(BlockCodec.encode(1, TestData.text(2, 10_000), true)));
      long deadline = System.currentTimeMillis() + 10_000;
      while (w.unackedBatches() > 0 && System.currentTimeMillis() < deadline) Thread.sleep(5);
      assertEquals(0, w.unackedBatches());

      server = server.restart();

      // The writer notices the dead connection, reconnects and pushes on...
      w.push(List.of(BlockCodec.encode(0, TestData.text(3, 10_000), true)));
      // ...but the server lost the uncommitted batches 0 and 1.
      PegasusException e = assertThrows(PegasusException.class, w::commit);
      assertEquals(ErrorCode.MISSING_BATCHES, e.code(), e.toString());
      assertEquals(3, w.batches());
      w.close();

      // A new attempt of the same map commits and is what readers see.
      try (MapAttemptWriter w2 = new MapAttemptWriter(pool, server.address(), "app-restart", 0, 0, 2, OPTS)) {
        w2.push(List.of(BlockCodec.encode(1, TestData.text(4, 10_000), true)));
        assertTrue(w2.commit().won());
      }
      c = pool.borrow(server.address());
      try (ReadStream s = c.openRead("app-restart", 0, 0, 2, 0, 1)) {
        List<Block> all = TestData.drain(s);
        assertEquals(1, all.size());
        assertEquals(2, all.get(0).attempt());
      }
      pool.release(c);
    } finally {
      server.close();
    }
  }

  @Test
  void writerGivesUpAfterItsRetries() throws Exception {
    TestServer server = TestServer.start();
    try (ConnectionPool pool = new ConnectionPool(OPTS)) {
      Connection c = pool.borrow(server.address());
      c.registerShuffle("app-gone", 0, 1, 1);
      pool.release(c);
      MapAttemptWriter w = new MapAttemptWriter(pool, server.address(), "app-gone", 0, 0, 0, OPTS.withRetries(2));
      w.push(List.of(BlockCodec.encode(0, TestData.text(1, 1000), true)));
      server.kill();
      long t0 = System.nanoTime();
      PegasusException e = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThrows(PegasusException.class, () -> {
        for (int i = 0; i < 100; i++) w.push(List.of(BlockCodec.encode(0, TestData.text(i, 1000), true)));
        w.commit();
      }));
      assertTrue(e.isConnectionFailure(), e.toString());
      assertTrue(e.getMessage().contains("gave up after 2 reconnects"), e.getMessage());
      assertTrue((System.nanoTime() - t0) / 1_000_000 < 15_000);
      // The failure is sticky.
      assertEquals(e.code(), assertThrows(PegasusException.class, w::commit).code());
      w.close();
    } finally {
      server.close();
    }
  }

  @Test
  void poolDropsConnectionsOfADeadServer() throws Exception {
    TestServer server = TestServer.start();
    try (ConnectionPool pool = new ConnectionPool(OPTS)) {
      Connection a = pool.borrow(server.address());
      pool.release(a);
      assertEquals(1, pool.idleCount());
      server = server.restart();
      // The old connection was closed by the server; the pool must not hand it out.
      long deadline = System.currentTimeMillis() + 5_000;
      while (a.isOpen() && System.currentTimeMillis() < deadline) Thread.sleep(10);
      assertFalse(a.isOpen());
      Connection b = pool.borrow(server.address());
      assertNotNull(b);
      assertTrue(b != a);
      b.heartbeat("app-pool");
      pool.release(b);
    } finally {
      server.close();
    }
  }

  @Test
  void manyStreamsFailTogetherWhenTheServerDies() throws Exception {
    try (TestServer server = TestServer.start();
        Connection c = Connection.open(server.address(), OPTS.withReadCreditBytes(64 * 1024))) {
      writeCommitted(c, "app-streams", 8, 512 * 1024);
      List<ReadStream> streams = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        ReadStream s = c.openRead("app-streams", 0, 0, 1, 0, 1);
        assertNotNull(s.take());
        streams.add(s);
      }
      server.kill();
      for (ReadStream s : streams) {
        PegasusException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
            () -> assertThrows(PegasusException.class, () -> {
              while (s.take() != null) {
                // drain
              }
            }));
        assertTrue(e.isConnectionFailure(), e.toString());
      }
      assertEquals(0, c.streamCount());
    }
  }
}
