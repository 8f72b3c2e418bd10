package io.pegasus.spark.it;

import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

import scala.Tuple2;

/**
 * Spark's shuffle read and write metrics, with Spark's built-in shuffle as the oracle (issue 10).
 * Each job runs alone with the {@link Probe} reset, and the metrics of its successful tasks are
 * summed over all its stages (each job reads each of its shuffles exactly once). Per job:
 * <ul>
 * <li>records written and records read are result lines, so the harness requires them to equal
 *     the built-in run's exactly; read must equal written in every mode;</li>
 * <li>bytes read (remote plus local) equal bytes written in every mode; Pegasus: all of them
 *     remote, no local blocks, fetch wait above 0 for a job reading {@link #MEANINGFUL_BYTES};
 *     every mode: write time above 0, no negative time in any stage;</li>
 * <li>the second mode to run compares its bytes written with the first's (same JVM, same master):
 *     within {@link #BYTES_FACTOR_MAX} either way, as both are compressed serialized records.</li>
 * </ul>
 */
final class MetricsScenarios {
  private MetricsScenarios() {}

  /** Pegasus compresses whole blocks with LZ4, Spark each partition's stream: close, not equal. */
  static final double BYTES_FACTOR_MAX = 3.0;

  /** A job reading at least this much must report some fetch wait (Pegasus). */
  static final long MEANINGFUL_BYTES = 5L << 19;

  /** Totals of each job by mode, master kind and job name; the later mode checks against the earlier. */
  private static final Map<String, ShuffleTotals> SEEN = new ConcurrentHashMap<>();

  static List<String> rdd(Ctx c) throws Exception {
    List<String> out = new ArrayList<>();
    int n = 120_000;
    int keys = 1_000;
    List<String> grouped = measure(c, "rdd.groupByKey", out, () -> c.jsc.parallelize(Scenarios.range(n), 4)
        .mapToPair(i -> new Tuple2<>(i % keys, value(i)))
        .groupByKey(6)
        .map(t -> {
          long k = 0;
          long chars = 0;
          for (String v : t._2()) {
            k++;
            chars += v.length();
          }
          return t._1() + ":" + k + ":" + chars;
        })
        .collect());
    long[] cnt = new long[keys];
    long[] chars = new long[keys];
    for (int i = 0; i < n; i++) {
      cnt[i % keys]++;
      chars[i % keys] += value(i).length();
    }
    List<String> expected = new ArrayList<>();
    for (int k = 0; k < keys; k++) expected.add(k + ":" + cnt[k] + ":" + chars[k]);
    out.addAll(Scenarios.expectSorted(expected, grouped, "groupByKey counts"));

    // Map-side combine: the records written are the combined ones, 5000 per map task.
    int keys2 = 5_000;
    List<String> reduced = measure(c, "rdd.reduceByKey", out, () -> c.jsc.parallelize(Scenarios.range(n), 4)
        .mapToPair(i -> new Tuple2<>(i % keys2, (long) i))
        .reduceByKey(Long::sum, 5)
        .map(t -> t._1() + "=" + t._2())
        .collect());
    long[] sums = new long[keys2];
    for (int i = 0; i < n; i++) sums[i % keys2] += i;
    List<String> expected2 = new ArrayList<>();
    for (int k = 0; k < keys2; k++) expected2.add(k + "=" + sums[k]);
    Scenarios.expectSorted(expected2, reduced, "reduceByKey sums");
    out.add("reduceByKey: " + reduced.size() + " keys");
    return out;
  }

