package org.apache.spark.shuffle.pegasus;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.pegasus.client.ConnectionPool;
import io.pegasus.client.PegasusException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's side of an application on the servers: registers shuffles, heart-beats every
 * server so the application does not expire, unregisters shuffles Spark no longer needs and
 * removes the application from every server on stop.
 *
 * <p>Registering and unregistering run on the session's own thread, in the order Spark asks
 * for them, never on the caller's: Spark registers a shuffle while it builds the
 * ShuffleDependency (on the thread planning the job or, with AQE, the query stage), and a
 * round trip per server there is a fixed cost of every shuffle, paid before any task starts;
 * ContextCleaner must not wait on a slow server either. Waiting is not needed for
 * correctness: every map task registers the shuffle on the servers it pushes to before its
 * first push (registering is idempotent), and a reader asks a server only for output some map
 * task committed there. A registration the driver could not make is logged; the map tasks
 * then meet the same error with its code.
 */
final class DriverSession {
  private static final Logger LOG = LoggerFactory.getLogger(DriverSession.class);

  private final String appId;
  private final List<String> servers;
  private final ConnectionPool pool;
  private final ScheduledExecutorService timer;
  private final Set<Integer> shuffles = ConcurrentHashMap.newKeySet();
  /** Registrations made, and the nanoseconds they took on the session's thread (for the log line at stop). */
  private final AtomicLong registrations = new AtomicLong();
  private final AtomicLong registrationNanos = new AtomicLong();
  private volatile boolean stopped;

  DriverSession(String appId, PegasusConf conf, ConnectionPool pool) {
    if (appId == null || appId.isEmpty()) throw new IllegalStateException("spark.app.id is not set yet");
    this.appId = appId;
    this.servers = conf.servers;
    this.pool = pool;
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "pegasus-driver");
      t.setDaemon(true);
      return t;
    });
    timer.scheduleWithFixedDelay(this::heartbeat, 0, conf.heartbeatIntervalMs, TimeUnit.MILLISECONDS);
    LOG.info("Pegasus application {} on servers {}", appId, servers);
  }

  String appId() {
    return appId;
  }

  /** Queues the shuffle's registration on every server and returns at once (see the class comment). */
  void registerShuffle(int shuffleId, int numMaps, int numPartitions) {
    if (stopped) return;
    shuffles.add(shuffleId);
    runLater(() -> {
      if (stopped || !shuffles.contains(shuffleId)) return;
      long start = System.nanoTime();
      for (String server : servers) {
        try {
          ServerCall.on(pool, server, c -> c.registerShuffle(appId, shuffleId, numMaps, numPartitions));
        } catch (PegasusException e) {
          LOG.warn("Pegasus: registering shuffle {} ({} maps, {} partitions) on {} failed: {}: {}; its map tasks "
              + "register it themselves", shuffleId, numMaps, numPartitions, server, e.codeName(), e.getMessage());
        } catch (RuntimeException e) {
          LOG.warn("Pegasus: registering shuffle {} on {} failed", shuffleId, server, e);
        }
      }
      registrations.incrementAndGet();
      registrationNanos.addAndGet(System.nanoTime() - start);
    });
  }

  void unregisterShuffle(int shuffleId) {
    if (!shuffles.remove(shuffleId) || stopped) return;
    runLater(() -> {
      for (String server : servers) {
        try {
          ServerCall.on(pool, server, c -> c.unregisterShuffle(appId, shuffleId));
        } catch (PegasusException e) {
          // The server's expiry reclaims it with the application if this never gets through.
          LOG.warn("Pegasus: unregistering shuffle {} on {} failed: {}: {}", shuffleId, server, e.codeName(),
              e.getMessage());
        }
      }
    });
  }

  /** Runs {@code work} on the session's thread, after what is queued there; nothing once stopped. */
  private void runLater(Runnable work) {
    try {
      timer.execute(work);
    } catch (RejectedExecutionException e) {
      // stop() ran meanwhile: the application is being removed from the servers with its shuffles.
    }
  }

  private void heartbeat() {
    for (String server : servers) {
      if (stopped) return;
      try {
        ServerCall.on(pool, server, c -> c.heartbeat(appId));
      } catch (PegasusException e) {
        LOG.warn("Pegasus: heartbeat to {} failed: {}: {}", server, e.codeName(), e.getMessage());
      } catch (RuntimeException e) {
        LOG.warn("Pegasus: heartbeat to {} failed", server, e);
      }
    }
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    timer.shutdown();
    try {
      timer.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    long n = registrations.get();
    LOG.info("Pegasus application {}: {} shuffles registered off the job threads, {} ms per registration on average",
        appId, n, String.format(java.util.Locale.ROOT, "%.1f", n == 0 ? 0.0 : registrationNanos.get() / (double) n / 1e6));
    for (String server : servers) {
      try {
        ServerCall.on(pool, server, c -> c.unregisterApp(appId));
      } catch (PegasusException e) {
        LOG.warn("Pegasus: removing application {} from {} failed: {}: {}", appId, server, e.codeName(), e.getMessage());
      }
    }
    shuffles.clear();
  }
}
