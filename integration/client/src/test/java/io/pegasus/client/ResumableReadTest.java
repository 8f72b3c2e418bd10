package io.pegasus.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import pegasus.wire.ErrorCode;

/**
 * {@link ResumableRead} against real servers whose connections are cut (the server's
 * fault seam, PEGASUS_FAULT_READ_CUTS) or which are killed and restarted mid-read: the
 * blocks handed out are exactly those written, in the order an undisturbed read gives.
 */
class ResumableReadTest {
  private static final int KiB = 1024;
  private static final int MAPS = 3;
  private static final int PARTITIONS = 4;
  private static final int BATCHES = 6;
  private static final int BLOCK_BYTES = 48 * KiB;

  /** Small credit: the server sends little ahead, so a cut or a kill falls in the middle of a partition. */
  private static final ClientOptions OPTS = ClientOptions.defaults().withReadCreditBytes(WireLimits.READ_CREDIT_BYTES_MIN)
      .withRequestTimeoutMillis(20_000).withConnectTimeoutMillis(5_000).withRetryWaitMillis(20);

  private static List<String> writeCommitted(Connection c, String app) throws Exception {
    return writeCommitted(c, app, MAPS, PARTITIONS, BATCHES);
  }

  /**
   * Each map pushes {@code batches} batches with one block per partition, then commits.
   * Returns the ids of the blocks in the order a read of everything gives them: by
   * partition, then as stored (the maps wrote one after another).
   */
  private static List<String> writeCommitted(Connection c, String app, int maps, int partitions, int batches)
      throws Exception {
    c.registerShuffle(app, 0, maps, partitions);
    List<List<String>> byPartition = new ArrayList<>();
    for (int p = 0; p < partitions; p++) byPartition.add(new ArrayList<>());
    for (int map = 0; map < maps; map++) {
      for (int batch = 0; batch < batches; batch++) {
        List<Block> push = new ArrayList<>();
        for (int p = 0; p < partitions; p++) {
          byte[] data = TestData.random(TestData.seed(0, map, p, batch), BLOCK_BYTES);
          Block b = BlockCodec.encode(p, data, false).withIds(0, map, batch, p);
          push.add(b);
          byPartition.get(p).add(id(b));
        }
        c.push(app, 0, push).get();
      }
      assertTrue(c.commit(app, 0, map, 0, batches).won());
    }
    List<String> all = new ArrayList<>();
    byPartition.forEach(all::addAll);
    return all;
  }

  private static String id(Block b) {
    return b.partition() + "/" + b.mapId() + "/" + b.attempt() + "/" + b.batch() + "/" + b.seq() + "/" + b.crc32c();
  }

  /** What an undisturbed read hands out. */
  private static List<String> plainRead(Connection c, String app) throws PegasusException {
    List<String> ids = new ArrayList<>();
    try (ReadStream s = c.openRead(app, 0, 0, PARTITIONS, 0, MAPS)) {
      for (Block b = s.take(); b != null; b = s.take()) ids.add(id(b));
    }
    return ids;
  }

  /** Takes every block, checking each one's bytes before the next take (the blocks are recycled). */
  private static List<String> drain(ResumableRead r, List<String> into) throws PegasusException {
    for (Block b = r.take(); b != null; b = r.take()) {
      assertEquals(b.crc32c(), BlockCodec.crc32c(b.stored()), "block " + id(b) + " damaged");
      into.add(id(b));
    }
    return into;
  }

  @Test
  void cutReadsAreResumedWhereTheyStopped() throws Exception {
    // The first read of each range is cut before its second frame.
    try (TestServer server = TestServer.start(Map.of("PEGASUS_FAULT_READ_CUTS", "1"));
        ConnectionPool pool = new ConnectionPool(OPTS)) {
      Connection c = pool.borrow(server.address());
      List<String> expected = writeCommitted(c, "cut");
      pool.release(c);
      try (ResumableRead r = ResumableRead.open(pool, server.address(), "cut", 0, 0, PARTITIONS, 0, MAPS, true)) {
        List<String> got = drain(r, new ArrayList<>());
        assertEquals(expected, got);
        // Resumed at least once; more if it resumed at a later partition (a new range, cut once too).
        assertTrue(r.resumes() >= 1, r.toString());
        assertTrue(r.blocksSkipped() > 0, "the resume passed over blocks already taken of the partition");
        assertTrue(r.ended());
      }
      Connection c2 = pool.borrow(server.address());
      assertEquals(expected, plainRead(c2, "cut"), "the second read of the range is not cut");
      pool.release(c2);
    }
  }

