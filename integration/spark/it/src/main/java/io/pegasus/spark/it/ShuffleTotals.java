package io.pegasus.spark.it;

import org.apache.spark.executor.ShuffleReadMetrics;
import org.apache.spark.executor.ShuffleWriteMetrics;
import org.apache.spark.executor.TaskMetrics;

/**
 * Spark's shuffle metrics of a set of successful task attempts, summed, as the listener sees
 * them in each task's final metrics ({@code SparkListenerTaskEnd.taskMetrics()}): what the
 * Spark UI and the event log show for a stage.
 */
record ShuffleTotals(long tasks, long recordsWritten, long bytesWritten, long writeTimeNs, long recordsRead,
    long remoteBytesRead, long localBytesRead, long remoteBlocksFetched, long localBlocksFetched, long fetchWaitMs) {

  static final ShuffleTotals ZERO = new ShuffleTotals(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

  static ShuffleTotals of(TaskMetrics m) {
    ShuffleWriteMetrics w = m.shuffleWriteMetrics();
    ShuffleReadMetrics r = m.shuffleReadMetrics();
    return new ShuffleTotals(1, w.recordsWritten(), w.bytesWritten(), w.writeTime(), r.recordsRead(),
        r.remoteBytesRead(), r.localBytesRead(), r.remoteBlocksFetched(), r.localBlocksFetched(), r.fetchWaitTime());
  }

  ShuffleTotals plus(ShuffleTotals o) {
    return new ShuffleTotals(tasks + o.tasks, recordsWritten + o.recordsWritten, bytesWritten + o.bytesWritten,
        writeTimeNs + o.writeTimeNs, recordsRead + o.recordsRead, remoteBytesRead + o.remoteBytesRead,
        localBytesRead + o.localBytesRead, remoteBlocksFetched + o.remoteBlocksFetched,
        localBlocksFetched + o.localBlocksFetched, fetchWaitMs + o.fetchWaitMs);
  }

  long bytesRead() {
    return remoteBytesRead + localBytesRead;
  }

  boolean writes() {
    return recordsWritten > 0 || bytesWritten > 0;
  }

  boolean reads() {
    return recordsRead > 0 || bytesRead() > 0;
  }

  @Override
  public String toString() {
    return "tasks=" + tasks + " written=" + recordsWritten + "rec/" + bytesWritten + "B in " + writeTimeNs / 1_000_000
        + "ms read=" + recordsRead + "rec/" + remoteBytesRead + "B remote+" + localBytesRead + "B local in "
        + remoteBlocksFetched + "+" + localBlocksFetched + " blocks, wait " + fetchWaitMs + "ms";
  }
}
