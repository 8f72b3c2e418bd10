package org.apache.spark.shuffle.pegasus;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import io.pegasus.client.ClientOptions;
import io.pegasus.client.WireLimits;
import org.apache.spark.SparkConf;

/**
 * Every {@code spark.pegasus.*} key, declared once as data (name, default, unit, doc), and
 * their parsed values. README.md's plugin table lists the same keys; PegasusConfDocTest (in
 * the it module) keeps the two in step.
 *
 * <p>Limits are checked here, at start, so that a bad value fails the application with a
 * message naming the key instead of failing a task later.
 */
public final class PegasusConf {
  /** One configuration key. */
  public record Key(String name, String defaultValue, String unit, String doc) {}

  public static final Key SERVERS = new Key("spark.pegasus.servers", "", "host:port list",
      "Pegasus servers, comma separated. Required. Partitions of each shuffle are spread over all of them.");
  public static final Key APP_ID = new Key("spark.pegasus.appId", "", "id",
      "Application id used on the servers; empty means spark.app.id.");
  public static final Key WRITER_BUFFER_BYTES = new Key("spark.pegasus.writer.bufferBytes", "64m", "bytes",
      "Map-side memory for unsent records of one task; above it the largest partitions are pushed early.");
  public static final Key WRITER_BLOCK_BYTES = new Key("spark.pegasus.writer.blockBytes", "1m", "bytes",
      "A partition's buffer is sealed into a block once it holds this many serialized bytes.");
  public static final Key WRITER_BATCH_BYTES = new Key("spark.pegasus.writer.batchBytes", "4m", "bytes",
      "Blocks for one server are sent together once they add up to this many bytes (one PushBlocks message).");
  public static final Key COMPRESS = new Key("spark.pegasus.compress", "true", "boolean",
      "Compress blocks with LZ4 (a block that does not shrink is sent as is).");
  public static final Key READER_CREDIT_BYTES = new Key("spark.pegasus.reader.creditBytes", "8m", "bytes",
      "Bytes a reader lets each server send ahead of what it has consumed (read flow control).");
  public static final Key CONNECT_TIMEOUT = new Key("spark.pegasus.client.connectTimeout", "10s", "duration",
      "Time allowed to open a connection and finish the handshake.");
  public static final Key REQUEST_TIMEOUT = new Key("spark.pegasus.client.requestTimeout", "120s", "duration",
      "Time allowed for one answer; a push may wait this long for memory on a busy server.");
  public static final Key RETRIES = new Key("spark.pegasus.client.retries", "3", "count",
      "Reconnect-and-resend attempts for pushes and commits after a connection failure, and resumes of a read"
          + " (in a row, without a new block between).");
  public static final Key RETRY_WAIT = new Key("spark.pegasus.client.retryWait", "500ms", "duration",
      "Wait before the first retry; doubled on each further retry.");
  public static final Key HEARTBEAT_INTERVAL = new Key("spark.pegasus.heartbeatInterval", "10s", "duration",
      "How often the driver tells every server the application is alive. Keep it well under the servers' appExpiryMs.");

  public static final List<Key> ALL = List.of(SERVERS, APP_ID, WRITER_BUFFER_BYTES, WRITER_BLOCK_BYTES,
      WRITER_BATCH_BYTES, COMPRESS, READER_CREDIT_BYTES, CONNECT_TIMEOUT, REQUEST_TIMEOUT, RETRIES, RETRY_WAIT,
      HEARTBEAT_INTERVAL);

  /** Largest block a server accepts, minus a chunk header. */
  static final long BLOCK_BYTES_MAX = WireLimits.BLOCK_BYTES_MAX - ChunkFormat.HEADER_BYTES;

  public final List<String> servers;
  public final String appIdOverride;
  public final long writerBufferBytes;
  public final int writerBlockBytes;
  public final int writerBatchBytes;
  public final boolean compress;
  public final ClientOptions clientOptions;
  public final long heartbeatIntervalMs;

