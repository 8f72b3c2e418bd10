package org.apache.spark.shuffle.pegasus;

import org.apache.spark.Aggregator;
import org.apache.spark.InterruptibleIterator;
import org.apache.spark.ShuffleDependency;
import org.apache.spark.TaskContext;
import org.apache.spark.shuffle.ShuffleReadMetricsReporter;
import org.apache.spark.shuffle.ShuffleReader;
import org.apache.spark.util.TaskCompletionListener;
import org.apache.spark.util.collection.ExternalSorter;
import scala.Option;
import scala.Product2;
import scala.collection.Iterator;
import scala.math.Ordering;

/**
 * Reduce side: streams the committed blocks of a partition range (and map range, for AQE's
 * skew splits and local reads) from every server holding those partitions, then applies the
 * dependency's aggregation and key ordering the way Spark's own reader does.
 */
final class PegasusShuffleReader<K, C> implements ShuffleReader<K, C> {
  private final PegasusShuffleManager manager;
  private final PegasusShuffleHandle<K, ?, C> handle;
  private final int startMapIndex;
  private final int endMapIndex;
  private final int startPartition;
  private final int endPartition;
  private final TaskContext context;
  private final ShuffleReadMetricsReporter metrics;

  PegasusShuffleReader(PegasusShuffleManager manager, PegasusShuffleHandle<K, ?, C> handle, int startMapIndex,
      int endMapIndex, int startPartition, int endPartition, TaskContext context, ShuffleReadMetricsReporter metrics) {
    this.manager = manager;
    this.handle = handle;
    this.startMapIndex = startMapIndex;
    this.endMapIndex = endMapIndex;
    this.startPartition = startPartition;
    this.endPartition = endPartition;
    this.context = context;
    this.metrics = metrics;
  }

  @Override
  @SuppressWarnings({"unchecked", "rawtypes"})
  public Iterator<Product2<K, C>> read() {
    ShuffleDependency<K, ?, C> dep = handle.dependency();
    RecordIterator records = new RecordIterator(manager, handle, startMapIndex, endMapIndex, startPartition,
        endPartition, context, metrics);
    context.addTaskCompletionListener((TaskCompletionListener) ctx -> records.close());
    Iterator<Product2<K, C>> out;
    if (dep.aggregator().isDefined()) {
      Aggregator agg = dep.aggregator().get();
      out = dep.mapSideCombine()
          ? agg.combineCombinersByKey((Iterator) records, context)
          : agg.combineValuesByKey((Iterator) records, context);
    } else {
      out = (Iterator) records;
    }
    Option<Ordering<K>> ordering = dep.keyOrdering();
    if (ordering.isDefined()) {
      ExternalSorter<K, C, C> sorter = SparkShims.newSorter(context, Option.empty(), Option.empty(), ordering,
          dep.serializer());
      out = sorter.insertAllAndUpdateMetrics(out);
    }
    return new InterruptibleIterator<>(context, out);
  }
}
