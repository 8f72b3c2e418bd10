package io.pegasus.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import pegasus.wire.Codec;
import pegasus.wire.ErrorCode;

/** Push, commit and read against a real server. */
class RoundTripTest {
  private static TestServer server;
  private static ConnectionPool pool;
  private static final ClientOptions OPTS = ClientOptions.defaults().withRequestTimeoutMillis(20_000)
      .withRetryWaitMillis(50);

  @BeforeAll
  static void startServer() throws Exception {
    server = TestServer.start();
    pool = new ConnectionPool(OPTS);
  }

  @AfterAll
  static void stopServer() {
    if (pool != null) pool.close();
    if (server != null) server.close();
  }

  /** What map {@code map} of attempt {@code attempt} writes: per batch, blocks of several partitions, two codecs. */
  private static byte[] content(long attempt, int map, int partition, int batch) {
    long seed = TestData.seed(attempt, map, partition, batch);
    int len = 1000 + (int) (seed % 50_000);
    // Even partitions compress (LZ4), odd ones do not (stored as NONE).
    return partition % 2 == 0 ? TestData.text(seed, len) : TestData.random(seed, len);
  }

  private static void writeMap(String app, int shuffle, int map, long attempt, int partitions, int batches)
      throws PegasusException {
    try (MapAttemptWriter w = new MapAttemptWriter(pool, server.address(), app, shuffle, map, attempt, OPTS)) {
      for (int batch = 0; batch < batches; batch++) {
        List<Block> blocks = new ArrayList<>();
        for (int p = 0; p < partitions; p++) blocks.add(BlockCodec.encode(p, content(attempt, map, p, batch), true));
        w.push(blocks);
      }
      assertEquals(batches, w.batches());
      CommitResult r = w.commit();
      assertTrue(r.won());
      assertEquals(attempt, r.winnerAttempt());
      assertEquals(0, w.unackedBatches());
    }
  }

  private static List<Block> read(String app, int shuffle, int p0, int p1, int m0, int m1) throws PegasusException {
    Connection c = pool.borrow(server.address());
    try (ReadStream s = c.openRead(app, shuffle, p0, p1, m0, m1)) {
      return TestData.drain(s);
    } finally {
      pool.release(c);
    }
  }

  private static void checkBlock(Block b) throws PegasusException {
    byte[] raw = BlockCodec.decode(b);
    assertArrayEquals(content(b.attempt(), b.mapId(), b.partition(), b.batch()), raw, b.toString());
    assertEquals(b.partition() % 2 == 0 ? Codec.LZ4 : Codec.NONE, b.codec(), b.toString());
  }

  @Test
  void pushCommitReadWithBothCodecs() throws Exception {
    String app = "app-roundtrip";
    int maps = 4;
    int partitions = 3;
    int batches = 3;
    Connection c = pool.borrow(server.address());
    c.registerShuffle(app, 0, maps, partitions);
    pool.release(c);
    for (int m = 0; m < maps; m++) writeMap(app, 0, m, 100 + m, partitions, batches);

    List<Block> all = read(app, 0, 0, partitions, 0, maps);
    assertEquals(maps * partitions * batches, all.size());
    Set<String> seen = new HashSet<>();
    int lastPartition = 0;
    for (Block b : all) {
      checkBlock(b);
      assertTrue(b.partition() >= lastPartition, "partitions in order");
      lastPartition = b.partition();
      assertTrue(seen.add(b.mapId() + "/" + b.partition() + "/" + b.batch()), "each block once");
      assertEquals(100 + b.mapId(), b.attempt());
    }
    // Map and partition range filtering.
    List<Block> some = read(app, 0, 1, 3, 1, 3);
    assertEquals(2 * 2 * batches, some.size());
    for (Block b : some) {
      checkBlock(b);
      assertTrue(b.partition() >= 1 && b.partition() < 3, b.toString());
      assertTrue(b.mapId() >= 1 && b.mapId() < 3, b.toString());
    }
    List<Block> one = read(app, 0, 2, 3, 3, 4);
    assertEquals(batches, one.size());
    for (Block b : one) {
      assertEquals(2, b.partition());
      assertEquals(3, b.mapId());
    }
    assertEquals(0, read(app, 0, 1, 1, 0, maps).size());
    c = pool.borrow(server.address());
    c.unregisterApp(app);
    pool.release(c);
  }

