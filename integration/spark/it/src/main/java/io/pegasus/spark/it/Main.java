package io.pegasus.spark.it;

import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

import io.pegasus.spark.it.Scenario.Group;

/**
 * The real-Spark test harness. Run with the matching Spark distribution's jars on the class path:
 * <pre>
 * SPARK_HOME=.spark/pyspark-3.5.9/pyspark SPARK_LOCAL_IP=127.0.0.1 SPARK_LOCAL_HOSTNAME=127.0.0.1 \
 *   java -Xmx2g -cp "$SPARK_HOME/jars/*:PLUGIN.jar:IT.jar" io.pegasus.spark.it.Main \
 *   --line 3.5 --plugin-jar PLUGIN.jar --master 'local[2,4]' [--master 'local-cluster[2,1,1024]'] \
 *   [--modes builtin,pegasus] [--only name,prefix.] [--timeout 180] [--no-kryo] [--repo DIR] [--work-dir DIR]
 * </pre>
 * For each master and each group of scenarios it runs every scenario once per mode, each mode in
 * a SparkSession of its own (one session per (master, mode, group), reused by the group's
 * scenarios, stopped before the next starts), and compares the modes' canonical results.
 * Prints {@code ok NAME} or {@code not ok NAME: REASON} (plus {@code #} lines with a short
 * stack trace) per scenario and, per master, {@code JVM <line> <master>: N passed, N failed}.
 * Exits 1 if anything failed.
 */
public final class Main {
  static final String PEGASUS_MANAGER = "org.apache.spark.shuffle.pegasus.PegasusShuffleManager";

  private final String line;
  private final List<String> masters = new ArrayList<>();
  private final List<String> modes = new ArrayList<>();
  private final List<String> only = new ArrayList<>();
  private Path pluginJar;
  private Path repo;
  private Path workDir;
  private long timeoutMs = 180_000;
  /** True when the harness made its work dir itself: removed at the end if everything passed. */
  private boolean ownWorkDir;
  private boolean kryo = true;
  private final Path itJar;

  private PegasusServer server;
  /** The server of the READ_CUTS group (pegasus mode), started when that group first runs. */
  private PegasusServer cutServer;

  private Main(String line, Path itJar) {
    this.line = line;
    this.itJar = itJar;
  }

  public static void main(String[] args) throws Exception {
    Main m = parse(args);
    if (m == null) return;
    int failed = m.run();
    System.out.flush();
    // Spark leaves non-daemon threads behind: leave explicitly.
    System.exit(failed > 0 ? 1 : 0);
  }

