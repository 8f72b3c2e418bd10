package io.pegasus.spark.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.api.java.function.ReduceFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The benchmark's executor-loss job: sql-groupBy in which the first attempt of reduce task
 * P/4 (stage attempt 0, task attempt 0), after reading its input, halts its executor JVM, once
 * per run (it creates a marker file first; a run that finds the file does nothing). With
 * Spark's built-in shuffle the map outputs that executor held are gone and Spark recomputes
 * them (a second attempt of the map stage); with Pegasus they are on the server and only the
 * lost reduce task runs again. {@link #judge} turns that into the run's lossCheck.
 *
 * <p>Needs executors of their own (local-cluster or a real cluster): in local mode the
 * executor is the driver.
 */
final class ExecutorLoss {
  private ExecutorLoss() {}

  static Path marker(Path workDir) {
    return workDir.resolve("executor-loss.marker");
  }

  static Bench.Outcome run(SparkSession spark, Bench.Params p) throws IOException {
    String master = spark.sparkContext().master();
    if (master.equals("local") || master.startsWith("local[")) {
      throw new IllegalArgumentException("executor-loss needs separate executor JVMs (local-cluster[...]), not " + master);
    }
    Path marker = marker(p.workDir());
    Files.deleteIfExists(marker);
    return Bench.Outcome.of(sqlGroupByCounted(spark, p, marker.toString(), p.partitions() / 4));
  }

  /**
   * sql-groupBy ({@link Bench#sqlGrouped}) with its groups counted inside the reduce tasks
   * (a Dataset.mapPartitions in the reduce stage, no shuffle of its own); with a marker,
   * the first attempt of reduce task {@code killPartition} halts its executor once it has
   * read its input. Returns the group count, the same in every mode and however many tasks
   * ran again.
   */
  static String sqlGroupByCounted(SparkSession spark, Bench.Params p, String marker, int killPartition) {
    Dataset<Long> counts = Bench.sqlGrouped(spark, p.records(), p.mapTasks()).mapPartitions(
        (MapPartitionsFunction<Row, Long>) rows -> {
          long k = 0;
          for (; rows.hasNext(); rows.next()) k++;
          if (marker != null) haltOnce(marker, killPartition);
          return List.of(k).iterator();
        }, Encoders.LONG());
    return "groups=" + counts.reduce((ReduceFunction<Long>) Long::sum);
  }

  /** Called inside reduce tasks: halts this executor if this is the chosen task's first attempt and no run did yet. */
  static void haltOnce(String marker, int killPartition) {
    TaskContext tc = TaskContext.get();
    if (tc == null || tc.partitionId() != killPartition || tc.stageAttemptNumber() != 0 || tc.attemptNumber() != 0) {
      return;
    }
    try {
      Files.createFile(Paths.get(marker));
    } catch (FileAlreadyExistsException e) {
      return;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    System.err.println("bench executor-loss: halting executor " + SparkEnv.get().executorId() + " in reduce task "
        + killPartition);
    System.err.flush();
    Runtime.getRuntime().halt(57);
  }

  /**
   * The run's extra JSON: whether the executor died, how many map tasks ran beyond the
   * shuffle's {@code mapTasks}, and lossCheck: "ok" when the built-in shuffle recomputed map
   * outputs and Pegasus recomputed none, else "FAILED: why".
   */
  static Bench.Outcome judge(Bench.Outcome outcome, String mode, Path workDir, BenchMeter meter, int mapTasks) {
    boolean killed = Files.exists(marker(workDir));
    long recomputed = meter.mapTasksSucceeded.get() - mapTasks;
    long retriedMapStages = meter.retriedMapStageAttempts();
    String verdict;
    if (!killed) {
      verdict = "FAILED: no executor was killed (the marker file is missing)";
    } else if (mode.equals("builtin") && recomputed <= 0) {
      verdict = "FAILED: the built-in shuffle lost an executor's map outputs but recomputed none";
    } else if (mode.equals("pegasus") && (recomputed != 0 || retriedMapStages != 0)) {
      verdict = "FAILED: Pegasus recomputed " + recomputed + " map tasks in " + retriedMapStages
          + " map stage retries after losing an executor; its map outputs are on the server";
    } else {
      verdict = "ok";
    }
    String extra = "\"executorKilled\":" + killed + ",\"mapTasksRecomputed\":" + recomputed
        + ",\"mapStageRetries\":" + retriedMapStages + ",\"lossCheck\":\"" + verdict + "\"";
    return new Bench.Outcome(outcome.check(), extra);
  }
}
