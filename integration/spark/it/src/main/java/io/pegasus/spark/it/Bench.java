package io.pegasus.spark.it;

import java.io.File;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

import scala.Tuple2;

/**
 * One benchmark measurement (scripts/bench-spark.sh runs one JVM per job and mode, so neither
 * mode profits from the other's warm JIT): a SparkSession with Spark's built-in sort shuffle
 * or with Pegasus, a warm-up run of the job on 1/20 of the data, then the timed run. Prints one
 * JSON line: {"job","mode","master","seconds","shuffleBytes","shuffleRecords","check"}.
 *
 * Jobs: rdd-groupByKey  (long key, 100-byte value) records generated in the map stage,
 *                       groupByKey into P partitions, the group sizes summed (Kryo serializer).
 *       sql-groupBy     a generated table (k bigint, v string of 100 chars) grouped by a
 *                       high-cardinality k (partial aggregation barely shrinks it) into P
 *                       partitions: count and max(v), written to the noop sink.
 */
public final class Bench {
  private Bench() {}

  static final int VALUE_BYTES = 100;

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
        case "--executor-memory" -> executorMemory = args[++i];
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (repo == null) repo = Paths.get("").toAbsolutePath();
    if (workDir == null) workDir = Files.createTempDirectory("pegasus-bench-");
    long records = (long) (gib * (1L << 30) / (8 + VALUE_BYTES));

    PegasusServer server = null;
    int status = 0;
    try {
      if (mode.equals("pegasus")) {
        if (pluginJar == null) throw new IllegalArgumentException("pegasus mode needs --plugin-jar");
        server = PegasusServer.start(repo, workDir.resolve("pegasus-data"), workDir.resolve("pegasus-server.log"));
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
          .set("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
          .set("spark.sql.shuffle.partitions", Integer.toString(partitions))
          // A fixed plan: no partition coalescing or join switching by AQE in either mode.
          .set("spark.sql.adaptive.enabled", "false");
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
      ShuffleMeter meter = new ShuffleMeter();
      spark.sparkContext().addSparkListener(meter);
      if (master.startsWith("local-cluster")) {
        int want = Integer.parseInt(master.replaceAll("local-cluster\\[(\\d+),.*", "$1"));
        while (spark.sparkContext().statusTracker().getExecutorInfos().length < want + 1) Thread.sleep(100);
      }
      try {
        // Warm-up (JIT, class loading, connections) on 1/20 of the data; not measured.
        run(spark, job, Math.max(1, records / 20), partitions, mapTasks);
        Thread.sleep(1000);
        meter.reset();
        long t0 = System.nanoTime();
        String check = run(spark, job, records, partitions, mapTasks);
        double seconds = (System.nanoTime() - t0) / 1e9;
        Thread.sleep(500); // let the listener bus deliver the last task ends
        System.out.println(String.format(Locale.ROOT,
            "{\"job\":\"%s\",\"mode\":\"%s\",\"master\":\"%s\",\"seconds\":%.2f,\"shuffleBytes\":%d,\"shuffleRecords\":%d,\"records\":%d,\"check\":\"%s\",\"stageSeconds\":\"%s\",\"shuffleWriteSeconds\":%.1f}",
            job, mode, master, seconds, meter.bytes.get(), meter.records.get(), records, check, String.join(" ", meter.stages), meter.writeNanos.get() / 1e9));
      } finally {
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

  /** Runs the job on n records; returns a checksum-like string that must not depend on the mode. */
  static String run(SparkSession spark, String job, long n, int partitions, int mapTasks) {
    return switch (job) {
      case "rdd-groupByKey" -> rddGroupByKey(spark, n, partitions, mapTasks);
      case "sql-groupBy" -> sqlGroupBy(spark, n, partitions, mapTasks);
      default -> throw new IllegalArgumentException("unknown job " + job);
    };
  }

  static String rddGroupByKey(SparkSession spark, long n, int partitions, int mapTasks) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    long perTask = (n + mapTasks - 1) / mapTasks;
    long keySpace = Math.max(1, n / 8);
    List<Integer> tasks = Scenarios.range(mapTasks);
    long total = jsc.parallelize(tasks, mapTasks)
        .flatMapToPair(t -> generate(t, perTask, keySpace))
        .groupByKey(partitions)
        .map(g -> {
          long k = 0;
          for (byte[] v : g._2()) k += v.length == VALUE_BYTES ? 1 : 0;
          return k;
        })
        .reduce(Long::sum);
    if (total != perTask * mapTasks) {
      throw new IllegalStateException("groupByKey saw " + total + " values, wanted " + perTask * mapTasks);
    }
    return "values=" + total;
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
    long keySpace = Math.max(1, n / 2);
    Dataset<Row> table = spark.range(0, n, 1, mapTasks).selectExpr(
        "pmod(id * 2654435761, " + keySpace + ") AS k",
        "substr(sha2(CAST(id AS STRING), 512), 1, " + VALUE_BYTES + ") AS v");
    Dataset<Row> grouped = table.groupBy("k").agg(
        org.apache.spark.sql.functions.count(org.apache.spark.sql.functions.lit(1)).as("c"),
        org.apache.spark.sql.functions.max("v").as("mv"));
    grouped.write().format("noop").mode("overwrite").save();
    return "groups<=" + keySpace;
  }

  private static Path ownJar() throws URISyntaxException {
    return Paths.get(Bench.class.getProtectionDomain().getCodeSource().getLocation().toURI());
  }

  /** Sums shuffle write bytes and records over every task. */
  public static final class ShuffleMeter extends SparkListener {
    final AtomicLong bytes = new AtomicLong();
    final AtomicLong records = new AtomicLong();
    /** Task time blocked writing shuffle output (Pegasus: pushes waiting on the window, commits). */
    final AtomicLong writeNanos = new AtomicLong();

    /** "stageId:seconds" of every stage completed since the last reset, in completion order. */
    final List<String> stages = java.util.Collections.synchronizedList(new ArrayList<>());

    void reset() {
      bytes.set(0);
      records.set(0);
      writeNanos.set(0);
      stages.clear();
    }

    @Override
    public void onStageCompleted(org.apache.spark.scheduler.SparkListenerStageCompleted e) {
      var info = e.stageInfo();
      if (info.submissionTime().isDefined() && info.completionTime().isDefined()) {
        long ms = (Long) info.completionTime().get() - (Long) info.submissionTime().get();
        stages.add(String.format(Locale.ROOT, "%d:%.1f", info.stageId(), ms / 1000.0));
      }
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd e) {
      if (e.taskMetrics() == null) return;
      bytes.addAndGet(e.taskMetrics().shuffleWriteMetrics().bytesWritten());
      records.addAndGet(e.taskMetrics().shuffleWriteMetrics().recordsWritten());
      writeNanos.addAndGet(e.taskMetrics().shuffleWriteMetrics().writeTime());
    }
  }
}
