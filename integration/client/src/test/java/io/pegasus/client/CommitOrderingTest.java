package io.pegasus.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A CommitMap sent on a connection right after PushBlocks that still wait for server
 * memory sees those pushes (schemas/FRAMING.md, Ordering; net/session.ts): the server
 * holds the commit until every push sent before it is buffered or refused, instead of
 * answering MISSING_BATCHES.
 *
 * <p>The wait is made certain, not hoped for: the budget is the smallest the server
 * accepts (64 MiB) and every flush first sleeps {@value #APPEND_DELAY_MS} ms (the fault
 * seam, PEGASUS_FAULT_APPEND_DELAY_MS). A connection reserves window x largest push,
 * capped at half the budget, so of {@value #PUSHES} pushes of 6 MiB only five (30 MiB)
 * fit beside the 32 MiB reserve; the rest wait for a flush, i.e. at least
 * {@value #APPEND_DELAY_MS} ms, while the client sends its commit at once. Each test
 * checks that precondition (some push unacknowledged when the commit is sent) so it
 * cannot pass without exercising the ordering.
 */
@Timeout(180)
class CommitOrderingTest {
  private static final int MiB = 1024 * 1024;
  private static final int PUSHES = 8;
  private static final int PUSH_BYTES = 6 * MiB;
  private static final int APPEND_DELAY_MS = 400;
  private static final int PUSH_WINDOW = PUSHES; // every push is sent before the first ack

  private static final ClientOptions OPTIONS = ClientOptions.defaults().withRequestTimeoutMillis(60_000);

  private static TestServer slowDiskServer() throws Exception {
    return TestServer.start(Map.of("PEGASUS_FAULT_APPEND_DELAY_MS", Integer.toString(APPEND_DELAY_MS)),
        "--memory-budget-bytes", Integer.toString(64 * MiB), "--push-window", Integer.toString(PUSH_WINDOW));
  }

  private static long seed(int batch) {
    return 7_000 + batch;
  }

  private static Block block(int batch) {
    return BlockCodec.encode(0, TestData.random(seed(batch), PUSH_BYTES), false);
  }

  /**
   * The lowest-level API: {@link Connection#push} returns once the frame is on the
   * socket, so CommitMap follows the pushes with their acks still outstanding. This is
   * what the server's ordering guarantee is for.
   */
  @Test
  void commitSentWhilePushesWaitForMemorySeesThem() throws Exception {
    String app = "app-order-conn";
    try (TestServer server = slowDiskServer(); Connection c = Connection.open(server.address(), OPTIONS)) {
      assertEquals(PUSH_WINDOW, c.pushWindow());
      c.registerShuffle(app, 0, 1, 1);
      List<CompletableFuture<Void>> acks = new ArrayList<>();
      for (int i = 0; i < PUSHES; i++) {
        acks.add(c.push(app, 0, List.of(block(i).withIds(0, 0, i, 0))));
      }
      int unacked = unacknowledged(acks);
      CommitResult r = c.commit(app, 0, 0, 0, PUSHES);

      assertTrue(unacked > 0, "precondition: every push was acknowledged before the commit was sent, so the"
          + " commit did not overtake a waiting push (was PEGASUS_FAULT_APPEND_DELAY_MS honoured?)");
      assertTrue(r.won(), "commit lost to attempt " + r.winnerAttempt());
      // The server answers the commit only after every earlier push, and answers leave in order.
      for (int i = 0; i < PUSHES; i++) {
        assertTrue(acks.get(i).isDone(), "push " + i + " was not answered before the commit");
        assertFalse(acks.get(i).isCompletedExceptionally(), "push " + i + " failed: " + failure(acks.get(i)));
      }
      System.out.printf("commit ordering (connection): %d of %d pushes unacknowledged when CommitMap was sent%n",
          unacked, PUSHES);
      readsEveryByte(c, app);
    }
  }

  /**
   * The client's normal API, as the Spark writer uses it: {@link MapAttemptWriter#commit}
   * is called while pushes wait for memory. (The writer itself waits for every ack before
   * it sends CommitMap, so this holds with or without the server's ordering.)
   */
  @Test
  void writerCommitWhilePushesWaitForMemoryWins() throws Exception {
    String app = "app-order-writer";
    try (TestServer server = slowDiskServer(); ConnectionPool pool = new ConnectionPool(OPTIONS)) {
      Connection c = pool.borrow(server.address());
      c.registerShuffle(app, 0, 1, 1);
      pool.release(c);
      int unacked;
      try (MapAttemptWriter w = new MapAttemptWriter(pool, server.address(), app, 0, 0, 0, OPTIONS)) {
        for (int i = 0; i < PUSHES; i++) w.push(List.of(block(i)));
        unacked = w.unackedBatches();
        CommitResult r = w.commit();

        assertTrue(unacked > 0, "precondition: every push was acknowledged before commit() was called"
            + " (was PEGASUS_FAULT_APPEND_DELAY_MS honoured?)");
        assertTrue(r.won(), "commit lost to attempt " + r.winnerAttempt());
        assertEquals(PUSHES, w.batches());
        assertEquals(0, w.unackedBatches());
        assertEquals((long) PUSHES * PUSH_BYTES, w.bytesPushed());
        assertEquals(0, w.reconnects());
      }
      System.out.printf("commit ordering (writer): %d of %d pushes unacknowledged when commit() was called%n",
          unacked, PUSHES);
      c = pool.borrow(server.address());
      readsEveryByte(c, app);
      pool.release(c);
    }
  }

  private static int unacknowledged(List<CompletableFuture<Void>> acks) {
    int n = 0;
    for (CompletableFuture<Void> f : acks) if (!f.isDone()) n++;
    return n;
  }

  private static String failure(CompletableFuture<Void> f) {
    try {
      f.join();
      return "none";
    } catch (RuntimeException e) {
      return String.valueOf(e.getCause());
    }
  }

  /** Every batch comes back once, byte for byte. */
  private static void readsEveryByte(Connection c, String app) throws Exception {
    boolean[] seen = new boolean[PUSHES];
    long bytes = 0;
    try (ReadStream s = c.openRead(app, 0, 0, 1, 0, 1)) {
      for (Block b = s.take(); b != null; b = s.take()) {
        int batch = b.batch();
        assertTrue(batch >= 0 && batch < PUSHES, "unexpected batch " + batch);
        assertFalse(seen[batch], "batch " + batch + " read twice");
        seen[batch] = true;
        byte[] raw = BlockCodec.decode(b);
        assertArrayEquals(TestData.random(seed(batch), PUSH_BYTES), raw, "contents of batch " + batch);
        bytes += raw.length;
      }
    }
    for (int i = 0; i < PUSHES; i++) assertTrue(seen[i], "batch " + i + " was not read back");
    assertEquals((long) PUSHES * PUSH_BYTES, bytes);
  }
}
