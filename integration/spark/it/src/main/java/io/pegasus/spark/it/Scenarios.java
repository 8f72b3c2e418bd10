package io.pegasus.spark.it;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.rank;
import static org.apache.spark.sql.functions.sum;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import java.util.zip.CRC32;

import org.apache.spark.HashPartitioner;
import org.apache.spark.ShuffleDependency;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.expressions.WindowSpec;

import io.pegasus.spark.it.Scenario.Group;
import scala.Tuple2;

/**
 * The scenarios. Every body is self-checking (expected values computed here in plain Java, plan
 * shapes, listener counts) so that the built-in-only mode is a real test of the harness, and
 * returns canonical lines for the cross-mode comparison. Closures capture only primitives and
 * call static methods of this class: the it jar is on the executors' class path.
 */
final class Scenarios {
  private Scenarios() {}

  static List<Scenario> all() {
    List<Scenario> l = new ArrayList<>();
    for (Group g : List.of(Group.DEFAULT, Group.KRYO)) {
      String p = g == Group.KRYO ? "kryo." : "";
      l.add(new Scenario(p + "reduceByKey", g, Scenarios::reduceByKey));
      l.add(new Scenario(p + "groupByKey", g, Scenarios::groupByKey));
      l.add(new Scenario(p + "join", g, Scenarios::join));
      l.add(new Scenario(p + "cogroup", g, Scenarios::cogroup));
      l.add(new Scenario(p + "sortByKey", g, Scenarios::sortByKey));
      l.add(new Scenario(p + "repartition", g, Scenarios::repartition));
      l.add(new Scenario(p + "distinct", g, Scenarios::distinct));
      if (g == Group.KRYO) l.add(new Scenario(p + "largeRecords", g, Scenarios::largeRecords));
    }
    l.add(new Scenario("sql.groupBy", Group.DEFAULT, Scenarios::sqlGroupBy));
    l.add(new Scenario("sql.sortMergeJoin", Group.DEFAULT, Scenarios::sqlSortMergeJoin));
    l.add(new Scenario("sql.window", Group.DEFAULT, Scenarios::sqlWindow));
    l.add(new Scenario("aqe.coalescePartitions", Group.DEFAULT, Scenarios::aqeCoalesce));
    l.add(new Scenario("aqe.skewJoin", Group.DEFAULT, Scenarios::aqeSkewJoin));
    l.add(new Scenario("aqe.localShuffleReader", Group.DEFAULT, Scenarios::aqeLocalShuffleReader));
    l.add(new Scenario("largeRecords", Group.DEFAULT, Scenarios::largeRecords));
    l.add(new Scenario("emptyPartitions", Group.DEFAULT, Scenarios::emptyPartitions));
    l.add(new Scenario("partitions10000", Group.DEFAULT, Scenarios::partitions10000));
    l.add(new Scenario("taskRetry", Group.DEFAULT, Scenarios::taskRetry));
    l.add(new Scenario("lostShuffle", Group.DEFAULT, Scenarios::lostShuffle));
    l.add(new Scenario("metrics.rdd", Group.DEFAULT, MetricsScenarios::rdd));
    l.add(new Scenario("metrics.sql", Group.DEFAULT, MetricsScenarios::sql));
    l.add(new Scenario("speculation", Group.SPECULATION, Scenarios::speculation));
    l.add(new Scenario("readCuts", Group.READ_CUTS, Scenarios::readCuts));
    return l;
  }

  // ---------------------------------------------------------------- RDD API

  static List<String> reduceByKey(Ctx c) {
    int n = 20_000;
    int keys = 97;
    List<String> got = c.jsc.parallelize(range(n), 4)
        .mapToPair(i -> new Tuple2<>(i % keys, (long) i))
        .reduceByKey(Long::sum, 5)
        .map(t -> t._1() + "=" + t._2())
        .collect();
    long[] sums = new long[keys];
    for (int i = 0; i < n; i++) sums[i % keys] += i;
    List<String> expected = new ArrayList<>();
    for (int k = 0; k < keys; k++) expected.add(k + "=" + sums[k]);
    return expectSorted(expected, got, "reduceByKey sums");
  }

