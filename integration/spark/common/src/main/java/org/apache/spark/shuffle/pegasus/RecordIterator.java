package org.apache.spark.shuffle.pegasus;

import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Set;

import io.pegasus.client.Block;
import io.pegasus.client.BlockCodec;
import io.pegasus.client.PegasusException;
import io.pegasus.client.ResumableRead;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.serializer.SerializerInstance;
import org.apache.spark.shuffle.FetchFailedException;
import org.apache.spark.shuffle.ShuffleReadMetricsReporter;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.BlockManagerId;
import org.apache.spark.storage.ShuffleBlockId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import pegasus.wire.ErrorCode;
import scala.Tuple2;
import scala.Tuple3;
import scala.collection.AbstractIterator;
import scala.collection.Iterator;
import scala.collection.Seq;

/**
 * The records of one reduce task's range, in arrival order: one read per server holding
 * partitions of the range, read one after another, each block checksummed and decoded,
 * each chunk deserialized with the dependency's serializer.
 *
 * <p>Failures: a read whose connection drops, times out or meets a restarting server is
 * opened again where it stopped ({@link ResumableRead}, within
 * {@code spark.pegasus.client.retries}), so a passing network or server hiccup costs the
 * task a few seconds, not a rerun of the map stage. What is still unreadable after that
 * fails the task with a FetchFailedException: the server or its data is gone, and Spark
 * must recompute the map outputs.
 *
 * <p>Metrics, all reported from the task thread into the task's {@link ShuffleReadMetricsReporter}
 * (Spark's TempShuffleReadMetrics, one per reader): records read, one per record handed out;
 * remote blocks fetched and remote bytes read, the stored (compressed) bytes of every block
 * taken from a stream, so that a fully read shuffle reads exactly the bytes its writers pushed;
 * fetch wait, the time the task thread was blocked opening streams and waiting for blocks,
 * summed in nanoseconds, reported in whole milliseconds as the sum passes each one and the
 * remainder rounded at the end (rounding each wait down on its own would lose most of it).
 * Local bytes stay 0: every block crosses the network. Spark copies a TempShuffleReadMetrics
 * into the task's totals only when {@code TaskMetrics.mergeShuffleReadMetrics()} runs, which
 * executors otherwise do only at each heartbeat; {@link #close()} merges, so the task's final
 * metrics hold everything read.
 *
 * <p>Exactly once: the servers send only each map's winning attempt. Completeness: Spark's
 * MapOutputTracker says which (map, partition) pairs have output; once the streams end, a
 * pair that had output and sent no block means the server lost it, and the task fails with
 * a FetchFailedException so that Spark recomputes the map outputs. A server error that
 * resuming cannot get past does the same.
 */
final class RecordIterator extends AbstractIterator<Tuple2<Object, Object>> {
  private static final Logger LOG = LoggerFactory.getLogger(RecordIterator.class);

  private final PegasusShuffleManager manager;
  private final PegasusShuffleHandle<?, ?, ?> handle;
  private final int startPartition;
  private final TaskContext context;
  private final ShuffleReadMetricsReporter metrics;
  private final SerializerInstance serializer;
  private final ChunkAssembler assembler = new ChunkAssembler();
  private final Set<Long> expected = new HashSet<>();
  private final Set<Long> seen = new HashSet<>();
  private final List<ResumableRead> streams = new ArrayList<>();
  private int streamIndex;
  private Iterator<Tuple2<Object, Object>> current;
  private boolean done;
  private boolean closed;
  /** Time the task thread was blocked on the servers, and the part of it already reported. */
  private long fetchWaitNanos;
  private long fetchWaitMsReported;

  RecordIterator(PegasusShuffleManager manager, PegasusShuffleHandle<?, ?, ?> handle, int startMapIndex,
      int endMapIndex, int startPartition, int endPartition, TaskContext context, ShuffleReadMetricsReporter metrics) {
    this.manager = manager;
    this.handle = handle;
    this.startPartition = startPartition;
    this.context = context;
    this.metrics = metrics;
    this.serializer = handle.dependency().serializer().newInstance();
    int mapEnd = Math.min(endMapIndex, handle.numMaps);
    int partEnd = Math.min(endPartition, handle.numPartitions);
    if (handle.numMaps == 0 || startMapIndex >= mapEnd || startPartition >= partEnd) {
      done = true;
      return;
    }
    collectExpected(startMapIndex, mapEnd, startPartition, partEnd);
    if (expected.isEmpty()) {
      // Spark knows every map wrote nothing here; no need to ask the servers.
      done = true;
      return;
    }
    boolean[] used = handle.placement.serversOf(startPartition, partEnd);
    long start = System.nanoTime();
    try {
      for (int s = 0; s < used.length; s++) {
        if (!used[s]) continue;
        // Recycling: nextChunk() decodes (copies) each block before it takes the next.
        streams.add(ResumableRead.open(manager.pool(), handle.placement.server(s), handle.appId, handle.shuffleId(),
            startPartition, partEnd, startMapIndex, mapEnd, true));
      }
    } catch (PegasusException e) {
      waited(start);
      close();
      throw SneakyThrow.sneaky(fetchFailed(-1, e.codeName() + ": " + e.getMessage(), e));
    }
    waited(start);
  }

