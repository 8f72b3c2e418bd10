package io.pegasus.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import pegasus.wire.ErrorCode;

class ConnectionPoolTest {
  private static TestServer server;

  @BeforeAll
  static void startServer() throws Exception {
    server = TestServer.start();
  }

  @AfterAll
  static void stopServer() {
    if (server != null) server.close();
  }

  @Test
  void borrowReleaseReuse() throws Exception {
    try (ConnectionPool pool = new ConnectionPool(ClientOptions.defaults().withPoolMaxIdlePerServer(1))) {
      Connection a = pool.borrow(server.address());
      Connection b = pool.borrow(server.address());
      assertNotSame(a, b);
      pool.release(a);
      pool.release(b); // beyond maxIdlePerServer: closed
      assertEquals(1, pool.idleCount());
      assertFalse(b.isOpen());
      assertSame(a, pool.borrow(server.address()));
      a.close();
      pool.release(a); // closed: dropped
      assertEquals(0, pool.idleCount());
      assertEquals(2, pool.openedCount());
    }
  }

  @Test
  void idleConnectionsExpire() throws Exception {
    try (ConnectionPool pool = new ConnectionPool(ClientOptions.defaults().withPoolIdleMillis(200))) {
      Connection a = pool.borrow(server.address());
      pool.release(a);
      // The reaper takes the connection out of the pool, then closes it: wait for both.
      long deadline = System.currentTimeMillis() + 60_000;
      while ((pool.idleCount() > 0 || a.isOpen()) && System.currentTimeMillis() < deadline) Thread.sleep(20);
      assertEquals(0, pool.idleCount());
      assertFalse(a.isOpen());
    }
  }

  @Test
  void threadsGetTheirOwnConnections() throws Exception {
    Set<Connection> seen = Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));
    try (ConnectionPool pool = new ConnectionPool(ClientOptions.defaults())) {
      int threads = 6;
      CountDownLatch allBorrowed = new CountDownLatch(threads);
      Thread[] ts = new Thread[threads];
      Exception[] errors = new Exception[threads];
      for (int i = 0; i < threads; i++) {
        int k = i;
        ts[i] = new Thread(() -> {
          try {
            Connection c = pool.borrow(server.address());
            seen.add(c);
            allBorrowed.countDown();
            allBorrowed.await();
            c.heartbeat("app-pool-" + k);
            pool.release(c);
          } catch (Exception e) {
            errors[k] = e;
          }
        });
        ts[i].start();
      }
      for (Thread t : ts) t.join();
      for (Exception e : errors) {
        if (e != null) throw e;
      }
      assertEquals(threads, seen.size());
      assertEquals(threads, pool.idleCount());
    }
    for (Connection c : seen) assertFalse(c.isOpen()); // closing the pool closed them
  }

  @Test
  void closedPoolRefusesAndClosesReleased() throws Exception {
    ConnectionPool pool = new ConnectionPool(ClientOptions.defaults());
    Connection c = pool.borrow(server.address());
    pool.close();
    assertTrue(c.isOpen());
    pool.release(c);
    assertFalse(c.isOpen());
    assertEquals(ErrorCode.CONNECTION_CLOSED, assertThrows(PegasusException.class, () -> pool.borrow(server.address())).code());
  }
}
