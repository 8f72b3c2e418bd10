package io.pegasus.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * 200 MiB through a server whose memory budget (64 MiB, the smallest it accepts) is far
 * smaller: the server delays acks while it flushes, the writer waits, nothing is lost.
 */
class FlowControlTest {
  private static final int MiB = 1024 * 1024;

  @Test
  void pushMoreThanTheServerBudgetAndReadItBack() throws Exception {
    int partitions = 4;
    int blocks = 200;
    ClientOptions opts = ClientOptions.defaults().withRequestTimeoutMillis(60_000);
    try (TestServer server = TestServer.start("--memory-budget-bytes", Integer.toString(64 * MiB));
        ConnectionPool pool = new ConnectionPool(opts)) {
      Connection c = pool.borrow(server.address());
      c.registerShuffle("app-flow", 0, 1, partitions);
      pool.release(c);

      MetricsSampler sampler = new MetricsSampler(server.address());
      sampler.start();
      long t0 = System.nanoTime();
      try (MapAttemptWriter w = new MapAttemptWriter(pool, server.address(), "app-flow", 0, 0, 0, opts)) {
        List<Block> batch = new ArrayList<>();
        long batchBytes = 0;
        for (int i = 0; i < blocks; i++) {
          int p = i % partitions;
          Block b = BlockCodec.encode(p, TestData.random(i, MiB), false);
          if (!batch.isEmpty() && !w.fits(batch.size() + 1, batchBytes + b.storedLength())) {
            w.push(batch);
            batch = new ArrayList<>();
            batchBytes = 0;
          }
          batch.add(b);
          batchBytes += b.storedLength();
        }
        if (!batch.isEmpty()) w.push(batch);
        assertTrue(w.commit().won());
        assertEquals((long) blocks * MiB, w.bytesPushed());
      }
      long t1 = System.nanoTime();
      sampler.stop();

      c = pool.borrow(server.address());
      int n = 0;
      int[] perPartition = new int[partitions];
      try (ReadStream s = c.openRead("app-flow", 0, 0, partitions, 0, 1)) {
        for (Block b = s.take(); b != null; b = s.take()) {
          byte[] raw = BlockCodec.decode(b);
          // The writer numbered blocks batch by batch; recover the block index from the content.
          assertEquals(MiB, raw.length);
          perPartition[b.partition()]++;
          n++;
          assertTrue(s.queuedBytes() <= opts.readCreditBytes() + c.frameBytesMax());
        }
      }
      pool.release(c);
      long t2 = System.nanoTime();
      assertEquals(blocks, n);
      for (int p = 0; p < partitions; p++) assertEquals(blocks / partitions, perPartition[p]);
      System.out.printf("flow control: pushed 200 MiB in %d ms (%.0f MB/s), read back in %d ms (%.0f MB/s); "
          + "server memory used at most %.1f MiB, pushes waiting for budget at most %.1f MiB (%d samples)%n",
          (t1 - t0) / 1_000_000, blocks * (double) MiB / ((t1 - t0) / 1e9) / 1e6,
          (t2 - t1) / 1_000_000, blocks * (double) MiB / ((t2 - t1) / 1e9) / 1e6,
          sampler.maxUsed / (double) MiB, sampler.maxWaiting / (double) MiB, sampler.samples);
      // The budget held: buffered blocks never exceeded it (plus one frame per connection in flight).
      assertTrue(sampler.maxUsed <= 64L * MiB + 16L * MiB, "used " + sampler.maxUsed);
    }
  }

  /** Contents are checked exactly: each block is the random bytes of its index. */
  @Test
  void contentsSurviveFlowControl() throws Exception {
    int blocks = 48;
    ClientOptions opts = ClientOptions.defaults().withRequestTimeoutMillis(60_000).withReadCreditBytes(2 * MiB);
    try (TestServer server = TestServer.start("--memory-budget-bytes", Integer.toString(64 * MiB), "--push-window", "2");
        Connection c = Connection.open(server.address(), opts)) {
      assertEquals(2, c.pushWindow());
      c.registerShuffle("app-flow2", 0, 1, 1);
      for (int i = 0; i < blocks; i++) {
        c.push("app-flow2", 0, List.of(BlockCodec.encode(0, TestData.random(1000 + i, 4 * MiB), false).withIds(0, 0, i, 0)));
      }
      assertTrue(c.commit("app-flow2", 0, 0, 0, blocks).won());
      try (ReadStream s = c.openRead("app-flow2", 0, 0, 1, 0, 1)) {
        int n = 0;
        for (Block b = s.take(); b != null; b = s.take()) {
          assertArrayEquals(TestData.random(1000 + b.batch(), 4 * MiB), BlockCodec.decode(b));
          n++;
        }
        assertEquals(blocks, n);
      }
    }
  }

  /** Polls the server's /metrics for its memory gauges while a test runs. */
  static final class MetricsSampler {
    private final java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
    private final java.net.URI uri;
    private volatile boolean running = true;
    private Thread thread;
    volatile long maxUsed;
    volatile long maxWaiting;
    volatile int samples;

    MetricsSampler(String address) {
      uri = java.net.URI.create("http://" + address + "/metrics");
    }

    void start() {
      thread = new Thread(() -> {
        while (running) {
          try {
            String text = http.send(java.net.http.HttpRequest.newBuilder(uri).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
            maxUsed = Math.max(maxUsed, gauge(text, "pegasus_memory_used_bytes"));
            maxWaiting = Math.max(maxWaiting, gauge(text, "pegasus_memory_waiting_bytes"));
            samples++;
            Thread.sleep(5);
          } catch (InterruptedException e) {
            return;
          } catch (Exception e) {
            // server busy or gone; try again
          }
        }
      }, "metrics-sampler");
      thread.setDaemon(true);
      thread.start();
    }

    void stop() throws InterruptedException {
      running = false;
      thread.join(5_000);
    }

    private static long gauge(String text, String name) {
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^" + name + " (\\S+)").matcher(text);
      return m.find() ? (long) Double.parseDouble(m.group(1)) : 0;
    }
  }
}
