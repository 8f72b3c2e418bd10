package io.pegasus.spark.it;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.spark.Success$;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;

/**
 * What one benchmark run did, from Spark's listener bus: shuffle bytes and records written,
 * task time blocked writing shuffle output, reduce-side fetch wait, seconds per stage (map
 * stages, those that wrote shuffle output, and the others), stage attempts, and the map tasks
 * that ran more often than the shuffles have maps (recomputed outputs, e.g. after an executor
 * loss). {@link #reset()} starts a new measurement.
 */
public final class BenchMeter extends SparkListener {
  final AtomicLong bytes = new AtomicLong();
  final AtomicLong records = new AtomicLong();
  /** Task time blocked writing shuffle output (Pegasus: pushes waiting on the window, commits). */
  final AtomicLong writeNanos = new AtomicLong();
  /** Reduce-side time blocked waiting for shuffle data. */
  final AtomicLong fetchWaitMs = new AtomicLong();
  /** Successful ShuffleMapTask ends. */
  final AtomicLong mapTasksSucceeded = new AtomicLong();
  /** Task ends that were not a success (executor lost, fetch failed, killed, ...). */
  final AtomicLong tasksFailed = new AtomicLong();

  /** "stageId:seconds" of every stage completed since the last reset, in completion order. */
  final List<String> stages = Collections.synchronizedList(new ArrayList<>());
  private final Map<Integer, Integer> attemptsByStage = new TreeMap<>();
  private long mapStageMs;
  private long otherStageMs;
  private long retriedMapStageAttempts;

  synchronized void reset() {
    bytes.set(0);
    records.set(0);
    writeNanos.set(0);
    fetchWaitMs.set(0);
    mapTasksSucceeded.set(0);
    tasksFailed.set(0);
    stages.clear();
    attemptsByStage.clear();
    mapStageMs = 0;
    otherStageMs = 0;
    retriedMapStageAttempts = 0;
  }

  @Override
  public void onStageCompleted(SparkListenerStageCompleted e) {
    StageInfo info = e.stageInfo();
    boolean writesShuffle = info.taskMetrics() != null && info.taskMetrics().shuffleWriteMetrics().bytesWritten() > 0;
    synchronized (this) {
      attemptsByStage.merge(info.stageId(), info.attemptNumber() + 1, Math::max);
      if (writesShuffle && info.attemptNumber() > 0) retriedMapStageAttempts++;
      if (info.submissionTime().isDefined() && info.completionTime().isDefined()) {
        long ms = (Long) info.completionTime().get() - (Long) info.submissionTime().get();
        stages.add(String.format(Locale.ROOT, "%d.%d:%.1f", info.stageId(), info.attemptNumber(), ms / 1000.0));
        if (writesShuffle) mapStageMs += ms;
        else otherStageMs += ms;
      }
    }
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd e) {
    boolean ok = e.reason() == Success$.MODULE$;
    if (!ok) tasksFailed.incrementAndGet();
    if (ok && "ShuffleMapTask".equals(e.taskType())) mapTasksSucceeded.incrementAndGet();
    if (e.taskMetrics() == null) return;
    bytes.addAndGet(e.taskMetrics().shuffleWriteMetrics().bytesWritten());
    records.addAndGet(e.taskMetrics().shuffleWriteMetrics().recordsWritten());
    writeNanos.addAndGet(e.taskMetrics().shuffleWriteMetrics().writeTime());
    fetchWaitMs.addAndGet(e.taskMetrics().shuffleReadMetrics().fetchWaitTime());
  }

  synchronized double mapStageSeconds() {
    return mapStageMs / 1000.0;
  }

  synchronized double otherStageSeconds() {
    return otherStageMs / 1000.0;
  }

  /** Attempts of map stages beyond the first (each one recomputes lost map outputs). */
  synchronized long retriedMapStageAttempts() {
    return retriedMapStageAttempts;
  }

  /** "stageId:attempts" of the stages that ran more than once; empty if none did. */
  synchronized String repeatedStages() {
    StringBuilder sb = new StringBuilder();
    attemptsByStage.forEach((id, n) -> {
      if (n > 1) sb.append(sb.length() == 0 ? "" : " ").append(id).append(':').append(n);
    });
    return sb.toString();
  }
}
