package io.pegasus.client;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * How long a reduce task waits for its partition, in the layout of the Spark bench's large
 * jobs: 16 maps x 400 partitions x 320 KiB (about 2 GiB, each map committed on its own, so a
 * partition is 16 runs far apart), then partitions read one at a time on one connection,
 * as consecutive reduce tasks of one executor do: the time to the first block (what Spark
 * reports as fetch wait at a task's start) and to the whole 5 MiB partition, median and
 * p90, in two rounds (the first warms the JIT). Not part of the normal run:
 * {@code mvn -q -B -pl client test -Dtest=ReadLatencyBench -Dpegasus.bench=true
 * -Dsurefire.failIfNoSpecifiedTests=false [-Dpegasus.bench.partitions=200]}.
 */
@EnabledIfSystemProperty(named = "pegasus.bench", matches = "true")
class ReadLatencyBench {
  @Test
  void firstBlockAndWholePartition() throws Exception {
    int partitions = 400;
    int maps = 16;
    int blockBytes = 320 * 1024;
    int parts = Integer.getInteger("pegasus.bench.partitions", 200);
    List<Block> pool = new ArrayList<>();
    for (int i = 0; i < 4; i++) pool.add(BlockCodec.encode(0, TestData.random(i, blockBytes), false));
    try (TestServer server = TestServer.start("--memory-budget-bytes", Integer.toString(512 << 20));
        Connection c = Connection.open(server.address(), ClientOptions.defaults())) {
      c.registerShuffle("bench-read-latency", 0, maps, partitions);
      for (int m = 0; m < maps; m++) {
        int batch = 0;
        for (int p0 = 0; p0 < partitions; p0 += 8) {
          List<Block> blocks = new ArrayList<>();
          for (int p = p0; p < Math.min(partitions, p0 + 8); p++) {
            Block b = pool.get(p % pool.size());
            blocks.add(new Block(0, m, p, batch, blocks.size(), b.rawLength(), b.crc32c(), b.codec(), b.stored()));
          }
          c.push("bench-read-latency", 0, blocks);
          batch++;
        }
        c.commit("bench-read-latency", 0, m, 0, batch);
      }
      for (int round = 0; round < 2; round++) {
        long[] first = new long[parts];
        long[] total = new long[parts];
        for (int p = 0; p < parts; p++) {
          long t0 = System.nanoTime();
          try (ReadStream s = c.openRead("bench-read-latency", 0, p, p + 1, 0, maps)) {
            Block b = s.take();
            first[p] = System.nanoTime() - t0;
            for (; b != null; b = s.take()) {}
          }
          total[p] = System.nanoTime() - t0;
        }
        Arrays.sort(first);
        Arrays.sort(total);
        System.out.printf("read latency round %d: first block median %.2f ms p90 %.2f; whole partition (5 MiB) median %.2f ms p90 %.2f%n",
            round, first[parts / 2] / 1e6, first[parts * 9 / 10] / 1e6, total[parts / 2] / 1e6, total[parts * 9 / 10] / 1e6);
      }
    }
  }
}
