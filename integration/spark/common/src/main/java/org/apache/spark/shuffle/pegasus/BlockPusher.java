package org.apache.spark.shuffle.pegasus;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import io.pegasus.client.Block;
import io.pegasus.client.BlockCodec;
import io.pegasus.client.ConnectionPool;
import io.pegasus.client.MapAttemptWriter;
import io.pegasus.client.PegasusException;
import io.pegasus.client.WireLimits;
import org.apache.spark.shuffle.ShuffleWriteMetricsReporter;

/**
 * Sends the sealed blocks of one map attempt to the servers that hold their partitions:
 * compresses and checksums each block, groups blocks per server into batches of about
 * {@code batchBytes}, and commits the attempt on every server it pushed to. Counts the
 * stored bytes per partition for the MapStatus. One instance belongs to one task thread.
 *
 * <p>Write time: every call that can block the task thread on a server (registering the
 * shuffle and opening a connection, a push that waits for room in the window, the commit that
 * waits for every acknowledgement) is timed and reported to Spark's write time as it returns,
 * so a running task shows it too. Compressing and checksumming are computation, not waiting,
 * and are not counted.
 */
final class BlockPusher implements PartitionBuffers.BlockSink, AutoCloseable {
  private final ConnectionPool pool;
  private final PegasusShuffleHandle<?, ?, ?> handle;
  private final int mapIndex;
  private final long attempt;
  private final PegasusConf conf;
  private final long[] partitionLengths;
  private final MapAttemptWriter[] writers;
  private final List<List<Block>> pending;
  private final long[] pendingBytes;
  private final ShuffleWriteMetricsReporter metrics;
  private long storedBytes;

  BlockPusher(ConnectionPool pool, PegasusShuffleHandle<?, ?, ?> handle, int mapIndex, long attempt, PegasusConf conf,
      ShuffleWriteMetricsReporter metrics) {
    this.pool = pool;
    this.metrics = metrics;
    this.handle = handle;
    this.mapIndex = mapIndex;
    this.attempt = attempt;
    this.conf = conf;
    this.partitionLengths = new long[handle.numPartitions];
    int n = handle.placement.serverCount();
    this.writers = new MapAttemptWriter[n];
    this.pending = new ArrayList<>(n);
    for (int i = 0; i < n; i++) pending.add(new ArrayList<>());
    this.pendingBytes = new long[n];
  }

  @Override
  public void accept(int partition, byte[] raw, int off, int len) throws IOException {
    Block b = BlockCodec.encode(partition, raw, off, len, conf.compress);
    int server = handle.placement.serverOf(partition);
    int maxBatchBytes;
    long start = System.nanoTime();
    try {
      // Both may talk to the server the first time (register, open the connection).
      maxBatchBytes = writer(server).maxBatchBytes();
    } finally {
      waited(start);
    }
    if (pendingBytes[server] + b.storedLength() > maxBatchBytes) flush(server);
    pending.get(server).add(b);
    pendingBytes[server] += b.storedLength();
    partitionLengths[partition] += b.storedLength();
    storedBytes += b.storedLength();
    if (pendingBytes[server] >= conf.writerBatchBytes || pending.get(server).size() >= WireLimits.BLOCKS_PER_MESSAGE_MAX) {
      flush(server);
    }
  }

  /** Sends what is pending, waits for every acknowledgement and commits on each server pushed to. */
  void commit() throws IOException {
    for (int s = 0; s < writers.length; s++) flush(s);
    long start = System.nanoTime();
    try {
      for (MapAttemptWriter w : writers) {
        if (w == null) continue;
        // A lost race (won == false: another attempt of this map committed first) is not an
        // error: the winner's output is what readers get, and it holds the same records.
        w.commit();
      }
    } finally {
      waited(start);
    }
  }

  long[] partitionLengths() {
    return partitionLengths;
  }

  /** Stored (compressed) bytes of every block handed to a push, i.e. what readers will receive. */
  long storedBytes() {
    return storedBytes;
  }

  private void waited(long startNanos) {
    metrics.incWriteTime(System.nanoTime() - startNanos);
  }

  private void flush(int server) throws PegasusException {
    List<Block> blocks = pending.get(server);
    if (blocks.isEmpty()) return;
    long start = System.nanoTime();
    try {
      writer(server).push(blocks);
    } finally {
      waited(start);
    }
    pending.set(server, new ArrayList<>());
    pendingBytes[server] = 0;
  }

  private MapAttemptWriter writer(int server) throws PegasusException {
    MapAttemptWriter w = writers[server];
    if (w == null) {
      String address = handle.placement.server(server);
      // Registering is idempotent and cheap. Doing it from every writer lets a shuffle that a
      // server lost (restart with a wiped disk, an operator's cleanup) come back when Spark
      // recomputes its map outputs.
      ServerCall.on(pool, address, c -> c.registerShuffle(handle.appId, handle.shuffleId(), handle.numMaps,
          handle.numPartitions));
      w = new MapAttemptWriter(pool, address, handle.appId, handle.shuffleId(), mapIndex, attempt, conf.clientOptions);
      writers[server] = w;
    }
    return w;
  }

  @Override
  public void close() {
    for (int s = 0; s < writers.length; s++) {
      if (writers[s] != null) writers[s].close();
      writers[s] = null;
    }
  }
}
