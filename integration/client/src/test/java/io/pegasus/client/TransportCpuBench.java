package io.pegasus.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * The client transport's CPU per GiB pushed and per GiB read, without LZ4, CRC32C or
 * record serialization: pre-built NONE blocks are pushed on one connection (push
 * window full, then CommitMap) and read back on one stream whose blocks are taken
 * and counted, not decoded. The figure is this JVM's process CPU time over the phase
 * (every thread: callers, the transport's threads, GC, JIT) divided by the GiB moved;
 * a warm-up round before the measured one is not counted. The server's CPU is not in it.
 *
 * <p>Not part of the normal run: {@code mvn -q -B -pl client test -Dtest=TransportCpuBench
 * -Dpegasus.bench=true -Dsurefire.failIfNoSpecifiedTests=false [-Dpegasus.bench.gib=1
 * -Dpegasus.bench.blockKiB=1024 -Dpegasus.bench.blocksPerPush=4]}.
 */
@EnabledIfSystemProperty(named = "pegasus.bench", matches = "true")
class TransportCpuBench {
  private static final int MiB = 1024 * 1024;
  private static final long GiB = 1024L * MiB;
  private static final int PARTITIONS = 64;
  private static final double WARMUP_GIB = 0.5;
  /** Read with {@link ReadStream#recycleTakenBlocks()}, as the Spark reader does; -Dpegasus.bench.recycle=false for the default mode. */
  private static final boolean RECYCLE = Boolean.parseBoolean(System.getProperty("pegasus.bench.recycle", "true"));

  @Test
  void cpuPerGiBPushedAndRead() throws Exception {
    double gib = Double.parseDouble(System.getProperty("pegasus.bench.gib", "1"));
    int blockBytes = Integer.getInteger("pegasus.bench.blockKiB", 1024) * 1024;
    int blocksPerPush = Integer.getInteger("pegasus.bench.blocksPerPush", 4);
    ClientOptions opts = ClientOptions.defaults().withReadCreditBytes(16 * MiB);
    List<Block> pool = new ArrayList<>();
    for (int i = 0; i < 16; i++) pool.add(BlockCodec.encode(0, TestData.random(i, blockBytes), false));

    try (TestServer server = TestServer.start("--memory-budget-bytes", Integer.toString(512 * MiB));
        Connection c = Connection.open(server.address(), opts)) {
      round(c, 0, WARMUP_GIB, pool, blocksPerPush);
      double[] r = round(c, 1, gib, pool, blocksPerPush);
      System.out.printf("transport bench: %.2f GiB of %d KiB NONE blocks, %d per push, one connection, %s%n", r[0],
          blockBytes / 1024, blocksPerPush, RECYCLE ? "read blocks recycled" : "read blocks kept");
      System.out.printf("  push (+ commit): %.3f CPU-s/GiB (%.3f in the kernel), %.1f MB/s%n", r[1], r[5], r[2]);
      System.out.printf("  read (no CRC):   %.3f CPU-s/GiB (%.3f in the kernel), %.1f MB/s%n", r[3], r[6], r[4]);
    }
  }

  /**
   * One push + read of {@code gib} as shuffle {@code shuffle}: {GiB, push CPU-s/GiB, push
   * MB/s, read CPU-s/GiB, read MB/s, push kernel CPU-s/GiB, read kernel CPU-s/GiB}.
   */
  private static double[] round(Connection c, int shuffle, double gib, List<Block> pool, int blocksPerPush) throws Exception {
    int blockBytes = pool.get(0).storedLength();
    int pushes = (int) Math.ceil(gib * GiB / ((double) blockBytes * blocksPerPush));
    long bytes = (long) pushes * blocksPerPush * blockBytes;
    c.registerShuffle("bench-transport", shuffle, 1, PARTITIONS);

    Map<String, Long> th0 = threads();
    Map<String, Long> vm0 = vmThreads();
    long cpu0 = processCpuNanos();
    long sys0 = kernelCpuNanos();
    long t0 = System.nanoTime();
    ArrayDeque<CompletableFuture<Void>> inFlight = new ArrayDeque<>();
    int k = 0;
    for (int batch = 0; batch < pushes; batch++) {
      List<Block> blocks = new ArrayList<>(blocksPerPush);
      for (int seq = 0; seq < blocksPerPush; seq++) {
        Block b = pool.get(k++ % pool.size());
        blocks.add(new Block(0, 0, (batch * blocksPerPush + seq) % PARTITIONS, batch, seq, b.rawLength(), b.crc32c(),
            b.codec(), b.stored()));
      }
      inFlight.add(c.push("bench-transport", shuffle, blocks));
      // Keep the futures bounded; push() itself blocks on the window.
      while (inFlight.size() > c.pushWindow() || (!inFlight.isEmpty() && inFlight.peek().isDone())) inFlight.poll().get();
    }
    assertTrue(c.commit("bench-transport", shuffle, 0, 0, pushes).won());
    for (CompletableFuture<Void> f : inFlight) f.get();
    long t1 = System.nanoTime();
    long cpu1 = processCpuNanos();
    long sys1 = kernelCpuNanos();
    Map<String, Long> th1 = threads();
    Map<String, Long> vm1 = vmThreads();
    diff("push", th0, th1, cpu1 - cpu0);
    vmDiff("push", vm0, vm1);

    long read = 0;
    try (ReadStream s = c.openRead("bench-transport", shuffle, 0, PARTITIONS, 0, 1)) {
      if (RECYCLE) s.recycleTakenBlocks(); // as RecordIterator: each block is done with before the next take
      for (Block b = s.take(); b != null; b = s.take()) read += b.storedLength();
    }
    long t2 = System.nanoTime();
    long cpu2 = processCpuNanos();
    long sys2 = kernelCpuNanos();
    diff("read", th1, threads(), cpu2 - cpu1);
    vmDiff("read", vm1, vmThreads());
    assertEquals(bytes, read);
    c.unregisterShuffle("bench-transport", shuffle);
    double g = bytes / (double) GiB;
    return new double[] {g, (cpu1 - cpu0) / 1e9 / g, bytes / 1e6 / ((t1 - t0) / 1e9), (cpu2 - cpu1) / 1e9 / g,
        bytes / 1e6 / ((t2 - t1) / 1e9), (sys1 - sys0) / 1e9 / g, (sys2 - sys1) / 1e9 / g};
  }

  /** This process's system time (stime in /proc/self/stat, 10 ms ticks); 0 where there is no /proc. */
  private static long kernelCpuNanos() {
    try {
      String stat = Files.readString(Path.of("/proc/self/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(f[12]) * 10_000_000L;
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  /** CPU time of every live Java thread, by name#id. */
  private static Map<String, Long> threads() {
    ThreadMXBean t = ManagementFactory.getThreadMXBean();
    Map<String, Long> m = new HashMap<>();
    for (long id : t.getAllThreadIds()) {
      ThreadInfo i = t.getThreadInfo(id);
      if (i != null) m.put(i.getThreadName() + "#" + id, t.getThreadCpuTime(id));
    }
    return m;
  }

  /** Prints the threads that used more than 10 ms in a phase, and the rest of the process (GC, JIT). */
  private static void diff(String what, Map<String, Long> a, Map<String, Long> b, long total) {
    long sum = 0;
    StringBuilder sb = new StringBuilder("  " + what + " threads:");
    for (Map.Entry<String, Long> e : b.entrySet()) {
      long d = e.getValue() - a.getOrDefault(e.getKey(), 0L);
      sum += d;
      if (d > 10_000_000) sb.append(" ").append(e.getKey()).append("=").append(d / 1_000_000).append("ms");
    }
    System.out.println(sb + " other(GC/JIT)=" + (total - sum) / 1_000_000 + "ms");
  }

  /**
   * CPU ticks (10 ms) of the JVM's own threads (GC, JIT compilers, VM thread), which
   * the thread MXBean does not list, by name without its number; empty without /proc.
   */
  private static Map<String, Long> vmThreads() {
    Map<String, Long> m = new HashMap<>();
    try (java.util.stream.Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
      for (Path t : (Iterable<Path>) tasks::iterator) {
        try {
          String name = Files.readString(t.resolve("comm")).trim().replaceAll("#?\\d+$", "").trim();
          if (!name.startsWith("GC") && !name.startsWith("G1") && !name.startsWith("C1") && !name.startsWith("C2")
              && !name.startsWith("VM")) {
            continue;
          }
          String stat = Files.readString(t.resolve("stat"));
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          m.merge(name, Long.parseLong(f[11]) + Long.parseLong(f[12]), Long::sum);
        } catch (IOException | RuntimeException e) {
          // the thread ended
        }
      }
    } catch (IOException | RuntimeException e) {
      // no /proc
    }
    return m;
  }

  /** Prints the VM threads (by name) that used 10 ms or more in a phase. */
  private static void vmDiff(String what, Map<String, Long> a, Map<String, Long> b) {
    StringBuilder sb = new StringBuilder("  " + what + " VM threads:");
    for (Map.Entry<String, Long> e : b.entrySet()) {
      long d = e.getValue() - a.getOrDefault(e.getKey(), 0L);
      if (d > 0) sb.append(" ").append(e.getKey()).append("=").append(d * 10).append("ms");
    }
    System.out.println(sb);
  }

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }
}