  static List<String> sql(Ctx c) throws Exception {
    List<String> out = new ArrayList<>();
    // AQE coalesces the 200 small reduce partitions: reduce tasks read partition ranges.
    SparkSession s = c.sql(Map.of(
        "spark.sql.adaptive.enabled", "true",
        "spark.sql.adaptive.coalescePartitions.enabled", "true",
        "spark.sql.shuffle.partitions", "200"));
    long n = 1_000_000;
    int keys = 50_000;
    Dataset<Row> agg = s.range(0, n).selectExpr("id % " + keys + " AS k", "id AS v").groupBy("k")
        .agg(count(lit(1)), sum("v"));
    List<String> rows = measure(c, "sql.aggregate", out, () -> Scenarios.rows(agg));
    String plan = Scenarios.plan(agg);
    Scenarios.check(plan.contains("AQEShuffleRead") && plan.contains("coalesced"),
        "no coalescing AQEShuffleRead in the final plan:\n" + plan);
    long total = 0;
    for (String r : rows) {
      String[] f = r.split(",");
      long k = Long.parseLong(f[0]);
      long cnt = Long.parseLong(f[1]);
      long sm = Long.parseLong(f[2]);
      long wantCnt = n / keys;
      // ids k, k + keys, ..., k + (cnt - 1) * keys
      long wantSum = wantCnt * k + (long) keys * wantCnt * (wantCnt - 1) / 2;
      Scenarios.check(cnt == wantCnt && sm == wantSum, "aggregate row " + r + ": wanted " + wantCnt + "," + wantSum);
      total += cnt;
    }
    Scenarios.check(rows.size() == keys && total == n, "aggregate: " + rows.size() + " groups of " + total + " rows");
    out.add("aggregate: " + rows.size() + " groups");

    // A sort-merge join: every reduce task reads two shuffles (two readers, one task), then a
    // third shuffle aggregates. Coalescing is off so the join's task count, and with it the
    // partial aggregates it writes, is the same in every mode.
    SparkSession j = c.sql(Map.of(
        "spark.sql.adaptive.enabled", "true",
        "spark.sql.adaptive.coalescePartitions.enabled", "false",
        "spark.sql.autoBroadcastJoinThreshold", "-1",
        "spark.sql.shuffle.partitions", "6"));
    long left = 300_000;
    Dataset<Row> l = j.range(0, left).selectExpr("id", "id % 10000 AS k");
    Dataset<Row> r = j.range(0, 20_000).selectExpr("id % 10000 AS k2", "id AS rid");
    Dataset<Row> joined = l.join(r, l.col("k").equalTo(r.col("k2")))
        .groupBy(expr("pmod(id, 20)").as("g")).agg(count(lit(1)), sum("rid"));
    List<String> jrows = measure(c, "sql.join", out, () -> Scenarios.rows(joined));
    String jplan = Scenarios.plan(joined);
    Scenarios.check(jplan.contains("SortMergeJoin"), "no SortMergeJoin in the final plan:\n" + jplan);
    long[] cnt = new long[20];
    long[] srid = new long[20];
    for (long id = 0; id < left; id++) {
      long k = id % 10_000;
      int g = (int) (id % 20);
      cnt[g] += 2;
      srid[g] += k + (k + 10_000);
    }
    List<String> expected = new ArrayList<>();
    for (int g = 0; g < 20; g++) expected.add(g + "," + cnt[g] + "," + srid[g]);
    out.addAll(Scenarios.expectSorted(expected, jrows, "join aggregate"));
    return out;
  }

  /** About 64 poorly compressible characters, the same for the same i everywhere. */
  static String value(int i) {
    SplittableRandom r = new SplittableRandom(i);
    StringBuilder sb = new StringBuilder(64);
    for (int w = 0; w < 4; w++) sb.append(Long.toHexString(r.nextLong()));
    return sb.toString();
  }

  /** Runs one job alone, checks its shuffle metrics, adds its record counts to {@code out}. */
  private static <T> T measure(Ctx c, String job, List<String> out, Callable<T> action) throws Exception {
    c.probe.reset();
    T result = action.call();
    Map<Integer, ShuffleTotals> stages = c.probe.shuffleByStage(c.jsc.sc());
    ShuffleTotals t = ShuffleTotals.ZERO;
    for (ShuffleTotals s : stages.values()) {
      Scenarios.check(s.writeTimeNs() >= 0 && s.fetchWaitMs() >= 0, job + ": negative time in a stage: " + s);
      t = t.plus(s);
    }
    String where = job + " [" + c.mode + "] " + t + "; by stage " + stages;
    System.out.println("#   " + where);
    Scenarios.check(t.recordsWritten() > 0 && t.bytesWritten() > 0, "no shuffle output measured: " + where);
    Scenarios.check(t.recordsRead() == t.recordsWritten(), "records read differ from records written: " + where);
    Scenarios.check(t.writeTimeNs() > 0, "no shuffle write time: " + where);
    // Built-in: the block sizes read are the file segments written; Pegasus: the stored blocks.
    Scenarios.check(t.bytesRead() == t.bytesWritten(), "bytes read differ from bytes written: " + where);
    if (c.pegasusMode()) {
      Scenarios.check(t.localBytesRead() == 0 && t.localBlocksFetched() == 0, "Pegasus reported local reads: " + where);
      Scenarios.check(t.remoteBlocksFetched() > 0, "no remote blocks fetched: " + where);
      // Every read waits at least for its stream to open and its first block to arrive; how
      // much a job waits in all depends on the machine, so only a job that moves a few MiB
      // (measured here: 55 to 250 ms of fetch wait in all) must show some.
      if (t.bytesRead() >= MEANINGFUL_BYTES) Scenarios.check(t.fetchWaitMs() > 0, "no fetch wait: " + where);
    }
    String key = c.cluster + "|" + job;
    SEEN.put(c.mode + "|" + key, t);
    for (Map.Entry<String, ShuffleTotals> e : SEEN.entrySet()) {
      if (!e.getKey().endsWith("|" + key) || e.getKey().startsWith(c.mode + "|")) continue;
      ShuffleTotals o = e.getValue();
      double ratio = (double) t.bytesWritten() / o.bytesWritten();
      System.out.printf("#   %s: bytes written %d vs %d in %s, ratio %.2f%n", job, t.bytesWritten(), o.bytesWritten(),
          e.getKey().substring(0, e.getKey().indexOf('|')), ratio);
      Scenarios.check(ratio <= BYTES_FACTOR_MAX && ratio >= 1 / BYTES_FACTOR_MAX,
          job + ": bytes written " + t.bytesWritten() + " vs " + o.bytesWritten() + " in " + e.getKey() + ": " + where);
    }
    out.add(job + ": recordsWritten=" + t.recordsWritten() + " recordsRead=" + t.recordsRead());
    return result;
  }
}