  static List<String> groupByKey(Ctx c) {
    int n = 10_000;
    int keys = 53;
    List<String> got = c.jsc.parallelize(range(n), 4)
        .mapToPair(i -> new Tuple2<>(i % keys, i))
        .groupByKey(6)
        .map(t -> t._1() + ":" + joinSortedInts(t._2()))
        .collect();
    Map<Integer, List<Integer>> groups = new TreeMap<>();
    for (int i = 0; i < n; i++) groups.computeIfAbsent(i % keys, k -> new ArrayList<>()).add(i);
    List<String> expected = new ArrayList<>();
    groups.forEach((k, vs) -> expected.add(k + ":" + joinSortedInts(vs)));
    return expectSorted(expected, got, "groupByKey groups");
  }

  private static JavaPairRDD<Integer, String> joinLeft(Ctx c) {
    return c.jsc.parallelize(range(2_000), 3).mapToPair(i -> new Tuple2<>(i % 300, "a" + i));
  }

  private static JavaPairRDD<Integer, String> joinRight(Ctx c) {
    return c.jsc.parallelize(range(1_500), 2).mapToPair(j -> new Tuple2<>(j % 400, "b" + j));
  }

  static List<String> join(Ctx c) {
    List<String> got = joinLeft(c).join(joinRight(c), 4)
        .map(t -> t._1() + "|" + t._2()._1() + "|" + t._2()._2())
        .collect();
    Map<Integer, List<String>> right = new TreeMap<>();
    for (int j = 0; j < 1_500; j++) right.computeIfAbsent(j % 400, k -> new ArrayList<>()).add("b" + j);
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < 2_000; i++) {
      for (String b : right.getOrDefault(i % 300, List.of())) expected.add((i % 300) + "|a" + i + "|" + b);
    }
    return expectSorted(expected, got, "join pairs");
  }

  static List<String> cogroup(Ctx c) {
    List<String> got = joinLeft(c).cogroup(joinRight(c), 4)
        .map(t -> t._1() + "|" + joinSorted(t._2()._1()) + "|" + joinSorted(t._2()._2()))
        .collect();
    Map<Integer, List<String>> left = new TreeMap<>();
    Map<Integer, List<String>> right = new TreeMap<>();
    for (int i = 0; i < 2_000; i++) left.computeIfAbsent(i % 300, k -> new ArrayList<>()).add("a" + i);
    for (int j = 0; j < 1_500; j++) right.computeIfAbsent(j % 400, k -> new ArrayList<>()).add("b" + j);
    List<String> expected = new ArrayList<>();
    for (int k = 0; k < 400; k++) {
      expected.add(k + "|" + joinSorted(left.getOrDefault(k, List.of())) + "|" + joinSorted(right.getOrDefault(k, List.of())));
    }
    return expectSorted(expected, got, "cogroup groups");
  }

  /** A bijection of [0, 2^32): distinct keys in scrambled order. */
  static long permKey(int i) {
    return (i * 2654435761L) & 0xffffffffL;
  }

  static List<String> sortByKey(Ctx c) {
    int n = 50_000;
    JavaPairRDD<Long, Integer> sorted = c.jsc.parallelize(range(n), 4)
        .mapToPair(i -> new Tuple2<>(permKey(i), i))
        .sortByKey(true, 5);
    check(sorted.getNumPartitions() == 5, "sortByKey: " + sorted.getNumPartitions() + " partitions, wanted 5");
    // Order is the result: not re-sorted, compared as collected.
    List<String> got = sorted.map(t -> t._1() + ":" + t._2()).collect();
    long prev = -1;
    for (int i = 0; i < got.size(); i++) {
      long k = Long.parseLong(got.get(i).substring(0, got.get(i).indexOf(':')));
      check(k > prev, "sortByKey: line " + i + " (" + got.get(i) + ") is not after the previous key " + prev);
      prev = k;
    }
    List<long[]> pairs = new ArrayList<>();
    for (int i = 0; i < n; i++) pairs.add(new long[] {permKey(i), i});
    pairs.sort((a, b) -> Long.compare(a[0], b[0]));
    List<String> expected = pairs.stream().map(p -> p[0] + ":" + p[1]).collect(Collectors.toList());
    expectExact(expected, got, "sortByKey global order");
    return got;
  }

  static List<String> repartition(Ctx c) {
    int n = 30_000;
    List<String> input = IntStream.range(0, n).mapToObj(i -> "r" + i).collect(Collectors.toList());
    JavaRDD<String> rep = c.jsc.parallelize(input, 3).repartition(7);
    check(rep.getNumPartitions() == 7, "repartition: " + rep.getNumPartitions() + " partitions, wanted 7");
    List<String> counts = rep.mapPartitionsWithIndex((p, it) -> {
      int k = 0;
      while (it.hasNext()) {
        it.next();
        k++;
      }
      return List.of("p" + p + "=" + k).iterator();
    }, false).collect();
    int total = counts.stream().mapToInt(s -> Integer.parseInt(s.substring(s.indexOf('=') + 1))).sum();
    check(total == n, "repartition: partitions hold " + total + " records, wanted " + n + ": " + counts);
    // A second action on the same RDD re-reads the same shuffle (its map stage is skipped).
    List<String> elems = expectSorted(input, rep.collect(), "repartition records");
    List<String> out = new ArrayList<>(counts);
    out.addAll(elems);
    return out;
  }

  static List<String> distinct(Ctx c) {
    List<String> got = c.jsc.parallelize(range(20_000), 4)
        .map(i -> i % 1234)
        .distinct(5)
        .map(i -> Integer.toString(i))
        .collect();
    List<String> expected = IntStream.range(0, 1234).mapToObj(Integer::toString).collect(Collectors.toList());
    return expectSorted(expected, got, "distinct values");
  }

  // ---------------------------------------------------------------- Spark SQL

  static List<String> sqlGroupBy(Ctx c) {
    SparkSession s = c.sql(Map.of("spark.sql.shuffle.partitions", "5"));
    int n = 200_000;
    Dataset<Row> df = s.range(0, n).selectExpr("id % 101 AS k", "id AS v")
        .groupBy("k").agg(count(lit(1)), sum("v"), max("v"), min("v"));
    List<String> got = rows(df);
    long[] cnt = new long[101];
    long[] sm = new long[101];
    long[] mx = new long[101];
    long[] mn = new long[101];
    java.util.Arrays.fill(mn, Long.MAX_VALUE);
    for (long id = 0; id < n; id++) {
      int k = (int) (id % 101);
      cnt[k]++;
      sm[k] += id;
      mx[k] = Math.max(mx[k], id);
      mn[k] = Math.min(mn[k], id);
    }
    List<String> expected = new ArrayList<>();
    for (int k = 0; k < 101; k++) expected.add(k + "," + cnt[k] + "," + sm[k] + "," + mx[k] + "," + mn[k]);
    expectSorted(expected, got, "SQL groupBy aggregates");
    return got;
  }

  static List<String> sqlSortMergeJoin(Ctx c) {
    SparkSession s = c.sql(Map.of(
        "spark.sql.autoBroadcastJoinThreshold", "-1",
        "spark.sql.shuffle.partitions", "6"));
    Dataset<Row> l = s.range(0, 50_000).selectExpr("id", "id % 1000 AS k");
    Dataset<Row> r = s.range(0, 2_000).selectExpr("id % 1000 AS k2", "concat('n', CAST(id AS STRING)) AS name");
    Dataset<Row> j = l.join(r, l.col("k").equalTo(r.col("k2"))).select("id", "name");
    List<String> got = rows(j);
    String plan = plan(j);
    check(plan.contains("SortMergeJoin"), "no SortMergeJoin in the executed plan:\n" + plan);
    check(!plan.contains("BroadcastHashJoin"), "a BroadcastHashJoin in the executed plan:\n" + plan);
    List<String> expected = new ArrayList<>();
    for (long id = 0; id < 50_000; id++) {
      expected.add(id + ",n" + (id % 1000));
      expected.add(id + ",n" + (id % 1000 + 1000));
    }
    expectSorted(expected, got, "SQL sort-merge join rows");
    return got;
  }

  static List<String> sqlWindow(Ctx c) {
    SparkSession s = c.sql(Map.of("spark.sql.shuffle.partitions", "4"));
    int n = 20_000;
    Dataset<Row> df = s.range(0, n).selectExpr("id", "id % 37 AS k", "(id * 7919) % 10007 AS v");
    WindowSpec w = Window.partitionBy("k").orderBy("v");
    Dataset<Row> out = df.select(col("k"), col("id"), col("v"), rank().over(w).as("rk"), sum("v").over(w).as("running"));
    List<String> got = rows(out);
    // Default frame with ORDER BY: RANGE UNBOUNDED PRECEDING .. CURRENT ROW (peers included).
    Map<Long, List<long[]>> byK = new TreeMap<>();
    for (long id = 0; id < n; id++) byK.computeIfAbsent(id % 37, k -> new ArrayList<>()).add(new long[] {id, (id * 7919) % 10007});
    List<String> expected = new ArrayList<>();
    byK.forEach((k, rowsOfK) -> {
      rowsOfK.sort((a, b) -> Long.compare(a[1], b[1]));
      int i = 0;
      long running = 0;
      while (i < rowsOfK.size()) {
        int j = i;
        long peers = 0;
        while (j < rowsOfK.size() && rowsOfK.get(j)[1] == rowsOfK.get(i)[1]) peers += rowsOfK.get(j++)[1];
        running += peers;
        for (int t = i; t < j; t++) {
          expected.add(k + "," + rowsOfK.get(t)[0] + "," + rowsOfK.get(t)[1] + "," + (i + 1) + "," + running);
        }
        i = j;
      }
    });
    expectSorted(expected, got, "SQL window rank/sum");
    return got;
  }

  static List<String> aqeCoalesce(Ctx c) {
    SparkSession s = c.sql(Map.of(
        "spark.sql.adaptive.enabled", "true",
        "spark.sql.adaptive.coalescePartitions.enabled", "true",
        "spark.sql.shuffle.partitions", "200"));
    Dataset<Row> df = s.range(0, 10_000).selectExpr("id % 10 AS k", "id").groupBy("k").agg(count(lit(1)), sum("id"));
    List<String> got = rows(df);
    String plan = plan(df);
    check(plan.contains("AQEShuffleRead") && plan.contains("coalesced"),
        "no coalescing AQEShuffleRead in the final plan:\n" + plan);
    List<String> expected = new ArrayList<>();
    for (int k = 0; k < 10; k++) {
      long sm = 0;
      for (long id = k; id < 10_000; id += 10) sm += id;
      expected.add(k + ",1000," + sm);
    }
    expectSorted(expected, got, "AQE coalesced aggregate");
    return got;
  }

  static List<String> aqeSkewJoin(Ctx c) {
    SparkSession s = c.sql(Map.of(
        "spark.sql.adaptive.enabled", "true",
        "spark.sql.adaptive.skewJoin.enabled", "true",
        "spark.sql.adaptive.skewJoin.skewedPartitionFactor", "2",
        "spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes", "10KB",
        "spark.sql.adaptive.advisoryPartitionSizeInBytes", "20KB",
        "spark.sql.autoBroadcastJoinThreshold", "-1",
        "spark.sql.shuffle.partitions", "10"));
    int n = 100_000;
    Dataset<Row> l = s.range(0, n).selectExpr("id AS lid", "CASE WHEN id < 60000 THEN 0 ELSE id % 500 END AS k");
    Dataset<Row> r = s.range(0, 1_500).selectExpr("id % 500 AS k2", "id AS rv");
    Dataset<Row> out = l.join(r, l.col("k").equalTo(r.col("k2")))
        .groupBy(expr("pmod(lid, 50)").as("g")).agg(count(lit(1)), sum("rv"), sum("lid"));
    List<String> got = rows(out);
    String plan = plan(out);
    check(plan.contains("SortMergeJoin") && plan.toLowerCase().contains("skew"),
        "no skew-split sort-merge join in the final plan:\n" + plan);
    long[] cnt = new long[50];
    long[] srv = new long[50];
    long[] slid = new long[50];
    for (long lid = 0; lid < n; lid++) {
      long k = lid < 60_000 ? 0 : lid % 500;
      int g = (int) (lid % 50);
      cnt[g] += 3;
      srv[g] += 3 * k + 1500;
      slid[g] += 3 * lid;
    }
    List<String> expected = new ArrayList<>();
    for (int g = 0; g < 50; g++) expected.add(g + "," + cnt[g] + "," + srv[g] + "," + slid[g]);
    expectSorted(expected, got, "AQE skew join aggregate");
    return got;
  }

  static List<String> aqeLocalShuffleReader(Ctx c) {
    SparkSession s = c.sql(Map.of(
        "spark.sql.adaptive.enabled", "true",
        "spark.sql.adaptive.localShuffleReader.enabled", "true",
        "spark.sql.autoBroadcastJoinThreshold", "1MB",
        "spark.sql.shuffle.partitions", "8"));
    int n = 1_000_000;
    // The filter hides the right side's real size from the static planner (sort-merge join);
    // once its shuffle has run, AQE sees ~1000 rows and switches to a broadcast join that reads
    // the left side's shuffle output locally.
    Dataset<Row> l = s.range(0, n).selectExpr("id", "id % 5000 AS k");
    Dataset<Row> r = s.range(0, n).where("id % 1000 = 0").selectExpr("id % 5000 AS k2", "id AS rid");
    Dataset<Row> out = l.join(r, l.col("k").equalTo(r.col("k2")))
        .groupBy(expr("pmod(id, 20)").as("g")).agg(count(lit(1)), sum("rid"));
    List<String> got = rows(out);
    String plan = plan(out);
    check(plan.contains("BroadcastHashJoin") && plan.contains("AQEShuffleRead local"),
        "no broadcast join over a local AQEShuffleRead in the final plan:\n" + plan);
    long[] rc = new long[5000];
    long[] rs = new long[5000];
    for (long rid = 0; rid < n; rid += 1000) {
      rc[(int) (rid % 5000)]++;
      rs[(int) (rid % 5000)] += rid;
    }
    long[] cnt = new long[20];
    long[] srid = new long[20];
    for (long id = 0; id < n; id++) {
      int k = (int) (id % 5000);
      cnt[(int) (id % 20)] += rc[k];
      srid[(int) (id % 20)] += rs[k];
    }
    List<String> expected = new ArrayList<>();
    for (int g = 0; g < 20; g++) {
      if (cnt[g] > 0) expected.add(g + "," + cnt[g] + "," + srid[g]);
    }
    expectSorted(expected, got, "AQE local-reader join aggregate");
    return got;
  }

  // ---------------------------------------------------------------- edges

  static final int BIG = 20 << 20;

  /** 20 MiB and a bit of incompressible bytes, the same for the same i everywhere. */
  static byte[] big(int i) {
    byte[] b = new byte[BIG + i * 1001];
    new Random(i).nextBytes(b);
    return b;
  }

  static String describeArray(byte[] b) {
    CRC32 crc = new CRC32();
    crc.update(b);
    return b.length + "/" + Long.toHexString(crc.getValue());
  }

  static List<String> largeRecords(Ctx c) {
    List<String> got = c.jsc.parallelize(List.of(0, 1, 2, 3), 2)
        .mapToPair(i -> new Tuple2<>(i % 2, big(i)))
        .groupByKey(2)
        .map(t -> {
          List<String> d = new ArrayList<>();
          for (byte[] b : t._2()) d.add(describeArray(b));
          Collections.sort(d);
          return t._1() + ":" + String.join(",", d);
        })
        .collect();
    List<String> expected = new ArrayList<>();
    for (int k = 0; k < 2; k++) {
      List<String> d = new ArrayList<>();
      for (int i = k; i < 4; i += 2) d.add(describeArray(big(i)));
      Collections.sort(d);
      expected.add(k + ":" + String.join(",", d));
    }
    return expectSorted(expected, got, "20 MiB records through groupByKey");
  }

  static List<String> emptyPartitions(Ctx c) {
    JavaPairRDD<Integer, Integer> parted = c.jsc.parallelize(range(3_000), 4)
        .mapToPair(i -> new Tuple2<>(i % 3, i))
        .partitionBy(new HashPartitioner(100));
    check(parted.getNumPartitions() == 100, "partitionBy: " + parted.getNumPartitions() + " partitions");
    List<String> got = parted.mapPartitionsWithIndex((p, it) -> {
      long k = 0;
      long sm = 0;
      while (it.hasNext()) {
        Tuple2<Integer, Integer> t = it.next();
        if (t._1() != (int) p) throw new IllegalStateException("key " + t._1() + " read in partition " + p);
        k++;
        sm += t._2();
      }
      return (k == 0 ? List.<String>of() : List.of(p + ":" + k + ":" + sm)).iterator();
    }, true).collect();
    List<String> expected = new ArrayList<>();
    for (int p = 0; p < 3; p++) {
      long sm = 0;
      for (int i = p; i < 3_000; i += 3) sm += i;
      expected.add(p + ":1000:" + sm);
    }
    return expectSorted(expected, got, "non-empty partitions of 100");
  }

  static List<String> partitions10000(Ctx c) {
    JavaPairRDD<Integer, Long> reduced = c.jsc.parallelize(range(8_000), 2)
        .mapToPair(i -> new Tuple2<>(i % 2_000, 1L))
        .reduceByKey(Long::sum, 10_000);
    check(reduced.getNumPartitions() == 10_000, "reduceByKey: " + reduced.getNumPartitions() + " partitions");
    JavaRDD<String> lines = reduced.mapPartitionsWithIndex((p, it) -> {
      List<String> out = new ArrayList<>();
      while (it.hasNext()) {
        Tuple2<Integer, Long> t = it.next();
        out.add(t._1() + "=" + t._2() + "@" + p);
      }
      return out.iterator();
    }, true);
    // local[...]: 10000 reduce tasks. local-cluster: the same 10000 partitions, each read by a
    // reader of its own, but by 16 tasks (coalesce is a narrow dependency): 10000 tasks there
    // cost ~45 s per mode of scheduling round trips, which say nothing about the shuffle.
    List<String> got = (c.cluster ? lines.coalesce(16) : lines).collect();
    List<String> expected = new ArrayList<>();
    for (int k = 0; k < 2_000; k++) expected.add(k + "=4@" + k);
    return expectSorted(expected, got, "reduceByKey into 10000 partitions");
  }

  // ---------------------------------------------------------------- failures

  /** Throws after {@code after} records on the first attempt (of the first stage attempt) of a task. */
  static <T> Iterator<T> failOnce(Iterator<T> it, boolean target, int after, String where) {
    TaskContext tc = TaskContext.get();
    if (!target || tc.attemptNumber() != 0 || tc.stageAttemptNumber() != 0) return it;
    return new Iterator<T>() {
      int n = 0;

      @Override
      public boolean hasNext() {
        return it.hasNext();
      }

      @Override
      public T next() {
        if (n++ == after) {
          throw new IllegalStateException("injected failure in the " + where + " stage, partition "
              + tc.partitionId() + ", attempt " + tc.attemptNumber() + " (expected by the harness)");
        }
        return it.next();
      }
    };
  }

  static List<String> taskRetry(Ctx c) throws Exception {
    c.probe.reset();
    List<String> got = c.jsc.parallelize(range(8_000), 4)
        .mapPartitionsWithIndex((p, it) -> failOnce(it, p == 1, 1_000, "map"), true)
        .mapToPair(i -> new Tuple2<>(i % 37, (long) i))
        .reduceByKey(Long::sum, 4)
        .mapPartitionsWithIndex((p, it) -> failOnce(it, p == 2, 3, "reduce"), true)
        .map(t -> t._1() + "=" + t._2())
        .collect();
    check(Probe.await(() -> c.probe.stagesWithFailedTasks.size() >= 2, 10_000),
        "wanted a failed task attempt in both the map and the reduce stage: " + c.probe.summary());
    long[] sums = new long[37];
    for (int i = 0; i < 8_000; i++) sums[i % 37] += i;
    List<String> expected = new ArrayList<>();
    for (int k = 0; k < 37; k++) expected.add(k + "=" + sums[k]);
    return expectSorted(expected, got, "sums after retried tasks");
  }

  static List<String> lostShuffle(Ctx c) throws Exception {
    JavaPairRDD<Integer, Long> reduced = c.jsc.parallelize(range(10_000), 4)
        .mapToPair(i -> new Tuple2<>(i % 41, (long) i))
        .reduceByKey(Long::sum, 4);
    JavaRDD<String> lines = reduced.map(t -> t._1() + "=" + t._2());
    long[] sums = new long[41];
    for (int i = 0; i < 10_000; i++) sums[i % 41] += i;
    List<String> expected = new ArrayList<>();
    for (int k = 0; k < 41; k++) expected.add(k + "=" + sums[k]);

    List<String> first = expectSorted(expected, lines.collect(), "first read");
    int shuffleId = ((ShuffleDependency<?, ?, ?>) reduced.rdd().dependencies().head()).shuffleId();
    if (c.pegasusMode()) {
      c.pegasus.unregisterShuffle(c.jsc.sc().applicationId(), shuffleId);
    } else {
      int deleted = deleteShuffleFiles(c.localDir, shuffleId);
      check(deleted > 0, "found no shuffle_" + shuffleId + "_* files to delete under " + c.localDir + "; there are: " + listShuffleFiles(c.localDir));
    }
    c.probe.reset();
    List<String> second = expectSorted(expected, lines.collect(), "read after the shuffle was lost");
    check(Probe.await(() -> c.probe.stageRetries.get() > 0 && c.probe.fetchFailures.get() > 0, 10_000),
        "wanted a fetch failure and a resubmitted stage after losing shuffle " + shuffleId + ": " + c.probe.summary());
    expectExact(first, second, "first and second read");
    return second;
  }

  /**
   * Pegasus mode: the server cuts the connection of the first read stream of every range
   * before its second frame ({@link Group#READ_CUTS}). The reduce tasks must resume their
   * reads and get every record exactly once, with no task failure, no fetch failure and no
   * stage rerun; and the server must have sent more than the tasks took (the cut frames and
   * the blocks received again on resumes), or no read was cut and the test proves nothing.
   */
  static List<String> readCuts(Ctx c) throws Exception {
    int n = 120_000;
    int keys = 400;
    c.probe.reset();
    double sentBefore = c.pegasusMode() ? c.pegasus.metric("pegasus_read_bytes_total") : 0;
    // Values of hex noise: about 12 MB of shuffle that LZ4 cannot shrink much, so each of
    // the 4 reduce tasks reads several 1 MiB frames.
    List<String> got = c.jsc.parallelize(range(n), 4)
        .mapToPair(i -> new Tuple2<>(i % keys, noise(i)))
        .groupByKey(4)
        .map(t -> {
          long count = 0;
          long sum = 0;
          for (String v : t._2()) {
            count++;
            sum += v.hashCode() & 0xffffffffL;
          }
          return t._1() + ":" + count + ":" + sum;
        })
        .collect();
    long[] counts = new long[keys];
    long[] sums = new long[keys];
    for (int i = 0; i < n; i++) {
      counts[i % keys]++;
      sums[i % keys] += noise(i).hashCode() & 0xffffffffL;
    }
    List<String> expected = new ArrayList<>();
    for (int k = 0; k < keys; k++) expected.add(k + ":" + counts[k] + ":" + sums[k]);
    List<String> out = expectSorted(expected, got, "groupByKey over cut reads");
    Map<Integer, ShuffleTotals> stages = c.probe.shuffleByStage(c.jsc.sc());
    check(c.probe.fetchFailures.get() == 0 && c.probe.exceptionFailures.get() == 0 && c.probe.stageRetries.get() == 0,
        "reads that were cut must resume, not fail tasks or rerun stages: " + c.probe.summary());
    if (c.pegasusMode()) {
      long taken = stages.values().stream().mapToLong(ShuffleTotals::remoteBytesRead).sum();
      double sent = c.pegasus.metric("pegasus_read_bytes_total") - sentBefore;
      check(taken > 0 && sent > taken, "the server sent " + (long) sent + " B and the reduce tasks took " + taken
          + " B: no read was cut (is PEGASUS_FAULT_READ_CUTS set on the server?)");
    }
    return out;
  }

  /** 96 hex characters derived from i. */
  static String noise(int i) {
    StringBuilder sb = new StringBuilder(96);
    long x = i * 0x9E3779B97F4A7C15L + 1;
    while (sb.length() < 96) {
      x ^= x >>> 31;
      x *= 0xBF58476D1CE4E5B9L;
      x ^= x >>> 27;
      sb.append(Long.toHexString(x | Long.MIN_VALUE));
    }
    return sb.substring(0, 96);
  }

  static int deleteShuffleFiles(Path root, int shuffleId) throws IOException {
    String prefix = "shuffle_" + shuffleId + "_";
    int n = 0;
    try (Stream<Path> files = Files.walk(root)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        if (Files.isRegularFile(p) && p.getFileName().toString().startsWith(prefix)) {
          Files.deleteIfExists(p);
          n++;
        }
      }
    }
    return n;
  }

  static String listShuffleFiles(Path root) throws IOException {
    try (Stream<Path> files = Files.walk(root)) {
      return files.filter(p -> p.getFileName().toString().startsWith("shuffle_")).map(p -> root.relativize(p).toString())
          .sorted().limit(20).collect(Collectors.joining(" "));
    }
  }

  /** On the first attempt of the target task: reads its input, then stalls (ignoring kills), then emits it. */
  static <T> Iterator<T> slowFirstAttempt(Iterator<T> it, boolean target, long stallMs) {
    TaskContext tc = TaskContext.get();
    if (!target || tc.attemptNumber() != 0 || tc.stageAttemptNumber() != 0) return it;
    List<T> all = new ArrayList<>();
    it.forEachRemaining(all::add);
    long deadline = System.nanoTime() + stallMs * 1_000_000L;
    long left;
    while ((left = deadline - System.nanoTime()) > 0) {
      try {
        Thread.sleep(Math.max(1, left / 1_000_000L));
      } catch (InterruptedException e) {
        // Killed because the speculative copy won: keep going, so that this attempt still
        // writes and commits its whole output, a true duplicate.
      }
    }
    return all.iterator();
  }

  static List<String> speculation(Ctx c) throws Exception {
    JavaPairRDD<Integer, Long> reduced = c.jsc.parallelize(range(8_000), 4)
        .mapPartitionsWithIndex((p, it) -> slowFirstAttempt(it, p == 0, 4_000), true)
        .mapToPair(i -> new Tuple2<>(i % 31, (long) i))
        .reduceByKey(Long::sum, 4);
    JavaRDD<String> lines = reduced.map(t -> t._1() + "=" + t._2());
    long[] sums = new long[31];
    for (int i = 0; i < 8_000; i++) sums[i % 31] += i;
    List<String> expected = new ArrayList<>();
    for (int k = 0; k < 31; k++) expected.add(k + "=" + sums[k]);

    c.probe.reset();
    List<String> first = expectSorted(expected, lines.collect(), "result with a speculated map task");
    check(Probe.await(() -> c.probe.speculativeStarts.get() > 0, 5_000),
        "no speculative task attempt ran: " + c.probe.summary());
    // The original attempt ends (and commits its duplicate output) after the job; read the
    // same shuffle again once every attempt has ended.
    check(Probe.await(() -> c.probe.tasksEnded.get() >= c.probe.tasksStarted.get(), 30_000),
        "task attempts still running 30 s after the job: " + c.probe.summary());
    List<String> second = expectSorted(expected, lines.collect(), "re-read after the losing attempt committed");
    expectExact(first, second, "first and second read");
    return first;
  }

  // ---------------------------------------------------------------- helpers

  static List<Integer> range(int n) {
    return IntStream.range(0, n).boxed().collect(Collectors.toList());
  }

  static String joinSortedInts(Iterable<Integer> values) {
    List<Integer> l = new ArrayList<>();
    values.forEach(l::add);
    Collections.sort(l);
    return l.stream().map(String::valueOf).collect(Collectors.joining(","));
  }

  static String joinSorted(Iterable<String> values) {
    List<String> l = new ArrayList<>();
    values.forEach(l::add);
    Collections.sort(l);
    return String.join(",", l);
  }

  static List<String> rows(Dataset<Row> df) {
    List<String> out = new ArrayList<>();
    for (Row r : df.collectAsList()) out.add(r.mkString(","));
    Collections.sort(out);
    return out;
  }

  /** The executed (for AQE: final, once run) physical plan. */
  static String plan(Dataset<Row> df) {
    return df.queryExecution().executedPlan().toString();
  }

  static void check(boolean ok, String message) {
    if (!ok) throw new AssertionError(message);
  }

  /** Sorts copies of both, requires them equal, returns the sorted actual lines. */
  static List<String> expectSorted(List<String> expected, List<String> actual, String what) {
    List<String> e = new ArrayList<>(expected);
    List<String> a = new ArrayList<>(actual);
    Collections.sort(e);
    Collections.sort(a);
    expectExact(e, a, what);
    return a;
  }

  static void expectExact(List<String> expected, List<String> actual, String what) {
    if (expected.equals(actual)) return;
    throw new AssertionError(what + ": " + diff(expected, actual));
  }

  /** A short description of how two line lists differ. */
  static String diff(List<String> expected, List<String> actual) {
    StringBuilder sb = new StringBuilder();
    sb.append(actual.size()).append(" lines, wanted ").append(expected.size());
    int n = Math.min(expected.size(), actual.size());
    for (int i = 0; i < n; i++) {
      if (!expected.get(i).equals(actual.get(i))) {
        sb.append("; first difference at line ").append(i).append(": got '").append(clip(actual.get(i)))
            .append("', wanted '").append(clip(expected.get(i))).append('\'');
        return sb.toString();
      }
    }
    if (actual.size() > n) sb.append("; extra line '").append(clip(actual.get(n))).append('\'');
    if (expected.size() > n) sb.append("; missing line '").append(clip(expected.get(n))).append('\'');
    return sb.toString();
  }

  private static String clip(String s) {
    return s.length() <= 160 ? s : s.substring(0, 160) + "...";
  }
}
