package org.apache.spark.shuffle.pegasus;

import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Set;

import io.pegasus.client.Block;
import io.pegasus.client.BlockCodec;
import io.pegasus.client.Connection;
import io.pegasus.client.PegasusException;
import io.pegasus.client.ReadStream;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.serializer.SerializerInstance;
import org.apache.spark.shuffle.FetchFailedException;
import org.apache.spark.shuffle.ShuffleReadMetricsReporter;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.BlockManagerId;
import org.apache.spark.storage.ShuffleBlockId;
import pegasus.wire.ErrorCode;
import scala.Tuple2;
import scala.Tuple3;
import scala.collection.AbstractIterator;
import scala.collection.Iterator;
import scala.collection.Seq;

/**
 * The records of one reduce task's range, in arrival order: one read stream per server
 * holding partitions of the range, read one after another, each block checksummed and
 * decoded, each chunk deserialized with the dependency's serializer.
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
 * a FetchFailedException so that Spark recomputes the map outputs. Any server error does the
 * same.
 */
final class RecordIterator extends AbstractIterator<Tuple2<Object, Object>> {
  private final PegasusShuffleManager manager;
  private final PegasusShuffleHandle<?, ?, ?> handle;
  private final int startPartition;
  private final TaskContext context;
  private final ShuffleReadMetricsReporter metrics;
  private final SerializerInstance serializer;
  private final ChunkAssembler assembler = new ChunkAssembler();
  private final Set<Long> expected = new HashSet<>();
  private final Set<Long> seen = new HashSet<>();
  private final List<Connection> connections = new ArrayList<>();
  private final List<ReadStream> streams = new ArrayList<>();
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
        Connection c = manager.pool().borrow(handle.placement.server(s));
        connections.add(c);
        ReadStream rs = c.openRead(handle.appId, handle.shuffleId(), startPartition, partEnd, startMapIndex, mapEnd);
        rs.recycleTakenBlocks(); // nextChunk() decodes (copies) each block before it takes the next
        streams.add(rs);
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
    boolean finished = streamIndex >= streams.size() && done;
    for (ReadStream s : streams) s.close();
    for (Connection c : connections) {
      // A stream cancelled half way may still have frames on the wire: do not hand that
      // connection to another task.
      if (finished) manager.pool().release(c);
      else c.close();
    }
    streams.clear();
    connections.clear();
  }
}