  @Test
  void firstAttemptWinsAndTheLoserIsNeverRead() throws Exception {
    String app = "app-attempts";
    Connection c = pool.borrow(server.address());
    try {
      c.registerShuffle(app, 0, 1, 2);
      MapAttemptWriter loser = new MapAttemptWriter(pool, server.address(), app, 0, 0, 2, OPTS);
      loser.push(List.of(BlockCodec.encode(0, content(2, 0, 0, 0), true), BlockCodec.encode(1, content(2, 0, 1, 0), true)));
      writeMap(app, 0, 0, 1, 2, 2); // attempt 1 commits first
      CommitResult lost = loser.commit();
      assertFalse(lost.won());
      assertEquals(1, lost.winnerAttempt());
      loser.close();
      // Repeating the winning commit still wins.
      assertTrue(c.commit(app, 0, 0, 1, 2).won());

      List<Block> all = read(app, 0, 0, 2, 0, 1);
      assertEquals(4, all.size());
      for (Block b : all) {
        assertEquals(1, b.attempt());
        checkBlock(b);
      }
      c.unregisterApp(app);
    } finally {
      pool.release(c);
    }
  }

  @Test
  void retriedBatchIsStoredOnce() throws Exception {
    String app = "app-retry";
    Connection c = pool.borrow(server.address());
    try {
      c.registerShuffle(app, 0, 1, 2);
      List<Block> batch0 = List.of(BlockCodec.encode(0, content(5, 0, 0, 0), true).withIds(5, 0, 0, 0),
          BlockCodec.encode(1, content(5, 0, 1, 0), true).withIds(5, 0, 0, 1));
      List<Block> batch1 = List.of(BlockCodec.encode(1, content(5, 0, 1, 1), true).withIds(5, 0, 1, 0));
      c.push(app, 0, batch0).get();
      c.push(app, 0, batch0).get(); // a resend with the same numbers
      c.push(app, 0, batch1).get();
      c.push(app, 0, batch0).get();
      assertTrue(c.commit(app, 0, 0, 5, 2).won());
      List<Block> all = read(app, 0, 0, 2, 0, 1);
      assertEquals(3, all.size());
      Map<String, Integer> counts = new HashMap<>();
      for (Block b : all) {
        checkBlock(b);
        counts.merge(b.batch() + "/" + b.seq(), 1, Integer::sum);
      }
      assertEquals(Map.of("0/0", 1, "0/1", 1, "1/0", 1), counts);
      c.unregisterApp(app);
    } finally {
      pool.release(c);
    }
  }

  @Test
  void commitNamingUnpushedBatchesIsMissingBatches() throws Exception {
    String app = "app-missing";
    Connection c = pool.borrow(server.address());
    try {
      c.registerShuffle(app, 0, 1, 1);
      c.push(app, 0, List.of(BlockCodec.encode(0, content(1, 0, 0, 0), true).withIds(1, 0, 0, 0))).get();
      c.push(app, 0, List.of(BlockCodec.encode(0, content(1, 0, 0, 2), true).withIds(1, 0, 2, 0))).get();
      PegasusException e = assertThrows(PegasusException.class, () -> c.commit(app, 0, 0, 1, 3));
      assertEquals(ErrorCode.MISSING_BATCHES, e.code(), e.getMessage());
      assertTrue(c.isOpen());
      // Nothing is served for the uncommitted map.
      assertEquals(0, read(app, 0, 0, 1, 0, 1).size());
      c.unregisterApp(app);
    } finally {
      pool.release(c);
    }
  }

