package io.pegasus.client;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/** One daemon thread for every timer of the client: request timeouts, close timeouts, pool expiry. */
final class Timers {
  private Timers() {}

  private static final ScheduledThreadPoolExecutor EXECUTOR;

  static {
    EXECUTOR = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "pegasus-client-timer");
      t.setDaemon(true);
      return t;
    });
    EXECUTOR.setRemoveOnCancelPolicy(true);
  }

  /** Runs {@code task} after {@code millis}; tasks must be short and must not block. */
  static ScheduledFuture<?> schedule(Runnable task, long millis) {
    return EXECUTOR.schedule(task, millis, TimeUnit.MILLISECONDS);
  }

  static ScheduledFuture<?> scheduleWithFixedDelay(Runnable task, long millis) {
    return EXECUTOR.scheduleWithFixedDelay(task, millis, millis, TimeUnit.MILLISECONDS);
  }
}
