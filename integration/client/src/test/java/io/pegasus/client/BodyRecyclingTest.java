package io.pegasus.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The ownership of recycled ReadData bodies ({@link BodyPool}, {@link BodyLease},
 * {@link ReadStream#recycleTakenBlocks()}): an array is reused only after every block
 * of it was released, a block handed out by a recycling stream stays intact until the
 * next take(), and blocks handed out by a default stream are never overwritten.
 */
class BodyRecyclingTest {
  private static final int KiB = 1024;
  private static final int MiB = 1024 * KiB;

  @Test
  void leaseGivesTheArrayBackOnlyAfterEveryBlockWasReleased() {
    BodyPool pool = new BodyPool(8 * MiB);
    byte[] body = pool.take(3 * MiB, 8 * MiB);
    assertEquals(3 * MiB, body.length);
    BodyLease lease = new BodyLease(pool, body, 3);
    lease.release();
    lease.release();
    assertEquals(0, pool.spareCount(), "two of three blocks released: the third may still be read");
    lease.release();
    assertEquals(1, pool.spareCount());
    assertSame(body, pool.take(3 * MiB - 5, 8 * MiB), "a kept array large enough is reused");
    assertEquals(0, pool.spareCount(), "an array is handed out to one lease at a time");
    assertThrows(IllegalStateException.class, lease::release, "a fourth release would free bytes in use");
  }

  @Test
  void poolIsBoundedAndFollowsTheFrameSize() {
    BodyPool pool = new BodyPool(2 * MiB);
    byte[] a = pool.take(MiB, 4 * MiB);
    byte[] b = pool.take(MiB, 4 * MiB);
    byte[] c = pool.take(MiB, 4 * MiB);
    pool.give(a);
    pool.give(b);
    pool.give(c); // over the bound: dropped
    assertEquals(2, pool.spareCount());
    assertEquals(2 * MiB, pool.spareBytes());
    byte[] big = pool.take(MiB + 1, 4 * MiB); // none fits: the smallest is dropped, a new one rounded up
    assertEquals(MiB + BodyPool.ROUND_BYTES, big.length);
    assertEquals(1, pool.spareCount());
    assertEquals(4 * MiB, pool.take(4 * MiB - 3, 4 * MiB).length, "never rounded past the frame limit");
  }

  @Test
  void recycledBlocksStayIntactUntilTheNextTakeAndKeptBlocksForever() throws Exception {
    int blockBytes = 256 * KiB;
    int blocks = 96;
    ClientOptions opts = ClientOptions.defaults().withReadCreditBytes(2 * MiB);
    try (TestServer server = TestServer.start(); Connection c = Connection.open(server.address(), opts)) {
      c.registerShuffle("recycle", 0, 1, 4);
      for (int batch = 0; batch < blocks / 4; batch++) {
        List<Block> push = new ArrayList<>();
        for (int seq = 0; seq < 4; seq++) {
          Block e = BlockCodec.encode(0, TestData.random(batch * 4L + seq, blockBytes), false);
          push.add(new Block(0, 0, seq, batch, seq, e.rawLength(), e.crc32c(), e.codec(), e.stored()));
        }
        c.push("recycle", 0, push).get();
      }
      assertTrue(c.commit("recycle", 0, 0, 0, blocks / 4).won());

      // Default mode: every block is held to the end; none may be overwritten by later reads.
      List<Block> kept = new ArrayList<>();
      try (ReadStream s = c.openRead("recycle", 0, 0, 4, 0, 1)) {
        for (Block b = s.take(); b != null; b = s.take()) kept.add(b);
      }
      assertEquals(blocks, kept.size());
      assertEquals(0, c.spareBodyBytes(), "blocks handed out by a default stream are never released");

      for (int round = 0; round < 2; round++) {
        try (ReadStream s = c.openRead("recycle", 0, 0, 4, 0, 1)) {
          s.recycleTakenBlocks();
          int n = 0;
          for (Block b = s.take(); b != null; b = s.take()) {
            n++;
            // Let the reader thread receive more frames (into reused arrays) before the block is checked.
            long received = s.blocksReceived();
            long until = System.nanoTime() + 20_000_000L; // not longer: the server may be waiting for credit
            while (s.blocksReceived() == received && s.blocksReceived() < blocks && System.nanoTime() < until) {
              Thread.sleep(1);
            }
            assertEquals(b.crc32c(), BlockCodec.crc32c(b.stored()), "block " + n + " changed before the next take()");
          }
          assertEquals(blocks, n);
        }
        assertTrue(c.spareBodyBytes() > 0, "a recycling stream gives its bodies back");
      }
      for (Block b : kept) {
        assertEquals(b.crc32c(), BlockCodec.crc32c(b.stored()), "a block of the default stream was overwritten");
      }
    }
  }

  @Test
  void eachBlockReleaseCountsOnceTowardsItsLease() {
    BodyPool pool = new BodyPool(8 * MiB);
    byte[] body = pool.take(MiB, 8 * MiB);
    BodyLease lease = new BodyLease(pool, body, 2);
    Block a = new Block(0, 0, 0, 0, 0, 4, 0, (byte) 0, ByteBuffer.wrap(body, 0, 4), lease);
    Block b = new Block(0, 0, 0, 0, 1, 4, 0, (byte) 0, ByteBuffer.wrap(body, 4, 4), lease);
    b.release();
    assertEquals(1, lease.unreleased());
    assertEquals(0, pool.spareCount(), "block a may still be read");
    a.release();
    assertSame(body, pool.take(MiB, 8 * MiB));
    new Block(0, 0, 0, 0, 0, 4, 0, (byte) 0, ByteBuffer.allocate(4)).release(); // not leased: a no-op
  }
}
