package io.pegasus.spark.it;

import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

import scala.Tuple2;

/**
 * One benchmark measurement (scripts/bench-spark.sh runs one JVM per job, mode and run, so no
 * run profits from another's warm JIT): a SparkSession with Spark's built-in sort shuffle or
 * with Pegasus, a warm-up, then the timed run. Prints one JSON line (see {@link #report}).
 *
 * <p>Jobs, on about --gib GiB of (8-byte key, 100-byte value) records unless said otherwise:
 * <ul>
 * <li>rdd-groupByKey: records generated in the map stage, groupByKey into P partitions, the
 *     group sizes summed (Kryo serializer).
 * <li>sql-groupBy: a generated table (k bigint, v string of 100 chars) grouped by a
 *     high-cardinality k (partial aggregation barely shrinks it) into P partitions: count and
 *     max(v), written to the noop sink.
 * <li>rdd-sortByKey: a global sort (sortByKey into P range partitions; Spark samples the input
 *     first), every partition checked sorted and the partitions checked in key order.
 * <li>small-queries: the {@link SmallQueries} set (TPC-H-like tables of about 140 MB, eight
 *     queries with joins and aggregations) with Spark SQL's defaults (AQE on, 200 shuffle
 *     partitions), timed as a set; the tables are written once under --data-dir and reused.
 * <li>executor-loss: sql-groupBy (its groups counted in the reduce tasks), and the first
 *     attempt of reduce task P/4 halts its executor JVM (once per run: it creates a marker
 *     file first). The built-in shuffle loses
 *     that executor's map outputs and must recompute them; Pegasus must not, and the run
 *     reports a failed lossCheck if either does otherwise.
 * </ul>
 * The warm-up runs the job on 1/20 of the data (small-queries: the whole set once;
 * executor-loss: without the kill).
 */
public final class Bench {
  private Bench() {}

  static final int VALUE_BYTES = 100;
  static final List<String> JOBS = List.of("rdd-groupByKey", "sql-groupBy", "rdd-sortByKey", "small-queries",
      "executor-loss", "tiny-shuffles");
  /** Jobs of the tiny-shuffles diagnostic. */
  static final int TINY_JOBS = 40;

  /** What a job's run returns: a check that must not depend on the mode, and optional extra JSON fields. */
  record Outcome(String check, String extraJson) {
    static Outcome of(String check) {
      return new Outcome(check, "");
    }
  }

  /** The parameters of one run. */
  record Params(String job, long records, int partitions, int mapTasks, Path workDir, Path dataDir, boolean warmUp) {
    Params warmUpCopy() {
      return new Params(job, Math.max(1, records / 20), partitions, mapTasks, workDir, dataDir, true);
    }
  }