  private static Main parse(String[] args) throws Exception {
    Main m = new Main("?", ownJar());
    String lineLabel = null;
    boolean list = false;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--line" -> lineLabel = args[++i];
        case "--master" -> m.masters.add(args[++i]);
        case "--modes" -> m.modes.addAll(List.of(args[++i].split(",")));
        case "--only" -> m.only.addAll(List.of(args[++i].split(",")));
        case "--plugin-jar" -> m.pluginJar = Paths.get(args[++i]).toAbsolutePath();
        case "--repo" -> m.repo = Paths.get(args[++i]).toAbsolutePath();
        case "--work-dir" -> m.workDir = Paths.get(args[++i]).toAbsolutePath();
        case "--timeout" -> m.timeoutMs = Long.parseLong(args[++i]) * 1000L;
        case "--no-kryo" -> m.kryo = false;
        case "--list" -> list = true;
        default -> throw new IllegalArgumentException("unknown argument " + a + " (see the Main javadoc)");
      }
    }
    if (list) {
      for (Scenario s : Scenarios.all()) System.out.println(s.name() + " [" + s.group().name().toLowerCase(Locale.ROOT) + "]");
      return null;
    }
    Main r = new Main(lineLabel != null ? lineLabel : org.apache.spark.package$.MODULE$.SPARK_VERSION(), m.itJar);
    r.masters.addAll(m.masters.isEmpty() ? List.of("local[2,4]", "local-cluster[2,1,1024]") : m.masters);
    r.modes.addAll(m.modes.isEmpty() ? List.of("builtin", "pegasus") : m.modes);
    for (String mode : r.modes) {
      if (!mode.equals("builtin") && !mode.equals("pegasus")) throw new IllegalArgumentException("unknown mode " + mode);
    }
    r.only.addAll(m.only);
    r.pluginJar = m.pluginJar;
    r.repo = m.repo != null ? m.repo : findRepo();
    r.ownWorkDir = m.workDir == null;
    r.workDir = m.workDir != null ? m.workDir : Files.createTempDirectory("pegasus-spark-it-");
    r.timeoutMs = m.timeoutMs;
    r.kryo = m.kryo;
    if (r.modes.contains("pegasus") && (r.pluginJar == null || !Files.isRegularFile(r.pluginJar))) {
      throw new IllegalArgumentException("pegasus mode needs --plugin-jar pointing at the shaded plugin jar (got " + r.pluginJar + ")");
    }
    return r;
  }

  /** The jar (or classes directory) this class was loaded from: executors need it for the closures. */
  private static Path ownJar() throws URISyntaxException {
    return Paths.get(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
  }

  private static Path findRepo() {
    Path p = Paths.get("").toAbsolutePath();
    while (p != null) {
      if (Files.isDirectory(p.resolve("shuffle-server")) && Files.isDirectory(p.resolve("integration"))) return p;
      p = p.getParent();
    }
    throw new IllegalStateException("run from inside the Pegasus repository or pass --repo");
  }

  // ------------------------------------------------------------------ run

  private int run() throws Exception {
    for (String env : List.of("SPARK_HOME", "SPARK_SCALA_VERSION")) {
      // Spark's launcher (bin/load-spark-env.sh) sets these; local-cluster executors need both.
      if (System.getenv(env) == null) System.out.println("# " + env + " is not set: local-cluster executors cannot start");
    }
    Files.createDirectories(workDir);
    int failedTotal = 0;
    try {
      if (modes.contains("pegasus")) {
        Path log = workDir.resolve("pegasus-server.log");
        server = PegasusServer.start(repo, workDir.resolve("pegasus-data"), log);
        System.out.println("# pegasus-server on " + server.address() + " (log " + log + ")");
      }
      for (String master : masters) failedTotal += runMaster(master);
    } finally {
      if (server != null) server.close();
      if (cutServer != null) cutServer.close();
    }
    if (ownWorkDir && failedTotal == 0) deleteQuietly(workDir);
    else System.out.println("# work dir (server data and log, executor logs): " + workDir);
    return failedTotal;
  }

  private boolean selected(Scenario s) {
    if (only.isEmpty()) return true;
    for (String o : only) {
      if (o.endsWith(".") ? s.name().startsWith(o) : s.name().equals(o)) return true;
    }
    return false;
  }

  private int runMaster(String master) {
    boolean cluster = master.startsWith("local-cluster");
    int passed = 0;
    int failed = 0;
    List<Scenario> all = Scenarios.all().stream().filter(this::selected).toList();
    for (Group group : Group.values()) {
      List<Scenario> scenarios = all.stream().filter(s -> s.group() == group).toList();
      if (scenarios.isEmpty()) continue;
      if (group == Group.KRYO && (cluster || !kryo)) {
        System.out.println("# kryo.* scenarios run in the local[...] column only" + (kryo ? "" : " (disabled by --no-kryo)"));
        continue;
      }
      if (group == Group.READ_CUTS && cluster) {
        System.out.println("# read-cut scenarios run in the local[...] column only");
        continue;
      }
      if (group == Group.SPECULATION && !cluster) {
        System.out.println("# speculation runs in the local-cluster column only (local[...] mode never speculates)");
        continue;
      }
      Map<String, List<Outcome>> outcomes = new LinkedHashMap<>();
      for (Scenario s : scenarios) outcomes.put(s.name(), new ArrayList<>());
      for (int mi = 0; mi < modes.size(); mi++) {
        String mode = modes.get(mi);
        boolean lastMode = mi == modes.size() - 1;
        runGroup(master, cluster, group, mode, scenarios, outcomes, lastMode ? (s, list) -> {
          String problem = judge(list);
          if (problem == null) {
            System.out.println("ok " + s.name());
          } else {
            String[] lines = problem.split("\n");
            System.out.println("not ok " + s.name() + ": " + lines[0]);
            for (int i = 1; i < lines.length; i++) {
              System.out.println(lines[i].startsWith("#") ? lines[i] : "#   " + lines[i]);
            }
          }
          System.out.flush();
        } : null);
      }
      for (List<Outcome> list : outcomes.values()) {
        if (judge(list) == null) passed++;
        else failed++;
      }
    }
    System.out.println("JVM " + line + " " + master + ": " + passed + " passed, " + failed + " failed");
    System.out.flush();
    return failed;
  }

  private interface Reporter {
    void report(Scenario s, List<Outcome> outcomes);
  }

  /** A scenario's result in one mode: lines, or the error (with its stack trace text). */
  record Outcome(String mode, List<String> lines, String error, String trace, long millis) {}

  /** Null when the scenario passed: no errors, and every mode produced the same lines. */
  private static String judge(List<Outcome> outcomes) {
    List<String> errors = new ArrayList<>();
    for (Outcome o : outcomes) if (o.error != null) errors.add("[" + o.mode + "] " + o.error + (o.trace.isEmpty() ? "" : "\n" + o.trace));
    if (!errors.isEmpty()) return String.join("\n", errors);
    for (int i = 1; i < outcomes.size(); i++) {
      Outcome a = outcomes.get(0);
      Outcome b = outcomes.get(i);
      if (!a.lines.equals(b.lines)) {
        return "[" + b.mode + "] result differs from [" + a.mode + "]: " + Scenarios.diff(a.lines, b.lines);
      }
    }
    return null;
  }

  /** One SparkSession of a (master, group, mode), with its listener and, for speculation, its cluster. */
  private final class Session {
    final String master;
    final boolean cluster;
    final Group group;
    final String mode;
    final Path localDir;
    final Probe probe = new Probe();
    TwoHostCluster twoHosts;
    SparkSession spark;

    Session(String master, boolean cluster, Group group, String mode, Path localDir) {
      this.master = master;
      this.cluster = cluster;
      this.group = group;
      this.mode = mode;
      this.localDir = localDir;
    }

    String label() {
      return master + " " + group.name().toLowerCase(Locale.ROOT) + " " + mode;
    }

    void start() throws Exception {
      long t0 = System.nanoTime();
      Files.createDirectories(localDir);
      SparkConf conf = conf(master, group, mode, localDir);
      if (group == Group.SPECULATION) {
        twoHosts = new TwoHostCluster(2, 1, 1024, conf, workDir.resolve("cluster-" + localDir.getFileName()));
        conf.setMaster(twoHosts.masterUrl).set("spark.cores.max", "2");
      }
      SparkSession.clearActiveSession();
      SparkSession.clearDefaultSession();
      // Spark caches spark.local.dir per JVM: without this, a later session (and the executors
      // of an in-process local-cluster) would keep using the first session's directory.
      org.apache.spark.util.Utils$.MODULE$.clearLocalRootDirs();
      spark = SparkSession.builder().config(conf).getOrCreate();
      spark.sparkContext().addSparkListener(probe);
      if (cluster || group == Group.SPECULATION) awaitExecutors(spark, 2, 60_000);
      System.out.printf("# %s session started in %.1f s (app %s, %s, shuffle manager %s)%n", label(),
          (System.nanoTime() - t0) / 1e9, spark.sparkContext().applicationId(),
          spark.sparkContext().getConf().get("spark.serializer").replaceAll(".*\\.", ""),
          spark.sparkContext().getConf().get("spark.shuffle.manager", "sort"));
    }

    /** Stops the session; gives up waiting after 60 s (a wedged task must not hang the run). */
    void stop() {
      long t0 = System.nanoTime();
      SparkSession s = spark;
      TwoHostCluster c = twoHosts;
      spark = null;
      twoHosts = null;
      Thread stopper = new Thread(() -> {
        try {
          if (s != null) s.stop();
        } catch (Throwable e) {
          System.out.println("# stopping the session failed: " + e);
        }
        try {
          if (c != null) c.close();
        } catch (Throwable e) {
          System.out.println("# stopping the two-host cluster failed: " + e);
        }
      }, "session-stopper");
      stopper.setDaemon(true);
      stopper.start();
      try {
        stopper.join(60_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      SparkSession.clearActiveSession();
      SparkSession.clearDefaultSession();
      System.out.printf("# %s session stopped in %.1f s%s%n", label(), (System.nanoTime() - t0) / 1e9,
          stopper.isAlive() ? " (gave up waiting)" : "");
    }
  }

  private void runGroup(String master, boolean cluster, Group group, String mode, List<Scenario> scenarios,
                        Map<String, List<Outcome>> outcomes, Reporter reporter) {
    String tag = sanitize(master) + "-" + group.name().toLowerCase(Locale.ROOT) + "-" + mode;
    int generation = 0;
    Session session = null;
    String startError = null;
    String startTrace = "";
    for (Scenario s : scenarios) {
      if (session == null && startError == null) {
        session = new Session(master, cluster, group, mode, workDir.resolve("local-" + tag + (generation++ == 0 ? "" : "-" + generation)));
        try {
          session.start();
        } catch (Throwable e) {
          startError = "session did not start: " + e;
          startTrace = trace(e);
          session.stop();
          session = null;
        }
      }
      Outcome o;
      if (startError != null) {
        o = new Outcome(mode, List.of(), startError, startTrace, 0);
        startError = "session did not start (see " + s.name() + ")";
        startTrace = "";
      } else {
        Ctx ctx = new Ctx(session.spark, session.probe, mode, cluster || group == Group.SPECULATION, session.localDir,
            mode.equals("pegasus") ? new PegasusAdmin(serverOf(group).address()) : null);
        o = runOne(s, ctx);
        if (o.error != null && o.error.startsWith("timed out")) {
          // Tasks that ignored the cancellation would hold the session's task slots (and delay
          // every later scenario): the next scenario gets a fresh session.
          System.out.println("# " + s.name() + " timed out: restarting the session");
          session.stop();
          deleteQuietly(session.localDir);
          session = null;
        }
      }
      System.out.printf("# %-28s %-8s %6.1f s%s%n", s.name(), mode, o.millis / 1000.0, o.error == null ? "" : "  FAILED");
      outcomes.get(s.name()).add(o);
      if (reporter != null) reporter.report(s, outcomes.get(s.name()));
    }
    if (session != null) {
      session.stop();
      deleteQuietly(session.localDir);
    }
  }

  /** The Pegasus server a group's sessions use; starts the read-cutting one on first use. */
  private PegasusServer serverOf(Group group) {
    if (group != Group.READ_CUTS) return server;
    if (cutServer == null) {
      Path log = workDir.resolve("pegasus-server-read-cuts.log");
      try {
        cutServer = PegasusServer.start(repo, workDir.resolve("pegasus-data-read-cuts"), log, List.of(),
            Map.of("PEGASUS_FAULT_READ_CUTS", "1"));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      System.out.println("# pegasus-server cutting the first read of every range on " + cutServer.address() + " (log " + log + ")");
    }
    return cutServer;
  }

  private SparkConf conf(String master, Group group, String mode, Path localDir) {
    List<String> cp = new ArrayList<>();
    if (mode.equals("pegasus")) cp.add(pluginJar.toString());
    cp.add(itJar.toString());
    String classPath = String.join(File.pathSeparator, cp);
    SparkConf conf = new SparkConf()
        .setMaster(master)
        .setAppName("pegasus-it-" + line + "-" + group.name().toLowerCase(Locale.ROOT) + "-" + mode)
        .set("spark.ui.enabled", "false")
        .set("spark.driver.host", "127.0.0.1")
        .set("spark.driver.bindAddress", "127.0.0.1")
        .set("spark.local.dir", localDir.toString())
        .set("spark.executor.memory", "1g")
        .set("spark.executor.extraClassPath", classPath)
        .set("spark.driver.extraClassPath", classPath)
        .set("spark.task.maxFailures", "4")
        .set("spark.sql.shuffle.partitions", "4")
        .set("spark.default.parallelism", "4")
        .set("spark.sql.adaptive.enabled", "true")
        .set("spark.serializer", group == Group.KRYO
            ? "org.apache.spark.serializer.KryoSerializer" : "org.apache.spark.serializer.JavaSerializer");
    // Executor JVMs live for one session only: C1 warms up much faster on 2 cores than C2.
    String executorOpts = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC";
    String log4j = System.getProperty("log4j2.configurationFile");
    if (log4j != null) executorOpts += " -Dlog4j2.configurationFile=" + log4j;
    conf.set("spark.executor.extraJavaOptions", executorOpts);
    if (mode.equals("pegasus")) {
      conf.set("spark.shuffle.manager", PEGASUS_MANAGER).set("spark.pegasus.servers", serverOf(group).address());
    }
    if (group == Group.SPECULATION) {
      conf.set("spark.speculation", "true")
          .set("spark.speculation.interval", "100ms")
          .set("spark.speculation.multiplier", "1.1")
          .set("spark.speculation.quantile", "0.5")
          .set("spark.speculation.minTaskRuntime", "100ms")
          // 3.4+: otherwise a stalled task that has read all its input may not count as slow.
          .set("spark.speculation.efficiency.enabled", "false");
    }
    // Extra settings for experiments: PEGASUS_IT_CONF="k=v;k=v".
    String extra = System.getenv("PEGASUS_IT_CONF");
    if (extra != null && !extra.isBlank()) {
      for (String kv : extra.split(";")) {
        int eq = kv.indexOf('=');
        if (eq > 0) conf.set(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
      }
    }
    return conf;
  }

  private static void awaitExecutors(SparkSession spark, int n, long timeoutMs) throws InterruptedException {
    long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
    // getExecutorInfos includes the driver.
    while (spark.sparkContext().statusTracker().getExecutorInfos().length < n + 1) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(n + " executors did not register in " + timeoutMs / 1000 + " s");
      }
      Thread.sleep(100);
    }
  }

  /** Runs a scenario on its own thread under the timeout; on timeout, cancels its jobs. */
  private Outcome runOne(Scenario s, Ctx ctx) {
    AtomicReference<List<String>> result = new AtomicReference<>();
    AtomicReference<Throwable> error = new AtomicReference<>();
    String jobGroup = "it-" + s.name();
    Thread t = new Thread(() -> {
      try {
        ctx.jsc.setJobGroup(jobGroup, s.name(), true);
        result.set(s.body().run(ctx));
      } catch (Throwable e) {
        error.set(e);
      } finally {
        ctx.jsc.clearJobGroup();
      }
    }, "scenario-" + s.name());
    t.setDaemon(true);
    long t0 = System.nanoTime();
    t.start();
    try {
      t.join(timeoutMs);
      if (t.isAlive()) {
        String stuck = taskThreadStacks();
        ctx.jsc.cancelJobGroup(jobGroup);
        t.interrupt();
        t.join(30_000);
        long ms = (System.nanoTime() - t0) / 1_000_000L;
        String note = t.isAlive() ? "#   (the scenario thread is still running after its jobs were cancelled)\n" : "";
        return new Outcome(ctx.mode, List.of(), "timed out after " + timeoutMs / 1000 + " s", note + stuck, ms);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    long ms = (System.nanoTime() - t0) / 1_000_000L;
    if (error.get() != null) {
      Throwable e = error.get();
      return new Outcome(ctx.mode, List.of(), String.valueOf(e), trace(e), ms);
    }
    if (result.get() == null) return new Outcome(ctx.mode, List.of(), "returned no result", "", ms);
    return new Outcome(ctx.mode, result.get(), null, "", ms);
  }

  /**
   * Where the driver JVM's task threads are (local mode runs the tasks here; for local-cluster
   * see the executors' stderr under the work dir): the first frames of each, as comment lines.
   */
  static String taskThreadStacks() {
    StringBuilder sb = new StringBuilder();
    Thread.getAllStackTraces().forEach((th, st) -> {
      String n = th.getName();
      if (!n.startsWith("Executor task launch") && !n.startsWith("scenario-")) return;
      for (StackTraceElement e : st) if (e.getMethodName().equals("getTask")) return; // an idle pool thread
      sb.append("#   thread \"").append(n).append("\" ").append(th.getState()).append('\n');
      for (int i = 0; i < Math.min(12, st.length); i++) sb.append("#     at ").append(st[i]).append('\n');
    });
    if (sb.length() > 0) sb.setLength(sb.length() - 1);
    return sb.toString();
  }

  /** A short stack trace as TAP comment lines: a few frames of the error and of each cause. */
  static String trace(Throwable e) {
    StringWriter sw = new StringWriter();
    PrintWriter pw = new PrintWriter(sw);
    int depth = 0;
    for (Throwable t = e; t != null && depth < 4; t = t.getCause(), depth++) {
      if (depth > 0) pw.println("#   caused by: " + firstLine(String.valueOf(t)));
      StackTraceElement[] st = t.getStackTrace();
      for (int i = 0; i < Math.min(6, st.length); i++) pw.println("#     at " + st[i]);
    }
    pw.flush();
    String s = sw.toString();
    return s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
  }

  private static String firstLine(String s) {
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl) + " ...";
  }

  private static String sanitize(String master) {
    return master.replaceAll("[^A-Za-z0-9]+", "_");
  }

  private static void deleteQuietly(Path dir) {
    if (!Files.exists(dir)) return;
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | RuntimeException e) {
      // leftovers in the work dir are harmless
    }
  }
}
