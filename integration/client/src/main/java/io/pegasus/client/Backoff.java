package io.pegasus.client;

/**
 * The wait before a reconnect: {@link ClientOptions#retryWaitMillis()} before the first,
 * doubled for each further one, at most {@link WireLimits#RETRY_WAIT_MILLIS_MAX} (or the
 * configured wait, if that is larger). Shared by writers and readers, so that both back
 * off from a failing server the same way.
 */
final class Backoff {
  private Backoff() {}

  /** The wait before reconnect number {@code failures} (1 for the first). */
  static long millis(ClientOptions options, int failures) {
    long wait = options.retryWaitMillis();
    for (int i = 1; i < failures && wait < WireLimits.RETRY_WAIT_MILLIS_MAX; i++) wait *= 2;
    return Math.min(wait, Math.max(options.retryWaitMillis(), WireLimits.RETRY_WAIT_MILLIS_MAX));
  }

  /** Sleeps {@code millis}; an interrupt becomes an INTERNAL error naming {@code what} (the flag is kept). */
  static void sleep(long millis, String what) throws PegasusException {
    if (millis <= 0) return;
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      throw Connection.interrupted(what, e);
    }
  }
}
