package io.pegasus.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * A 1 GiB push + read round trip, the Java twin of scripts/bench.ts (pre-built 256 KiB
 * NONE blocks, 4 per push, 200 partitions, 512 MiB server budget). Not part of the
 * normal run: {@code mvn -pl client test -Dtest=ThroughputBench -Dpegasus.bench=true
 * [-Dpegasus.bench.gib=1 -Dpegasus.bench.writers=4 -Dpegasus.bench.readers=4
 * -Dpegasus.bench.blockKiB=256 -Dpegasus.bench.blocksPerPush=4]}.
 */
@EnabledIfSystemProperty(named = "pegasus.bench", matches = "true")
class ThroughputBench {
  private static final int MiB = 1024 * 1024;
  private static final int PARTITIONS = 200;

  @Test
  void oneGiBRoundTrip() throws Exception {
    double gib = Double.parseDouble(System.getProperty("pegasus.bench.gib", "1"));
    int writers = Integer.getInteger("pegasus.bench.writers", 4);
    int readers = Integer.getInteger("pegasus.bench.readers", 4);
    int blockBytes = Integer.getInteger("pegasus.bench.blockKiB", 256) * 1024;
    int blocksPerPush = Integer.getInteger("pegasus.bench.blocksPerPush", 4);
    long total = (long) (gib * 1024 * MiB);
    int pushesPerWriter = (int) Math.ceil(total / (double) writers / ((long) blockBytes * blocksPerPush));
    ClientOptions opts = ClientOptions.defaults().withReadCreditBytes(16 * MiB);

    List<Block> pool = new ArrayList<>();
    for (int i = 0; i < 32; i++) pool.add(BlockCodec.encode(0, TestData.random(i, blockBytes), false));

    try (TestServer server = TestServer.start("--memory-budget-bytes", Integer.toString(512 * MiB));
        ConnectionPool connections = new ConnectionPool(opts)) {
      Connection c = connections.borrow(server.address());
      c.registerShuffle("bench", 0, writers, PARTITIONS);
      connections.release(c);

      long t0 = System.nanoTime();
      long[] cpu0 = {jvmCpuMillis(), serverCpuMillis(server)};
      Thread[] ts = new Thread[writers];
      Exception[] errors = new Exception[writers];
      for (int w = 0; w < writers; w++) {
        int map = w;
        ts[w] = new Thread(() -> {
          try (MapAttemptWriter wr = new MapAttemptWriter(connections, server.address(), "bench", 0, map, 0, opts)) {
            int k = map * 7;
            for (int batch = 0; batch < pushesPerWriter; batch++) {
              List<Block> blocks = new ArrayList<>(blocksPerPush);
              for (int seq = 0; seq < blocksPerPush; seq++) {
                Block b = pool.get(k++ % pool.size());
                int p = (batch * blocksPerPush + seq + map * 13) % PARTITIONS;
                blocks.add(new Block(0, 0, p, 0, 0, b.rawLength(), b.crc32c(), b.codec(), b.stored()));
              }
              wr.push(blocks);
            }
            assertTrue(wr.commit().won());
          } catch (Exception e) {
            errors[map] = e;
          }
        });
        ts[w].start();
      }
      for (Thread t : ts) t.join();
      for (Exception e : errors) {
        if (e != null) throw e;
      }
      long t1 = System.nanoTime();
      long[] cpu1 = {jvmCpuMillis(), serverCpuMillis(server)};
      long pushed = (long) pushesPerWriter * writers * blocksPerPush * blockBytes;

      AtomicLong readBytes = new AtomicLong();
      int per = (PARTITIONS + readers - 1) / readers;
      Thread[] rs = new Thread[readers];
      Exception[] rerrors = new Exception[readers];
      for (int r = 0; r < readers; r++) {
        int i = r;
        rs[r] = new Thread(() -> {
          try {
            Connection rc = connections.borrow(server.address());
            try (ReadStream s = rc.openRead("bench", 0, Math.min(i * per, PARTITIONS), Math.min((i + 1) * per, PARTITIONS), 0,
                writers)) {
              for (Block b = s.take(); b != null; b = s.take()) readBytes.addAndGet(BlockCodec.decode(b).length);
            }
            connections.release(rc);
          } catch (Exception e) {
            rerrors[i] = e;
          }
        });
        rs[r].start();
      }
      for (Thread t : rs) t.join();
      for (Exception e : rerrors) {
        if (e != null) throw e;
      }
      long t2 = System.nanoTime();
      long[] cpu2 = {jvmCpuMillis(), serverCpuMillis(server)};
      assertEquals(pushed, readBytes.get());
      System.out.printf("java bench: %.2f GiB, %d writers (%d KiB blocks x %d per push), %d readers%n", pushed / (double) (1024 * MiB),
          writers, blockBytes / 1024, blocksPerPush, readers);
      System.out.printf("  ingest (push + commit): %.1f MB/s (%d ms)%n", pushed / 1e6 / ((t1 - t0) / 1e9), (t1 - t0) / 1_000_000);
      System.out.printf("  read (CRC checked):     %.1f MB/s (%d ms)%n", pushed / 1e6 / ((t2 - t1) / 1e9), (t2 - t1) / 1_000_000);
      System.out.printf("  CPU ms ingest: client %d, server %d; read: client %d, server %d%n", cpu1[0] - cpu0[0],
          cpu1[1] - cpu0[1], cpu2[0] - cpu1[0], cpu2[1] - cpu1[1]);
      System.out.printf("  round trip:             %.1f MB/s (%d ms)%n", pushed / 1e6 / ((t2 - t0) / 1e9), (t2 - t0) / 1_000_000);
    }
  }

  private static long jvmCpuMillis() {
    java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    return ((com.sun.management.OperatingSystemMXBean) os).getProcessCpuTime() / 1_000_000;
  }

  private static long serverCpuMillis(TestServer s) throws java.io.IOException {
    String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + s.pid() + "/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10; // utime + stime in 10 ms ticks
  }
}