  public static void main(String[] args) throws Exception {
    String job = "rdd-groupByKey";
    String mode = "builtin";
    String master = "local[2]";
    double gib = 2.0;
    int partitions = 400;
    int mapTasks = 16;
    Path pluginJar = null;
    Path repo = null;
    Path workDir = null;
    Path dataDir = null;
    String serverCpus = null;
    String executorMemory = "4g";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--job" -> job = args[++i];
        case "--mode" -> mode = args[++i];
        case "--master" -> master = args[++i];
        case "--gib" -> gib = Double.parseDouble(args[++i]);
        case "--partitions" -> partitions = Integer.parseInt(args[++i]);
        case "--map-tasks" -> mapTasks = Integer.parseInt(args[++i]);
        case "--plugin-jar" -> pluginJar = Paths.get(args[++i]).toAbsolutePath();
        case "--repo" -> repo = Paths.get(args[++i]).toAbsolutePath();
        case "--work-dir" -> workDir = Paths.get(args[++i]).toAbsolutePath();
        case "--data-dir" -> dataDir = Paths.get(args[++i]).toAbsolutePath();
        case "--server-cpus" -> serverCpus = args[++i];
        case "--executor-memory" -> executorMemory = args[++i];
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (!JOBS.contains(job)) throw new IllegalArgumentException("unknown job " + job + "; jobs: " + JOBS);
    if (repo == null) repo = Paths.get("").toAbsolutePath();
    if (workDir == null) workDir = Files.createTempDirectory("pegasus-bench-");
    if (dataDir == null) dataDir = workDir.resolve("tables");
    long records = (long) (gib * (1L << 30) / (8 + VALUE_BYTES));
    Params params = new Params(job, records, partitions, mapTasks, workDir, dataDir, false);

    PegasusServer server = null;
    int status = 0;
    try {
      if (mode.equals("pegasus")) {
        if (pluginJar == null) throw new IllegalArgumentException("pegasus mode needs --plugin-jar");
        List<String> launcher = serverCpus == null ? List.of() : List.of("taskset", "-c", serverCpus);
        server = PegasusServer.start(repo, workDir.resolve("pegasus-data"), workDir.resolve("pegasus-server.log"),
            launcher);
      }
      List<String> cp = new ArrayList<>();
      if (pluginJar != null && mode.equals("pegasus")) cp.add(pluginJar.toString());
      cp.add(ownJar().toString());
      Path localDir = workDir.resolve("spark-local");
      Files.createDirectories(localDir);
      SparkConf conf = new SparkConf()
          .setMaster(master)
          .setAppName("pegasus-bench-" + job + "-" + mode)
          .set("spark.ui.enabled", "false")
          .set("spark.driver.host", "127.0.0.1")
          .set("spark.driver.bindAddress", "127.0.0.1")
          .set("spark.local.dir", localDir.toString())
          .set("spark.executor.memory", executorMemory)
          .set("spark.executor.extraClassPath", String.join(File.pathSeparator, cp))
          .set("spark.driver.extraClassPath", String.join(File.pathSeparator, cp))
          .set("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
      if (job.equals("small-queries")) {
        // Spark SQL's own defaults, as a user's small queries run: AQE coalesces partitions and
        // switches joins to broadcast from the map outputs' sizes.
        conf.set("spark.sql.shuffle.partitions", "200").set("spark.sql.adaptive.enabled", "true");
      } else {
        // A fixed plan: no partition coalescing or join switching by AQE in either mode.
        conf.set("spark.sql.shuffle.partitions", Integer.toString(partitions)).set("spark.sql.adaptive.enabled", "false");
      }
      if (server != null) {
        conf.set("spark.shuffle.manager", Main.PEGASUS_MANAGER).set("spark.pegasus.servers", server.address());
      }
      String extra = System.getenv("PEGASUS_BENCH_CONF");
      if (extra != null && !extra.isBlank()) {
        for (String kv : extra.split(";")) {
          int eq = kv.indexOf('=');
          if (eq > 0) conf.set(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
        }
      }
      SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
      BenchMeter meter = new BenchMeter();
      spark.sparkContext().addSparkListener(meter);
      if (master.startsWith("local-cluster")) {
        int want = Integer.parseInt(master.replaceAll("local-cluster\\[(\\d+),.*", "$1"));
        while (spark.sparkContext().statusTracker().getExecutorInfos().length < want + 1) Thread.sleep(100);
      }
      ProcessCpu cpu = new ProcessCpu(server == null ? -1 : server.process.pid());
      ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "bench-cpu-sampler");
        t.setDaemon(true);
        return t;
      });
      try {
        long dataBytes = records * (8 + VALUE_BYTES);
        if (job.equals("small-queries")) {
          SmallQueries.generate(spark, dataDir);
          SmallQueries.register(spark, dataDir);
          dataBytes = SmallQueries.tableBytes(dataDir);
        }
        // Warm-up (JIT, class loading, connections); not measured.
        run(spark, params.warmUpCopy());
        Thread.sleep(1000);
        meter.reset();
        cpu.begin();
        // Every second, so that an executor that dies keeps the CPU time it had.
        sampler.scheduleWithFixedDelay(cpu::sample, 1, 1, TimeUnit.SECONDS);
        long t0 = System.nanoTime();
        Outcome outcome = run(spark, params);
        double seconds = (System.nanoTime() - t0) / 1e9;
        Thread.sleep(500); // let the listener bus deliver the last task ends
        if (job.equals("executor-loss")) outcome = ExecutorLoss.judge(outcome, mode, workDir, meter, mapTasks);
        sampler.shutdown();
        sampler.awaitTermination(10, TimeUnit.SECONDS);
        cpu.sample();
        System.out.println(report(job, mode, master, seconds, records, dataBytes, outcome, meter, cpu, serverCpus));
      } finally {
        sampler.shutdownNow();
        spark.stop();
      }
    } catch (Throwable e) {
      e.printStackTrace();
      status = 1;
    } finally {
      if (server != null) server.close();
    }
    System.exit(status);
  }

  /**
   * One JSON line: job, mode, master, seconds (the timed run), shuffleBytes/shuffleRecords
   * written, records and dataBytes (the job's input), check (equal in both modes),
   * stageSeconds ("id.attempt:s" per stage), mapStageSeconds (stages that wrote shuffle
   * output) and otherStageSeconds (summed: concurrent SQL stages overlap), shuffleWriteSeconds
   * (task time blocked writing shuffle output, summed over tasks), fetchWaitSeconds (reduce
   * time blocked on shuffle data, summed), mapTasks (successful map task runs), failedTasks,
   * repeatedStages ("id:attempts"), cpuSeconds per component, serverCpus, and the job's own
   * fields (small-queries: querySeconds; executor-loss: executorKilled, mapTasksRecomputed,
   * lossCheck).
   */
  static String report(String job, String mode, String master, double seconds, long records, long dataBytes,
      Outcome outcome, BenchMeter meter, ProcessCpu cpu, String serverCpus) {
    return String.format(Locale.ROOT,
        "{\"job\":\"%s\",\"mode\":\"%s\",\"master\":\"%s\",\"seconds\":%.2f,\"shuffleBytes\":%d,"
            + "\"shuffleRecords\":%d,\"records\":%d,\"dataBytes\":%d,\"check\":\"%s\",\"stageSeconds\":\"%s\","
            + "\"mapStageSeconds\":%.1f,\"otherStageSeconds\":%.1f,\"shuffleWriteSeconds\":%.2f,"
            + "\"fetchWaitSeconds\":%.2f,\"mapTasks\":%d,\"failedTasks\":%d,\"repeatedStages\":\"%s\","
            + "\"tasks\":%s,\"cpuSeconds\":%s,\"serverCpus\":%s%s}",
        job, mode, master, seconds, meter.bytes.get(), meter.records.get(), records, dataBytes, outcome.check(),
        String.join(" ", meter.stages), meter.mapStageSeconds(), meter.otherStageSeconds(), meter.writeNanos.get() / 1e9,
        meter.fetchWaitMs.get() / 1e3, meter.mapTasksSucceeded.get(), meter.tasksFailed.get(), meter.repeatedStages(),
        meter.taskJson(), cpu.json(), serverCpus == null ? "null" : "\"" + serverCpus + "\"",
        outcome.extraJson().isEmpty() ? "" : "," + outcome.extraJson());
  }

  /** Runs the job; the Outcome's check must not depend on the mode. */
  static Outcome run(SparkSession spark, Params p) throws IOException {
    return switch (p.job()) {
      case "rdd-groupByKey" -> Outcome.of(rddGroupByKey(spark, p.records(), p.partitions(), p.mapTasks()));
      case "sql-groupBy" -> Outcome.of(sqlGroupBy(spark, p.records(), p.partitions(), p.mapTasks()));
      case "rdd-sortByKey" -> Outcome.of(rddSortByKey(spark, p.records(), p.partitions(), p.mapTasks()));
      case "small-queries" -> {
        SmallQueries.Pass pass = SmallQueries.run(spark);
        yield new Outcome(pass.check(), "\"querySeconds\":" + SmallQueries.secondsJson(pass.seconds()));
      }
      case "tiny-shuffles" -> tinyShuffles(spark, p.warmUp() ? 5 : TINY_JOBS);
      case "executor-loss" -> p.warmUp()
          ? Outcome.of(ExecutorLoss.sqlGroupByCounted(spark, p, null, -1))
          : ExecutorLoss.run(spark, p);
      default -> throw new IllegalArgumentException("unknown job " + p.job());
    };
  }

  /** groupByKey of generated records; the group sizes summed. */
  static String rddGroupByKey(SparkSession spark, long n, int partitions, int mapTasks) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    long perTask = (n + mapTasks - 1) / mapTasks;
    long keySpace = Math.max(1, n / 8);
    List<Integer> tasks = Scenarios.range(mapTasks);
    long total = jsc.parallelize(tasks, mapTasks)
        .flatMapToPair(t -> generate(t, perTask, keySpace))
        .groupByKey(partitions)
        .mapPartitions(groups -> {
          long k = 0;
          while (groups.hasNext()) {
            for (byte[] v : groups.next()._2()) k += v.length == VALUE_BYTES ? 1 : 0;
          }
          return List.of(k).iterator();
        })
        .reduce(Long::sum);
    if (total != perTask * mapTasks) {
      throw new IllegalStateException("groupByKey saw " + total + " values, wanted " + perTask * mapTasks);
    }
    return "values=" + total;
  }

  /**
   * A global sort: sortByKey into P range partitions (Spark samples the keys first). Each
   * partition is checked sorted, and the partitions in key order; returns the record count.
   */
  static String rddSortByKey(SparkSession spark, long n, int partitions, int mapTasks) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    long perTask = (n + mapTasks - 1) / mapTasks;
    List<Integer> tasks = Scenarios.range(mapTasks);
    // (partition, count, first key, last key) per reduce partition; count -1 if out of order.
    List<long[]> parts = jsc.parallelize(tasks, mapTasks)
        .flatMapToPair(t -> generate(t, perTask, Long.MAX_VALUE))
        .sortByKey(true, partitions)
        .mapPartitionsWithIndex((index, it) -> {
          long count = 0;
          long first = Long.MIN_VALUE;
          long prev = Long.MIN_VALUE;
          boolean sorted = true;
          while (it.hasNext()) {
            Tuple2<Long, byte[]> r = it.next();
            long k = r._1();
            if (count == 0) first = k;
            else if (k < prev) sorted = false;
            if (r._2().length != VALUE_BYTES) sorted = false;
            prev = k;
            count++;
          }
          return List.of(new long[] {index, sorted ? count : -1, first, prev}).iterator();
        }, true)
        .collect();
    long total = 0;
    long last = Long.MIN_VALUE;
    List<long[]> ordered = new ArrayList<>(parts);
    ordered.sort(java.util.Comparator.comparingLong(x -> x[0]));
    for (long[] x : ordered) {
      if (x[1] < 0) throw new IllegalStateException("sortByKey: partition " + x[0] + " is not sorted");
      if (x[1] == 0) continue;
      if (x[2] < last) throw new IllegalStateException("sortByKey: partition " + x[0] + " starts at " + x[2]
          + ", below the previous partition's last key " + last);
      last = x[3];
      total += x[1];
    }
    if (total != perTask * mapTasks) {
      throw new IllegalStateException("sortByKey saw " + total + " records, wanted " + perTask * mapTasks);
    }
    return "sorted=" + total;
  }

  /**
   * The fixed costs of a shuffle, alone: {@code jobs} jobs of 2 map tasks (1,000 records
   * each) and 4 reduce tasks, one after another; extra JSON: the median and 90th percentile
   * of a job's milliseconds.
   */
  static Outcome tinyShuffles(SparkSession spark, int jobs) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    List<Integer> input = Scenarios.range(2000);
    List<Long> ms = new ArrayList<>();
    long total = 0;
    for (int j = 0; j < jobs; j++) {
      long t0 = System.nanoTime();
      for (Tuple2<Integer, Long> t : jsc.parallelize(input, 2).mapToPair(x -> new Tuple2<>(x % 100, 1L))
          .reduceByKey(Long::sum, 4).collect()) {
        total += t._2();
      }
      ms.add((System.nanoTime() - t0) / 1_000_000);
    }
    if (total != 2000L * jobs) throw new IllegalStateException("tiny-shuffles counted " + total + ", wanted " + 2000L * jobs);
    java.util.Collections.sort(ms);
    return new Outcome("count=" + total, "\"jobMs\":{\"median\":" + ms.get(ms.size() / 2) + ",\"p90\":"
        + ms.get(ms.size() * 9 / 10) + "}");
  }

  /** perTask records of (key in [0, keySpace), 100 random bytes), lazily. */
  static Iterator<Tuple2<Long, byte[]>> generate(int task, long perTask, long keySpace) {
    SplittableRandom rnd = new SplittableRandom(0x9E3779B97F4A7C15L * (task + 1));
    return new Iterator<>() {
      long i = 0;

      @Override
      public boolean hasNext() {
        return i < perTask;
      }

      @Override
      public Tuple2<Long, byte[]> next() {
        i++;
        byte[] v = new byte[VALUE_BYTES];
        for (int off = 0; off < VALUE_BYTES; off += 8) {
          long r = rnd.nextLong();
          for (int b = 0; b < 8 && off + b < VALUE_BYTES; b++) v[off + b] = (byte) (r >>> (8 * b));
        }
        return new Tuple2<>(rnd.nextLong(keySpace), v);
      }
    };
  }

  static String sqlGroupBy(SparkSession spark, long n, int partitions, int mapTasks) {
    sqlGrouped(spark, n, mapTasks).write().format("noop").mode("overwrite").save();
    return "groups<=" + sqlKeySpace(n);
  }

  static long sqlKeySpace(long n) {
    return Math.max(1, n / 2);
  }

  /**
   * sql-groupBy's query: a generated table (k bigint, v = the first 100 hex digits of
   * SHA-512 of the row id) grouped by k, count and max(v). The map stage computes the
   * values and partially aggregates them; the reduce stage (spark.sql.shuffle.partitions
   * tasks) merges the partial aggregates.
   */
  static Dataset<Row> sqlGrouped(SparkSession spark, long n, int mapTasks) {
    long keySpace = sqlKeySpace(n);
    Dataset<Row> table = spark.range(0, n, 1, mapTasks).selectExpr(
        "pmod(id * 2654435761, " + keySpace + ") AS k",
        "substr(sha2(CAST(id AS STRING), 512), 1, " + VALUE_BYTES + ") AS v");
    return table.groupBy("k").agg(
        org.apache.spark.sql.functions.count(org.apache.spark.sql.functions.lit(1)).as("c"),
        org.apache.spark.sql.functions.max("v").as("mv"));
  }

  private static Path ownJar() throws URISyntaxException {
    return Paths.get(Bench.class.getProtectionDomain().getCodeSource().getLocation().toURI());
  }
}
