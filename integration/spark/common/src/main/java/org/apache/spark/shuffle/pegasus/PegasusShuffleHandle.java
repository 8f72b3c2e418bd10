package org.apache.spark.shuffle.pegasus;

import org.apache.spark.ShuffleDependency;
import org.apache.spark.shuffle.BaseShuffleHandle;

/**
 * The driver's decisions about one shuffle, shipped to every map and reduce task: the
 * application id on the servers, the partition placement and the shuffle's shape.
 */
public final class PegasusShuffleHandle<K, V, C> extends BaseShuffleHandle<K, V, C> {
  private static final long serialVersionUID = 1L;

  final String appId;
  final PartitionPlacement placement;
  final int numMaps;
  final int numPartitions;

  PegasusShuffleHandle(int shuffleId, ShuffleDependency<K, V, C> dependency, String appId,
      PartitionPlacement placement, int numMaps, int numPartitions) {
    super(shuffleId, dependency);
    this.appId = appId;
    this.placement = placement;
    this.numMaps = numMaps;
    this.numPartitions = numPartitions;
  }

  @Override
  public String toString() {
    return "PegasusShuffleHandle(app=" + appId + ", shuffle=" + shuffleId() + ", maps=" + numMaps
        + ", partitions=" + numPartitions + ", servers=" + placement.servers() + ")";
  }
}
