package org.apache.spark.shuffle.pegasus;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import io.pegasus.client.ConnectionPool;
import io.pegasus.client.PegasusException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's side of an application on the servers: registers shuffles, heart-beats every
 * server so the application does not expire, unregisters shuffles Spark no longer needs
 * (off the caller's thread: ContextCleaner must not wait on a slow server) and removes the
 * application from every server on stop.
 */
final class DriverSession {
  private static final Logger LOG = LoggerFactory.getLogger(DriverSession.class);

  private final String appId;
  private final List<String> servers;
  private final ConnectionPool pool;
  private final ScheduledExecutorService timer;
  private final Set<Integer> shuffles = ConcurrentHashMap.newKeySet();
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

  void registerShuffle(int shuffleId, int numMaps, int numPartitions) {
    for (String server : servers) {
      try {
        ServerCall.on(pool, server, c -> c.registerShuffle(appId, shuffleId, numMaps, numPartitions));
      } catch (PegasusException e) {
        throw new IllegalStateException("Pegasus: registering shuffle " + shuffleId + " (" + numMaps + " maps, "
            + numPartitions + " partitions) on " + server + " failed: " + e.codeName() + ": " + e.getMessage(), e);
      }
    }
    shuffles.add(shuffleId);
  }

  void unregisterShuffle(int shuffleId) {
    if (!shuffles.remove(shuffleId) || stopped) return;
    timer.execute(() -> {
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
