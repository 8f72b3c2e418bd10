package org.apache.spark.shuffle.pegasus;

import java.io.IOException;

import org.apache.spark.Partitioner;
import org.apache.spark.ShuffleDependency;
import org.apache.spark.TaskContext;
import org.apache.spark.scheduler.MapStatus;
import org.apache.spark.shuffle.ShuffleWriteMetricsReporter;
import org.apache.spark.shuffle.ShuffleWriter;
import org.apache.spark.util.collection.ExternalSorter;
import scala.Option;
import scala.Product2;
import scala.Tuple2;
import scala.collection.Iterator;

/**
 * Map side: serializes the task's records into per-partition buffers, pushes sealed blocks
 * to the servers as it goes, and commits the attempt once all records are out. With
 * map-side combine, records first go through Spark's ExternalSorter (which aggregates and
 * spills to local disk under memory pressure) and come out grouped by partition.
 *
 * <p>The MapStatus reports, per partition, the stored (compressed) bytes pushed, which AQE
 * uses to coalesce small partitions and split skewed ones. Its location is a per-shuffle
 * pseudo executor (see {@link PegasusShuffleManager#location}): a fetch failure then makes
 * Spark recompute every map output of that shuffle, which is what a lost server shuffle needs.
 */
final class PegasusShuffleWriter<K, V, C> extends ShuffleWriter<K, V> {
  private final PegasusShuffleHandle<K, V, C> handle;
  private final ShuffleDependency<K, V, C> dep;
  private final TaskContext context;
  private final ShuffleWriteMetricsReporter metrics;
  private final long mapTaskId;
  private final BlockPusher pusher;
  private final PartitionBuffers buffers;
  private ExternalSorter<K, V, C> sorter;
  private MapStatus status;
  private boolean stopping;

  PegasusShuffleWriter(PegasusShuffleManager manager, PegasusShuffleHandle<K, V, C> handle, long mapTaskId,
      TaskContext context, ShuffleWriteMetricsReporter metrics) {
    this.handle = handle;
    this.dep = handle.dependency();
    this.context = context;
    this.metrics = metrics;
    this.mapTaskId = mapTaskId;
    PegasusConf conf = manager.conf();
    this.pusher = new BlockPusher(manager.pool(), handle, context.partitionId(), context.taskAttemptId(), conf, metrics);
    this.buffers = new PartitionBuffers(handle.numPartitions, dep.serializer(), conf.writerBlockBytes,
        conf.writerBufferBytes, pusher);
  }

  @Override
  public void write(Iterator<Product2<K, V>> records) throws IOException {
    if (dep.mapSideCombine()) {
      if (!dep.aggregator().isDefined()) {
        throw new IllegalStateException("map-side combine without an aggregator in shuffle " + handle.shuffleId());
      }
      sorter = SparkShims.newSorter(context, dep.aggregator(), Option.apply(dep.partitioner()),
          Option.<scala.math.Ordering<K>>empty(), dep.serializer());
      sorter.insertAll(records);
      Iterator<Tuple2<Object, Iterator<Product2<K, C>>>> parts = sorter.partitionedIterator();
      while (parts.hasNext()) {
        Tuple2<Object, Iterator<Product2<K, C>>> part = parts.next();
        int partition = (Integer) part._1();
        Iterator<Product2<K, C>> it = part._2();
        while (it.hasNext()) {
          Product2<K, C> r = it.next();
          buffers.write(partition, r._1(), r._2());
        }
      }
    } else {
      Partitioner partitioner = dep.partitioner();
      while (records.hasNext()) {
        Product2<K, V> r = records.next();
        K key = r._1();
        buffers.write(partitioner.getPartition(key), key, r._2());
      }
    }
    buffers.finish();
    pusher.commit();
    // Counted once the attempt is committed, as the output it leaves: a failed attempt reports
    // none (Spark's own writer takes back what a failed attempt had counted). The pusher
    // reports write time as it goes.
    metrics.incRecordsWritten(buffers.recordCount());
    metrics.incBytesWritten(pusher.storedBytes());
    status = SparkShims.mapStatus(PegasusShuffleManager.location(handle.shuffleId()), pusher.partitionLengths(), mapTaskId);
  }

  @Override
  public Option<MapStatus> stop(boolean success) {
    if (stopping) return Option.empty();
    stopping = true;
    try {
      if (!success) buffers.discard();
      return success && status != null ? Option.apply(status) : Option.empty();
    } finally {
      if (sorter != null) {
        long start = System.nanoTime();
        sorter.stop();
        metrics.incWriteTime(System.nanoTime() - start);
        sorter = null;
      }
      pusher.close();
    }
  }

  @Override
  public long[] getPartitionLengths() {
    return pusher.partitionLengths();
  }
}
