package org.apache.spark.shuffle.pegasus;

import org.apache.spark.network.buffer.ManagedBuffer;
import org.apache.spark.network.shuffle.MergedBlockMeta;
import org.apache.spark.shuffle.ShuffleBlockResolver;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.ShuffleMergedBlockId;
import scala.Option;

/**
 * Executors hold no Pegasus shuffle blocks, so Spark's block manager never has any to serve:
 * a request for one means something read past the plugin, and fails loudly. (Spark 3.5 (Scala 2.12))
 */
final class PegasusBlockResolver implements ShuffleBlockResolver {
  @Override
  public ManagedBuffer getBlockData(BlockId blockId, Option<String[]> dirs) {
    throw new UnsupportedOperationException("Pegasus shuffle blocks live on the Pegasus servers, not in executors: " + blockId);
  }

  @Override
  public scala.collection.Seq<ManagedBuffer> getMergedBlockData(ShuffleMergedBlockId blockId, Option<String[]> dirs) {
    throw new UnsupportedOperationException("Pegasus does not use push-based shuffle merging: " + blockId);
  }

  @Override
  public MergedBlockMeta getMergedBlockMeta(ShuffleMergedBlockId blockId, Option<String[]> dirs) {
    throw new UnsupportedOperationException("Pegasus does not use push-based shuffle merging: " + blockId);
  }

  @Override
  public void stop() {}
}
