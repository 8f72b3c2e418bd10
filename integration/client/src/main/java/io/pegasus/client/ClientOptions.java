package io.pegasus.client;

import java.util.Objects;

/** Client settings. Immutable: every {@code withX} returns a copy. Out-of-range values throw IllegalArgumentException. */
public final class ClientOptions {
  private static final ClientOptions DEFAULTS = new ClientOptions(
      10_000L, 120_000L, 8 * 1024 * 1024, 3, 500L, "pegasus-java", 8, 60_000L);

  private final long connectTimeoutMillis;
  private final long requestTimeoutMillis;
  private final int readCreditBytes;
  private final int retries;
  private final long retryWaitMillis;
  private final String clientName;
  private final int poolMaxIdlePerServer;
  private final long poolIdleMillis;

  private ClientOptions(long connectTimeoutMillis, long requestTimeoutMillis, int readCreditBytes, int retries,
      long retryWaitMillis, String clientName, int poolMaxIdlePerServer, long poolIdleMillis) {
    this.connectTimeoutMillis = connectTimeoutMillis;
    this.requestTimeoutMillis = requestTimeoutMillis;
    this.readCreditBytes = readCreditBytes;
    this.retries = retries;
    this.retryWaitMillis = retryWaitMillis;
    this.clientName = clientName;
    this.poolMaxIdlePerServer = poolMaxIdlePerServer;
    this.poolIdleMillis = poolIdleMillis;
  }

  /**
   * connectTimeoutMillis 10 000, requestTimeoutMillis 120 000, readCreditBytes 8 MiB,
   * retries 3, retryWaitMillis 500, clientName "pegasus-java",
   * poolMaxIdlePerServer 8, poolIdleMillis 60 000.
   */
  public static ClientOptions defaults() {
    return DEFAULTS;
  }

  private static long checkMillis(long v, String what) {
    if (v <= 0 || v > WireLimits.TIMEOUT_MILLIS_MAX) {
      throw new IllegalArgumentException(what + " " + v + " not in 1.." + WireLimits.TIMEOUT_MILLIS_MAX);
    }
    return v;
  }

  /** Bound on TCP connect + WebSocket upgrade + Hello/HelloAck. */
  public ClientOptions withConnectTimeoutMillis(long v) {
    return new ClientOptions(checkMillis(v, "connectTimeoutMillis"), requestTimeoutMillis, readCreditBytes, retries,
        retryWaitMillis, clientName, poolMaxIdlePerServer, poolIdleMillis);
  }

  /**
   * Bound on one request: waiting for a push window slot, sending, and the answer. Also
   * the longest wait of {@link ReadStream#take()} for the next block. Long by default:
   * the server delays push acks while its memory budget is used up.
   */
  public ClientOptions withRequestTimeoutMillis(long v) {
    return new ClientOptions(connectTimeoutMillis, checkMillis(v, "requestTimeoutMillis"), readCreditBytes, retries,
        retryWaitMillis, clientName, poolMaxIdlePerServer, poolIdleMillis);
  }

  /** Stored bytes a server may send a read stream ahead of its consumer. */
  public ClientOptions withReadCreditBytes(int v) {
    if (v < WireLimits.READ_CREDIT_BYTES_MIN || v > WireLimits.READ_CREDIT_BYTES_MAX) {
      throw new IllegalArgumentException("readCreditBytes " + v + " not in " + WireLimits.READ_CREDIT_BYTES_MIN + ".."
          + WireLimits.READ_CREDIT_BYTES_MAX);
    }
    return new ClientOptions(connectTimeoutMillis, requestTimeoutMillis, v, retries, retryWaitMillis, clientName,
        poolMaxIdlePerServer, poolIdleMillis);
  }

  /**
   * Reconnect-and-resend attempts of a {@link MapAttemptWriter} in a row without an
   * acknowledged push in between; also the resumes of a {@link ResumableRead} in a row
   * without a new block in between.
   */
  public ClientOptions withRetries(int v) {
    if (v < 0 || v > WireLimits.RETRIES_MAX) {
      throw new IllegalArgumentException("retries " + v + " not in 0.." + WireLimits.RETRIES_MAX);
    }
    return new ClientOptions(connectTimeoutMillis, requestTimeoutMillis, readCreditBytes, v, retryWaitMillis, clientName,
        poolMaxIdlePerServer, poolIdleMillis);
  }

  /** First wait before a reconnect; doubled per consecutive failure, at most {@link WireLimits#RETRY_WAIT_MILLIS_MAX}. */
  public ClientOptions withRetryWaitMillis(long v) {
    if (v < 0 || v > WireLimits.RETRY_WAIT_MILLIS_MAX) {
      throw new IllegalArgumentException("retryWaitMillis " + v + " not in 0.." + WireLimits.RETRY_WAIT_MILLIS_MAX);
    }
    return new ClientOptions(connectTimeoutMillis, requestTimeoutMillis, readCreditBytes, retries, v, clientName,
        poolMaxIdlePerServer, poolIdleMillis);
  }

  /** Name sent in Hello. */
  public ClientOptions withClientName(String v) {
    Objects.requireNonNull(v, "clientName");
    if (v.length() > 256) throw new IllegalArgumentException("clientName longer than 256 chars");
    return new ClientOptions(connectTimeoutMillis, requestTimeoutMillis, readCreditBytes, retries, retryWaitMillis, v,
        poolMaxIdlePerServer, poolIdleMillis);
  }

  /** Idle connections a {@link ConnectionPool} keeps per server address. */
  public ClientOptions withPoolMaxIdlePerServer(int v) {
    if (v < 0 || v > 1024) throw new IllegalArgumentException("poolMaxIdlePerServer " + v + " not in 0..1024");
    return new ClientOptions(connectTimeoutMillis, requestTimeoutMillis, readCreditBytes, retries, retryWaitMillis,
        clientName, v, poolIdleMillis);
  }

  /** A {@link ConnectionPool} closes connections idle for longer than this. */
  public ClientOptions withPoolIdleMillis(long v) {
    return new ClientOptions(connectTimeoutMillis, requestTimeoutMillis, readCreditBytes, retries, retryWaitMillis,
        clientName, poolMaxIdlePerServer, checkMillis(v, "poolIdleMillis"));
  }

  public long connectTimeoutMillis() {
    return connectTimeoutMillis;
  }

  public long requestTimeoutMillis() {
    return requestTimeoutMillis;
  }

  public int readCreditBytes() {
    return readCreditBytes;
  }

  public int retries() {
    return retries;
  }

  public long retryWaitMillis() {
    return retryWaitMillis;
  }

  public String clientName() {
    return clientName;
  }

  public int poolMaxIdlePerServer() {
    return poolMaxIdlePerServer;
  }

  public long poolIdleMillis() {
    return poolIdleMillis;
  }

  @Override
  public String toString() {
    return "ClientOptions{connectTimeoutMillis=" + connectTimeoutMillis + ", requestTimeoutMillis=" + requestTimeoutMillis
        + ", readCreditBytes=" + readCreditBytes + ", retries=" + retries + ", retryWaitMillis=" + retryWaitMillis
        + ", clientName=" + clientName + ", poolMaxIdlePerServer=" + poolMaxIdlePerServer + ", poolIdleMillis="
        + poolIdleMillis + "}";
  }
}