  /**
   * The writer sends CommitMap without waiting for the last pushes' acks; a push the
   * server refused must still fail the commit, with the push's own code (the commit
   * alone would say only MISSING_BATCHES).
   */
  @Test
  void writerCommitFailsWithTheCodeOfARefusedPush() throws Exception {
    String app = "app-refused";
    Connection c = pool.borrow(server.address());
    c.registerShuffle(app, 0, 1, 1);
    pool.release(c);
    try (MapAttemptWriter w = new MapAttemptWriter(pool, server.address(), app, 0, 0, 3, OPTS)) {
      w.push(List.of(BlockCodec.encode(0, content(3, 0, 0, 0), true)));
      Block good = BlockCodec.encode(0, content(3, 0, 0, 1), true);
      Block corrupt = new Block(0, 0, 0, 0, 0, good.rawLength(), good.crc32c() ^ 1, good.codec(), good.stored());
      w.push(List.of(corrupt));
      PegasusException e = assertThrows(PegasusException.class, w::commit);
      assertEquals(ErrorCode.CHECKSUM_MISMATCH, e.code(), e.toString());
      assertEquals(ErrorCode.CHECKSUM_MISMATCH, assertThrows(PegasusException.class, w::commit).code());
    }
    assertEquals(0, read(app, 0, 0, 1, 0, 1).size());
    c = pool.borrow(server.address());
    c.unregisterApp(app);
    pool.release(c);
  }

  @Test
  void writerResendsAfterItsConnectionDrops() throws Exception {
    String app = "app-resend";
    Connection c = pool.borrow(server.address());
    c.registerShuffle(app, 0, 1, 2);
    pool.release(c);
    try (MapAttemptWriter w = new MapAttemptWriter(pool, server.address(), app, 0, 0, 9, OPTS)) {
      for (int batch = 0; batch < 6; batch++) {
        w.push(List.of(BlockCodec.encode(0, content(9, 0, 0, batch), true), BlockCodec.encode(1, content(9, 0, 1, batch), true)));
        if (batch == 2 || batch == 4) {
          Connection used = w.connection();
          assertNotNull(used);
          used.close(); // the network drops: unacknowledged batches go again on a new connection
        }
      }
      CommitResult r = w.commit();
      assertTrue(r.won());
      assertTrue(w.reconnects() >= 2, "reconnects " + w.reconnects());
      assertEquals(6, w.batches());
    }
    List<Block> all = read(app, 0, 0, 2, 0, 1);
    assertEquals(12, all.size());
    Set<String> seen = new HashSet<>();
    for (Block b : all) {
      checkBlock(b);
      assertTrue(seen.add(b.partition() + "/" + b.batch()));
    }
    c = pool.borrow(server.address());
    c.unregisterApp(app);
    pool.release(c);
  }

  @Test
  void manySmallBlocksInOneBatch() throws Exception {
    String app = "app-small";
    Connection c = pool.borrow(server.address());
    c.registerShuffle(app, 0, 1, 50);
    pool.release(c);
    try (MapAttemptWriter w = new MapAttemptWriter(pool, server.address(), app, 0, 0, 0, OPTS)) {
      List<Block> blocks = new ArrayList<>();
      for (int i = 0; i < 2000; i++) {
        int p = i % 50;
        byte[] raw = i % 100 == 7 ? new byte[0] : TestData.text(i, 10 + i % 700);
        blocks.add(BlockCodec.encode(p, raw, true));
      }
      // Blocks of one partition, and partitions in any order, are allowed in one batch.
      assertTrue(w.fits(blocks.size(), 1_000_000));
      w.push(blocks);
      assertTrue(w.commit().won());
    }
    List<Block> all = read(app, 0, 0, 50, 0, 1);
    assertEquals(2000, all.size());
    for (Block b : all) {
      byte[] raw = BlockCodec.decode(b);
      int i = b.seq();
      assertEquals(i % 50, b.partition());
      assertArrayEquals(i % 100 == 7 ? new byte[0] : TestData.text(i, 10 + i % 700), raw);
    }
    c = pool.borrow(server.address());
    c.unregisterApp(app);
    pool.release(c);
  }