  public PegasusConf(SparkConf conf) {
    this.servers = parseServers(conf.get(SERVERS.name(), SERVERS.defaultValue()));
    this.appIdOverride = conf.get(APP_ID.name(), APP_ID.defaultValue()).trim();
    this.writerBufferBytes = bytes(conf, WRITER_BUFFER_BYTES, 1L << 20, 1L << 40);
    this.writerBlockBytes = (int) bytes(conf, WRITER_BLOCK_BYTES, 1L << 10, BLOCK_BYTES_MAX);
    this.writerBatchBytes = (int) bytes(conf, WRITER_BATCH_BYTES, 1L << 10, 12L << 20);
    this.compress = conf.getBoolean(COMPRESS.name(), Boolean.parseBoolean(COMPRESS.defaultValue()));
    long creditBytes = bytes(conf, READER_CREDIT_BYTES, WireLimits.READ_CREDIT_BYTES_MIN, WireLimits.READ_CREDIT_BYTES_MAX);
    long connectMs = millis(conf, CONNECT_TIMEOUT, 100, 600_000);
    long requestMs = millis(conf, REQUEST_TIMEOUT, 100, 3_600_000);
    long retries = conf.getInt(RETRIES.name(), Integer.parseInt(RETRIES.defaultValue()));
    check(RETRIES, retries, 0, 20);
    long retryWaitMs = millis(conf, RETRY_WAIT, 0, WireLimits.RETRY_WAIT_MILLIS_MAX);
    this.heartbeatIntervalMs = millis(conf, HEARTBEAT_INTERVAL, 100, 3_600_000);
    this.clientOptions = ClientOptions.defaults()
        .withConnectTimeoutMillis(connectMs)
        .withRequestTimeoutMillis(requestMs)
        .withReadCreditBytes((int) creditBytes)
        .withRetries((int) retries)
        .withRetryWaitMillis(retryWaitMs)
        .withClientName("pegasus-spark");
  }

  static List<String> parseServers(String value) {
    List<String> out = new ArrayList<>();
    for (String s : value.split(",")) {
      String t = s.trim();
      if (t.isEmpty()) continue;
      int colon = t.lastIndexOf(':');
      if (colon <= 0 || colon == t.length() - 1) {
        throw new IllegalArgumentException(SERVERS.name() + ": '" + t + "' is not host:port");
      }
      int port;
      try {
        port = Integer.parseInt(t.substring(colon + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(SERVERS.name() + ": '" + t + "' has no numeric port");
      }
      if (port < 1 || port > 65535) throw new IllegalArgumentException(SERVERS.name() + ": port " + port + " out of range");
      if (out.contains(t)) throw new IllegalArgumentException(SERVERS.name() + ": '" + t + "' is listed twice");
      out.add(t);
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException(SERVERS.name() + " must list at least one Pegasus server as host:port[,host:port...]");
    }
    return List.copyOf(out);
  }

  private static long bytes(SparkConf conf, Key key, long min, long max) {
    long v = conf.getSizeAsBytes(key.name(), key.defaultValue());
    check(key, v, min, max);
    return v;
  }

  private static long millis(SparkConf conf, Key key, long min, long max) {
    long v = conf.getTimeAsMs(key.name(), key.defaultValue());
    check(key, v, min, max);
    return v;
  }

  private static void check(Key key, long v, long min, long max) {
    if (v < min || v > max) {
      throw new IllegalArgumentException(key.name() + " = " + v + " is outside [" + min + ", " + max + "]");
    }
  }

  @Override
  public String toString() {
    return "PegasusConf" + Arrays.asList("servers=" + servers, "bufferBytes=" + writerBufferBytes,
        "blockBytes=" + writerBlockBytes, "batchBytes=" + writerBatchBytes, "compress=" + compress);
  }
}