  @Test
  void readGivesUpWhenEveryResumeIsCutToo() throws Exception {
    ClientOptions opts = OPTS.withRetries(2);
    try (TestServer server = TestServer.start(Map.of("PEGASUS_FAULT_READ_CUTS", "1000"));
        ConnectionPool pool = new ConnectionPool(opts)) {
      Connection c = pool.borrow(server.address());
      // One partition of 60 blocks (about 3 frames): every read is cut before its second
      // frame, so once the blocks of the first frame were taken, each resume gets only
      // blocks already taken and makes no progress.
      writeCommitted(c, "cut-all", 1, 1, 60);
      pool.release(c);
      try (ResumableRead r = ResumableRead.open(pool, server.address(), "cut-all", 0, 0, 1, 0, 1, true)) {
        PegasusException e = assertThrows(PegasusException.class, () -> drain(r, new ArrayList<>()));
        assertEquals(ErrorCode.CONNECTION_CLOSED, e.code());
        assertTrue(e.getMessage().matches("(?s).*gave up after \\d+ resumes.*"), e.getMessage());
        assertThrows(PegasusException.class, r::take, "a read that gave up stays failed");
      }
    }
  }

  @Test
  void readResumesAcrossAServerKilledAndRestarted() throws Exception {
    TestServer server = TestServer.start();
    try (ConnectionPool pool = new ConnectionPool(OPTS)) {
      Connection c = pool.borrow(server.address());
      List<String> expected = writeCommitted(c, "restart");
      assertEquals(expected, plainRead(c, "restart"));
      pool.release(c);
      List<String> got = new ArrayList<>();
      try (ResumableRead r = ResumableRead.open(pool, server.address(), "restart", 0, 0, PARTITIONS, 0, MAPS, true)) {
        for (int i = 0; i < 5; i++) got.add(id(r.take()));
        server.kill();
        server = server.restart();
        drain(r, got);
        assertEquals(expected, got);
        assertTrue(r.resumes() >= 1);
        assertNull(r.take(), "the end stays the end");
      }
    } finally {
      server.close();
    }
  }

  /**
   * A peer that serves other blocks on the resume than it did before the cut (a store that
   * changed underneath, which a real server never does): the read fails with CORRUPT_DATA
   * instead of handing out blocks twice or skipping some.
   */
  @Test
  void aResumeThatMeetsOtherBlocksFailsTheRead() throws Exception {
    java.util.function.IntFunction<Block> block = (i) ->
        BlockCodec.encode(0, TestData.random(i, 1024), false).withIds(0, 0, 0, i);
    java.util.concurrent.CountDownLatch took = new java.util.concurrent.CountDownLatch(1);
    try (ScriptedPeer peer = new ScriptedPeer(); ConnectionPool pool = new ConnectionPool(OPTS.withRetries(2))) {
      java.util.concurrent.CompletableFuture<Void> script = java.util.concurrent.CompletableFuture.runAsync(() -> {
        try {
          peer.acceptSession(1 << 20);
          int first = peer.readUntilMessage(pegasus.wire.Message.OpenRead);
          peer.writeMessage(ScriptedPeer.readData(first, List.of(block.apply(0), block.apply(1))));
          took.await();
          peer.kill();
          peer.acceptSession(1 << 20);
          int again = peer.readUntilMessage(pegasus.wire.Message.OpenRead);
          // Seq 1 first, then 0: the same blocks in another order, then one more.
          peer.writeMessage(ScriptedPeer.readData(again, List.of(block.apply(1), block.apply(0), block.apply(2))));
        } catch (Exception e) {
          throw new java.util.concurrent.CompletionException(e);
        }
      });
      try (ResumableRead r = ResumableRead.open(pool, peer.address(), "changed", 0, 0, 1, 0, 1, false)) {
        assertEquals(0, r.take().seq());
        assertEquals(1, r.take().seq());
        took.countDown();
        PegasusException e = assertThrows(PegasusException.class, r::take);
        assertEquals(ErrorCode.CORRUPT_DATA, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("changed between two reads"), e.getMessage());
        assertEquals(1, r.resumes());
      }
      script.get(30, java.util.concurrent.TimeUnit.SECONDS);
    }
  }

  @Test
  void aClosedPoolEndsTheReadAtOnce() throws Exception {
    try (TestServer server = TestServer.start()) {
      ConnectionPool pool = new ConnectionPool(OPTS.withRetryWaitMillis(WireLimits.RETRY_WAIT_MILLIS_MAX));
      pool.close();
      PegasusException e = assertThrows(PegasusException.class,
          () -> ResumableRead.open(pool, server.address(), "any", 0, 0, 1, 0, 1, false));
      assertEquals(ErrorCode.CONNECTION_CLOSED, e.code());
      assertTrue(!e.getMessage().contains("gave up"), "no resume once the pool is closed: " + e.getMessage());
    }
  }

  @Test
  void otherErrorsAreNotRetried() throws Exception {
    try (TestServer server = TestServer.start(); ConnectionPool pool = new ConnectionPool(OPTS)) {
      PegasusException e = assertThrows(PegasusException.class,
          () -> ResumableRead.open(pool, server.address(), "never-registered", 0, 0, 1, 0, 1, false).take());
      assertEquals(ErrorCode.UNKNOWN_APP, e.code(), e.getMessage());
      assertTrue(!e.getMessage().contains("gave up"), "not a transient failure: no resume");
    }
  }
}
