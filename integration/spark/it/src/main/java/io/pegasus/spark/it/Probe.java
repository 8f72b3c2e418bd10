package io.pegasus.spark.it;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import org.apache.spark.Success$;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;

/**
 * Counts what the failure scenarios must observe: speculative task attempts, failed task
 * attempts (and in which stages), fetch failures, and stage attempts past the first; and sums
 * the shuffle metrics of successful task attempts per stage for the metrics scenarios.
 * Scenarios run one at a time, so each one {@link #reset()}s it first. Listener events arrive
 * asynchronously: assertions wait for them with {@link #await}.
 */
public final class Probe extends SparkListener {
  final AtomicInteger tasksStarted = new AtomicInteger();
  final AtomicInteger tasksEnded = new AtomicInteger();
  final AtomicInteger speculativeStarts = new AtomicInteger();
  final AtomicInteger exceptionFailures = new AtomicInteger();
  final AtomicInteger fetchFailures = new AtomicInteger();
  final AtomicInteger killedTasks = new AtomicInteger();
  final AtomicInteger stageRetries = new AtomicInteger();
  final Set<Integer> stagesWithFailedTasks = ConcurrentHashMap.newKeySet();
  /** Stage id to the summed shuffle metrics of its successful task attempts. */
  final Map<Integer, ShuffleTotals> stageShuffle = new ConcurrentHashMap<>();

  void reset() {
    tasksStarted.set(0);
    tasksEnded.set(0);
    speculativeStarts.set(0);
    exceptionFailures.set(0);
    fetchFailures.set(0);
    killedTasks.set(0);
    stageRetries.set(0);
    stagesWithFailedTasks.clear();
    stageShuffle.clear();
  }

  @Override
  public void onTaskStart(SparkListenerTaskStart e) {
    tasksStarted.incrementAndGet();
    if (e.taskInfo().speculative()) speculativeStarts.incrementAndGet();
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd e) {
    tasksEnded.incrementAndGet();
    if (e.reason() == Success$.MODULE$ && e.taskMetrics() != null) {
      stageShuffle.merge(e.stageId(), ShuffleTotals.of(e.taskMetrics()), ShuffleTotals::plus);
    }
    String reason = e.reason().getClass().getSimpleName();
    if (reason.startsWith("ExceptionFailure")) {
      exceptionFailures.incrementAndGet();
      stagesWithFailedTasks.add(e.stageId());
    } else if (reason.startsWith("FetchFailed")) {
      fetchFailures.incrementAndGet();
      stagesWithFailedTasks.add(e.stageId());
    } else if (reason.startsWith("TaskKilled")) {
      killedTasks.incrementAndGet();
    }
  }

  @Override
  public void onStageSubmitted(SparkListenerStageSubmitted e) {
    if (e.stageInfo().attemptNumber() > 0) stageRetries.incrementAndGet();
  }

  /** PEGASUS_IT_VERBOSE=1: one comment line per completed stage, with its duration. */
  private static final boolean VERBOSE = "1".equals(System.getenv("PEGASUS_IT_VERBOSE"));

  @Override
  public void onStageCompleted(SparkListenerStageCompleted e) {
    if (!VERBOSE) return;
    StageInfo si = e.stageInfo();
    long ms = si.completionTime().isDefined() && si.submissionTime().isDefined()
        ? (Long) si.completionTime().get() - (Long) si.submissionTime().get() : -1;
    String name = si.name();
    System.out.println("#     stage " + si.stageId() + "." + si.attemptNumber() + " " + name.split(" ")[0] + " "
        + si.numTasks() + " tasks " + ms + " ms" + (si.failureReason().isDefined() ? " FAILED" : ""));
  }

  /** Waits up to timeoutMs for the condition (listener events are delivered asynchronously). */
  static boolean await(BooleanSupplier condition, long timeoutMs) throws InterruptedException {
    long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) return false;
      Thread.sleep(20);
    }
    return true;
  }

  /**
   * The per-stage shuffle metrics of everything that ran since {@link #reset()}, once Spark has
   * delivered every event posted so far. An action returns after its job's task-end and job-end
   * events are posted, so after an action this holds all of its tasks.
   */
  Map<Integer, ShuffleTotals> shuffleByStage(SparkContext sc) throws TimeoutException {
    sc.listenerBus().waitUntilEmpty(60_000);
    return new TreeMap<>(stageShuffle);
  }

  String summary() {
    return "tasksStarted=" + tasksStarted + " tasksEnded=" + tasksEnded + " speculative=" + speculativeStarts
        + " exceptionFailures=" + exceptionFailures + " fetchFailures=" + fetchFailures + " killed=" + killedTasks
        + " stageRetries=" + stageRetries + " stagesWithFailedTasks=" + stagesWithFailedTasks;
  }
}
