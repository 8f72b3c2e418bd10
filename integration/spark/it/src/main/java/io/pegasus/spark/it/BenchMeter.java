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
  /** Why tasks failed (Spark's error string, first line and cause), the first FAILURES_KEPT of them. */
  final List<String> failures = new ArrayList<>();
  private static final int FAILURES_KEPT = 5;

  /** Durations (launch to finish, ms) of successful map tasks and of the other tasks. */
  private final List<Long> mapTaskMs = new ArrayList<>();
  private final List<Long> otherTaskMs = new ArrayList<>();
  /** Tasks that read shuffle data (fetch wait is averaged over these). */
  final AtomicLong readingTasks = new AtomicLong();

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
    synchronized (this) {
      failures.clear();
    }
    stages.clear();
    attemptsByStage.clear();
    mapStageMs = 0;
    otherStageMs = 0;
    retriedMapStageAttempts = 0;
    mapTaskMs.clear();
    otherTaskMs.clear();
    readingTasks.set(0);
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
    if (!ok) {
      tasksFailed.incrementAndGet();
      String why = e.reason() instanceof org.apache.spark.TaskFailedReason r ? r.toErrorString() : String.valueOf(e.reason());
      synchronized (this) {
        if (failures.size() < FAILURES_KEPT) failures.add(e.taskType() + " " + e.taskInfo().id() + ": " + why);
      }
      System.err.println("bench: task failed: " + e.taskType() + " " + e.taskInfo().id() + ": " + why);
    }
    boolean map = "ShuffleMapTask".equals(e.taskType());
    if (ok && map) mapTasksSucceeded.incrementAndGet();
    if (ok) {
      synchronized (this) {
        (map ? mapTaskMs : otherTaskMs).add(e.taskInfo().duration());
      }
    }
    if (e.taskMetrics() == null) return;
    if (e.taskMetrics().shuffleReadMetrics().recordsRead() > 0) readingTasks.incrementAndGet();
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

  /**
   * Per-task figures for fixed costs, as JSON: median duration of map tasks and of the other
   * tasks (ms), blocked shuffle-write ms per map task, fetch wait ms per task that read.
   */
  synchronized String taskJson() {
    long maps = Math.max(1, mapTasksSucceeded.get());
    long readers = Math.max(1, readingTasks.get());
    return String.format(Locale.ROOT,
        "{\"mapTasks\":%d,\"mapMedianMs\":%d,\"otherTasks\":%d,\"otherMedianMs\":%d,"
            + "\"blockedWriteMsPerMapTask\":%.1f,\"readingTasks\":%d,\"fetchWaitMsPerReadingTask\":%.1f}",
        mapTaskMs.size(), median(mapTaskMs), otherTaskMs.size(), median(otherTaskMs),
        writeNanos.get() / 1e6 / maps, readingTasks.get(), fetchWaitMs.get() / (double) readers);
  }

  private static long median(List<Long> values) {
    if (values.isEmpty()) return -1;
    List<Long> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    return sorted.get(sorted.size() / 2);
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