  @Test
  void readerGrantsCreditAsItConsumes() throws Exception {
    String app = "app-credit";
    ClientOptions small = OPTS.withReadCreditBytes(64 * 1024);
    Connection c = pool.borrow(server.address());
    try {
      c.registerShuffle(app, 0, 1, 1);
      for (int batch = 0; batch < 8; batch++) {
        List<Block> blocks = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
          blocks.add(BlockCodec.encode(0, TestData.random(batch * 8 + i, 100_000), false).withIds(0, 0, batch, i));
        }
        c.push(app, 0, blocks).get();
      }
      assertTrue(c.commit(app, 0, 0, 0, 8).won());
    } finally {
      pool.release(c);
    }
    try (Connection r = Connection.open(server.address(), small); ReadStream s = r.openRead(app, 0, 0, 1, 0, 1)) {
      int n = 0;
      long maxQueued = 0;
      for (Block b = s.take(); b != null; b = s.take()) {
        assertArrayEquals(TestData.random(b.batch() * 8 + b.seq(), 100_000), BlockCodec.decode(b));
        maxQueued = Math.max(maxQueued, s.queuedBytes());
        n++;
        Thread.sleep(1); // a slow consumer: the server must wait for credit
      }
      assertEquals(64, n);
      assertTrue(s.creditGrants() >= 10, "grants " + s.creditGrants());
      // Credit plus one frame (the server's read frames are 1 MiB).
      assertTrue(maxQueued <= 64 * 1024 + r.readFrameBytes() + 100_000, "queued " + maxQueued);
      r.unregisterApp(app);
    }
  }

  @Test
  void writerSplitsListsTooLargeForOneFrame() throws Exception {
    String app = "app-writer-split";
    Connection c = pool.borrow(server.address());
    c.registerShuffle(app, 0, 1, 2);
    pool.release(c);
    try (MapAttemptWriter w = new MapAttemptWriter(pool, server.address(), app, 0, 0, 3, OPTS)) {
      assertEquals(16 * 1024 * 1024 - 4 - 8 * 1024, w.maxBatchBytes());
      Block big = BlockCodec.encode(0, TestData.random(1, 8 * 1024 * 1024), false);
      assertFalse(w.fits(2, 2L * big.storedLength()));
      w.push(List.of(big, big, big)); // three 8 MiB blocks: one batch each
      assertEquals(3, w.batches());
      // 5000 blocks of 3350 bytes: within maxBatchBytes by stored bytes, but the headers
      // (40 bytes each) do not fit the envelope headroom, so the list becomes two batches.
      List<Block> small = new ArrayList<>();
      for (int i = 0; i < 5000; i++) small.add(BlockCodec.encode(1, TestData.random(10_000 + i, 3350), false));
      long stored = small.stream().mapToLong(Block::storedLength).sum();
      assertTrue(stored <= w.maxBatchBytes());
      assertFalse(w.fits(small.size(), stored));
      w.push(small);
      assertEquals(5, w.batches());
      // A block that can never fit a frame is refused; nothing is sent, the writer goes on.
      Block huge = new Block(0, 0, 0, 0, 0, 17 << 20, 0, (byte) Codec.NONE, java.nio.ByteBuffer.allocate(17 << 20));
      assertEquals(ErrorCode.MESSAGE_TOO_LARGE, assertThrows(PegasusException.class, () -> w.push(List.of(huge))).code());
      assertEquals(5, w.batches());
      assertTrue(w.commit().won());
      assertTrue(w.commit().won()); // the same answer again
      assertEquals(ErrorCode.INVALID_ARGUMENT,
          assertThrows(PegasusException.class, () -> w.push(List.of(big))).code());
    }
    List<Block> p0 = read(app, 0, 0, 1, 0, 1);
    assertEquals(3, p0.size());
    assertEquals(8 * 1024 * 1024, BlockCodec.decode(p0.get(0)).length);
    List<Block> p1 = read(app, 0, 1, 2, 0, 1);
    assertEquals(5000, p1.size());
    for (int i = 0; i < p1.size(); i++) {
      // Stored order of the partition is push order, across the split.
      assertArrayEquals(TestData.random(10_000 + i, 3350), BlockCodec.decode(p1.get(i)));
    }
    c = pool.borrow(server.address());
    c.unregisterApp(app);
    pool.release(c);
  }

  @Test
  void pushEnvelopeBoundHolds() {
    for (String app : new String[] {"a", "app-with-a-longer-name-" + "x".repeat(100)}) {
      for (int n : new int[] {0, 1, 2, 3, 7, 100, 4096, 65_536}) {
        List<Block> blocks = new ArrayList<>();
        Block b = BlockCodec.encode(0, new byte[0], false);
        for (int i = 0; i < n; i++) blocks.add(b);
        int envelope = Frames.pushBlocks(123456, app, 1, blocks).remaining() - 4;
        assertTrue(envelope <= Frames.pushEnvelopeBytes(app, n), n + " blocks: " + envelope);
      }
    }
  }
}
