package org.apache.spark.shuffle.pegasus;

import org.apache.spark.Aggregator;
import org.apache.spark.Partitioner;
import org.apache.spark.TaskContext;
import org.apache.spark.scheduler.MapStatus;
import org.apache.spark.scheduler.MapStatus$;
import org.apache.spark.serializer.Serializer;
import org.apache.spark.shuffle.checksum.RowBasedChecksum;
import org.apache.spark.storage.BlockManagerId;
import org.apache.spark.util.collection.ExternalSorter;
import scala.Option;
import scala.math.Ordering;

/** The few Spark calls whose signatures differ between Spark lines: this copy is for Spark 4.x (Scala 2.13). */
final class SparkShims {
  private SparkShims() {}

  static MapStatus mapStatus(BlockManagerId location, long[] sizes, long mapTaskId) {
    return MapStatus$.MODULE$.apply(location, sizes, mapTaskId, 0L);
  }

  static <K, V, C> ExternalSorter<K, V, C> newSorter(TaskContext context, Option<Aggregator<K, V, C>> aggregator,
      Option<Partitioner> partitioner, Option<Ordering<K>> ordering, Serializer serializer) {
    return new ExternalSorter<>(context, aggregator, partitioner, ordering, serializer, new RowBasedChecksum[0]);
  }
}
