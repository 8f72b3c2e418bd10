package org.apache.spark.shuffle.pegasus;

import io.pegasus.client.ConnectionPool;
import io.pegasus.client.PegasusException;
import org.apache.spark.ShuffleDependency;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.shuffle.ShuffleBlockResolver;
import org.apache.spark.shuffle.ShuffleHandle;
import org.apache.spark.shuffle.ShuffleManager;
import org.apache.spark.shuffle.ShuffleReadMetricsReporter;
import org.apache.spark.shuffle.ShuffleReader;
import org.apache.spark.shuffle.ShuffleWriteMetricsReporter;
import org.apache.spark.shuffle.ShuffleWriter;
import org.apache.spark.storage.BlockManagerId;
import org.apache.spark.storage.BlockManagerId$;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Option;

/**
 * Spark's entry point: {@code spark.shuffle.manager=org.apache.spark.shuffle.pegasus.PegasusShuffleManager}.
 *
 * <p>One instance per JVM (Spark's SparkEnv makes it). On the driver it registers shuffles
 * with the servers (off the thread that builds the job), unregisters them when Spark's
 * ContextCleaner does, heart-beats the application and removes it from the servers on stop
 * ({@link DriverSession}). On every JVM it owns the connection pool used by the map and
 * reduce tasks, and opens a connection to each server as it starts.
 */
public final class PegasusShuffleManager implements ShuffleManager {
  private static final Logger LOG = LoggerFactory.getLogger(PegasusShuffleManager.class);
  /** Executor id of the pseudo location of every map output of a shuffle (see location()). */
  static final String LOCATION_PREFIX = "pegasus-shuffle-";

  private final SparkConf sparkConf;
  private final boolean isDriver;
  private final PegasusConf conf;
  private final ConnectionPool pool;
  private final ShuffleBlockResolver resolver = new PegasusBlockResolver();
  private volatile DriverSession driver;
  private volatile boolean stopped;

  /** Spark's SparkEnv calls this constructor (it tries (SparkConf, boolean) first). */
  public PegasusShuffleManager(SparkConf sparkConf, boolean isDriver) {
    this.sparkConf = sparkConf;
    this.isDriver = isDriver;
    this.conf = new PegasusConf(sparkConf);
    this.pool = new ConnectionPool(conf.clientOptions);
    LOG.info("Pegasus shuffle manager started ({}, {})", isDriver ? "driver" : "executor", conf);
    openConnectionsEarly();
  }

  /**
   * Opens one pooled connection to every server on a thread of its own, while the JVM is
   * still starting: otherwise the first task of each executor (and the driver's first
   * registration) waits for the WebSocket upgrade, the Hello and the HTTP client's own first
   * use, before its first push or read. A server that cannot be reached now is only logged:
   * tasks connect (and report errors) as before.
   */
  private void openConnectionsEarly() {
    Thread t = new Thread(() -> {
      for (String server : conf.servers) {
        if (stopped) return;
        try {
          pool.release(pool.borrow(server));
        } catch (PegasusException e) {
          if (!stopped) LOG.warn("Pegasus: cannot connect to {} yet: {}: {}", server, e.codeName(), e.getMessage());
        } catch (RuntimeException e) {
          if (!stopped) LOG.warn("Pegasus: cannot connect to {} yet", server, e);
        }
      }
    }, "pegasus-connect");
    t.setDaemon(true);
    t.start();
  }

  PegasusConf conf() {
    return conf;
  }

  ConnectionPool pool() {
    return pool;
  }

  /**
   * The MapStatus location of every map output of a shuffle: a pseudo executor per shuffle.
   * When a reader reports a fetch failure at this location, Spark's DAGScheduler removes the
   * map outputs of that executor id, which are exactly this shuffle's, and recomputes them;
   * real executors coming and going never touch them, because the data is on the servers.
   */
  static BlockManagerId location(int shuffleId) {
    String host = "localhost";
    int port = 1;
    SparkEnv env = SparkEnv.get();
    if (env != null && env.blockManager() != null && env.blockManager().blockManagerId() != null) {
      host = env.blockManager().blockManagerId().host();
      port = env.blockManager().blockManagerId().port();
    }
    return BlockManagerId$.MODULE$.apply(LOCATION_PREFIX + shuffleId, host, port, Option.<String>empty());
  }

  private DriverSession driver() {
    DriverSession d = driver;
    if (d == null) {
      synchronized (this) {
        d = driver;
        if (d == null) {
          String appId = conf.appIdOverride.isEmpty() ? sparkConf.getAppId() : conf.appIdOverride;
          d = new DriverSession(appId, conf, pool);
          driver = d;
        }
      }
    }
    return d;
  }

  @Override
  public <K, V, C> ShuffleHandle registerShuffle(int shuffleId, ShuffleDependency<K, V, C> dependency) {
    int numMaps = dependency.rdd().partitions().length;
    int numPartitions = dependency.partitioner().numPartitions();
    DriverSession d = driver();
    PartitionPlacement placement = new PartitionPlacement(conf.servers, shuffleId);
    if (numMaps > 0) d.registerShuffle(shuffleId, numMaps, numPartitions);
    return new PegasusShuffleHandle<>(shuffleId, dependency, d.appId(), placement, numMaps, numPartitions);
  }

  @Override
  @SuppressWarnings("unchecked")
  public <K, V> ShuffleWriter<K, V> getWriter(ShuffleHandle handle, long mapId, TaskContext context,
      ShuffleWriteMetricsReporter metrics) {
    return new PegasusShuffleWriter<>(this, (PegasusShuffleHandle<K, V, Object>) handle, mapId, context, metrics);
  }

  @Override
  @SuppressWarnings("unchecked")
  public <K, C> ShuffleReader<K, C> getReader(ShuffleHandle handle, int startMapIndex, int endMapIndex,
      int startPartition, int endPartition, TaskContext context, ShuffleReadMetricsReporter metrics) {
    return new PegasusShuffleReader<>(this, (PegasusShuffleHandle<K, ?, C>) handle, startMapIndex, endMapIndex,
        startPartition, endPartition, context, metrics);
  }

  @Override
  public boolean unregisterShuffle(int shuffleId) {
    // Executors hold no shuffle data; only the driver tells the servers.
    DriverSession d = driver;
    if (isDriver && d != null) d.unregisterShuffle(shuffleId);
    return true;
  }

  @Override
  public ShuffleBlockResolver shuffleBlockResolver() {
    return resolver;
  }

  @Override
  public void stop() {
    stopped = true;
    DriverSession d = driver;
    if (d != null) d.stop();
    pool.close();
  }
}