  /** Adds the time since {@code startNanos} to the fetch wait; reports the whole milliseconds it completes. */
  private void waited(long startNanos) {
    fetchWaitNanos += System.nanoTime() - startNanos;
    reportFetchWait(fetchWaitNanos / 1_000_000L);
  }

  private void reportFetchWait(long totalMs) {
    if (totalMs > fetchWaitMsReported) {
      metrics.incFetchWaitTime(totalMs - fetchWaitMsReported);
      fetchWaitMsReported = totalMs;
    }
  }

  private void collectExpected(int mapStart, int mapEnd, int partStart, int partEnd) {
    // Throws MetadataFetchFailedException (a FetchFailedException) if an output is missing.
    Iterator<Tuple2<BlockManagerId, Seq<Tuple3<BlockId, Object, Object>>>> it = SparkEnv.get().mapOutputTracker()
        .getMapSizesByExecutorId(handle.shuffleId(), mapStart, mapEnd, partStart, partEnd);
    while (it.hasNext()) {
      Iterator<Tuple3<BlockId, Object, Object>> blocks = it.next()._2().iterator();
      while (blocks.hasNext()) {
        Tuple3<BlockId, Object, Object> b = blocks.next();
        long size = (Long) b._2();
        int mapIndex = (Integer) b._3();
        if (size > 0 && b._1() instanceof ShuffleBlockId sb) expected.add(pair(mapIndex, sb.reduceId()));
      }
    }
  }

  private static long pair(int mapIndex, int partition) {
    return ((long) mapIndex << 32) | (partition & 0xffffffffL);
  }

  @Override
  public boolean hasNext() {
    while (true) {
      if (current != null && current.hasNext()) return true;
      if (done) return false;
      current = null;
      ChunkAssembler.Chunk chunk = nextChunk();
      if (chunk == null) {
        done = true;
        close();
        return false;
      }
      current = serializer.deserializeStream(new ByteArrayInputStream(chunk.bytes(), chunk.offset(), chunk.length()))
          .asKeyValueIterator();
    }
  }

  @Override
  public Tuple2<Object, Object> next() {
    if (!hasNext()) throw new NoSuchElementException();
    metrics.incRecordsRead(1);
    return current.next();
  }

  private ChunkAssembler.Chunk nextChunk() {
    try {
      while (streamIndex < streams.size()) {
        long start = System.nanoTime();
        Block b;
        try {
          b = streams.get(streamIndex).take();
        } finally {
          waited(start);
        }
        if (b == null) {
          streamIndex++;
          continue;
        }
        metrics.incRemoteBlocksFetched(1);
        metrics.incRemoteBytesRead(b.storedLength());
        seen.add(pair(b.mapId(), b.partition()));
        ChunkAssembler.Chunk c = assembler.add(b.mapId(), b.partition(), BlockCodec.decode(b));
        if (c != null) return c;
      }
      assembler.finish();
    } catch (PegasusException e) {
      close();
      throw SneakyThrow.sneaky(fetchFailed(-1, e.codeName() + ": " + e.getMessage(), e));
    }
    for (long p : expected) {
      if (!seen.contains(p)) {
        int mapIndex = (int) (p >>> 32);
        int partition = (int) p;
        close();
        throw SneakyThrow.sneaky(fetchFailed(mapIndex, "map " + mapIndex + " partition " + partition
            + " has committed output but the server sent none of it (" + ErrorCode.name(ErrorCode.NOT_FOUND)
            + "): the server lost it", null));
      }
    }
    return null;
  }

  private FetchFailedException fetchFailed(int mapIndex, String message, Throwable cause) {
    return new FetchFailedException(PegasusShuffleManager.location(handle.shuffleId()), handle.shuffleId(), -1L,
        mapIndex, startPartition, "Pegasus shuffle " + handle.shuffleId() + " of " + handle.appId + ": " + message, cause);
  }

  /**
   * Ends the streams and publishes this reader's metrics into the task's totals. Called when
   * the records run out, on a fetch failure, and by the task completion listener (on the task
   * thread, before the executor collects the task's metrics), so also when a task stops early.
   */
  void close() {
    if (closed) return;
    closed = true;
    try {
      releaseStreams();
    } finally {
      // The last fraction of a millisecond, rounded to the nearest: the task's fetch wait is
      // then its total wait in ms, off by at most half a millisecond.
      reportFetchWait((fetchWaitNanos + 500_000L) / 1_000_000L);
      // Idempotent: Spark recomputes the totals from all of the task's reporters each time.
      context.taskMetrics().mergeShuffleReadMetrics();
    }
  }

  private void releaseStreams() {
    for (ResumableRead s : streams) {
      if (s.resumes() > 0) {
        LOG.warn("{} resumed {} times after failures, {} blocks received twice and passed over", s, s.resumes(),
            s.blocksSkipped());
      }
      // A read ended cleanly returns its connection to the pool; one stopped half way may
      // still have frames on the wire, so it closes it.
      s.close();
    }
    streams.clear();
  }
}
