package io.pegasus.hadoop;

import java.util.List;

/**
 * Every configuration key of pegasus:// declared once, as data: name, default, unit and
 * doc (README.md of this module lists them). Read through {@link Key#getLong} and
 * friends so that a value out of range fails the file system's initialization with the
 * key's name, not a later request.
 */
public final class PegasusConfigKeys {
  private PegasusConfigKeys() {}

  /** One key: its name, default and bounds (inclusive), and what it means. */
  public static final class Key {
    public final String name;
    public final String defaultValue;
    public final long min;
    public final long max;
    public final String doc;

    Key(String name, String defaultValue, long min, long max, String doc) {
      this.name = name;
      this.defaultValue = defaultValue;
      this.min = min;
      this.max = max;
      this.doc = doc;
    }

    long getLong(org.apache.hadoop.conf.Configuration conf) {
      long v = conf.getLong(name, Long.parseLong(defaultValue));
      if (v < min || v > max) {
        throw new IllegalArgumentException(name + " = " + v + " is not in " + min + ".." + max);
      }
      return v;
    }

    int getInt(org.apache.hadoop.conf.Configuration conf) {
      return Math.toIntExact(getLong(conf));
    }
  }

  private static final long MiB = 1024 * 1024;

  /** The implementation class Hadoop looks up for the scheme (also found through META-INF/services). */
  public static final String IMPL = "fs.pegasus.impl";

  public static final Key SERVERS = new Key("fs.pegasus.servers", "", 0, 0,
      "Comma-separated host:port of every server of the namespace, in one fixed order (every client must list"
          + " them in the same order: a path's owner is chosen by its index). Empty: the URI's authority alone.");
  public static final Key BLOCK_SIZE = new Key("fs.pegasus.block.size", Long.toString(128 * MiB), 1, 1L << 40,
      "Block size reported in file statuses and getDefaultBlockSize (bytes): how engines split files. Objects"
          + " have no blocks on the server.");
  public static final Key WRITE_CHUNK_BYTES = new Key("fs.pegasus.write.chunk.bytes", Long.toString(MiB), 4096,
      8 * MiB, "Bytes per AppendObject: an output stream buffers this much before it sends (at most 8 MiB,"
          + " APPEND_BYTES_MAX).");
  public static final Key WRITE_APPENDS_IN_FLIGHT = new Key("fs.pegasus.write.appends.in.flight", "8", 1, 1024,
      "AppendObject requests of one output stream awaiting their Ack before write() waits (the connection's push"
          + " window bounds all streams' together).");
  public static final Key READ_BUFFER_BYTES = new Key("fs.pegasus.read.buffer.bytes", Long.toString(MiB), 4096,
      64 * MiB, "Read buffer of an input stream: a read() that misses it fetches this many bytes from its"
          + " position. Positioned reads and reads at least this long go to the caller's array directly.");
  public static final Key READ_CREDIT_BYTES = new Key("fs.pegasus.read.credit.bytes", Long.toString(8 * MiB),
      64 * 1024, 256 * MiB, "Bytes the server may send a read ahead of its consumer (OpenObject credit_bytes).");
  public static final Key CONNECT_TIMEOUT_MS = new Key("fs.pegasus.connect.timeout.ms", "10000", 1, 3_600_000,
      "Bound on connecting to a server (TCP, WebSocket upgrade, Hello).");
  public static final Key REQUEST_TIMEOUT_MS = new Key("fs.pegasus.request.timeout.ms", "120000", 1, 3_600_000,
      "Bound on one request, and on the wait for the next bytes of a read.");
  public static final Key LIST_PAGE_SIZE = new Key("fs.pegasus.list.page.size", "1000", 1, 1000,
      "Entries per ListDir request of a listing (the server sends at most 1000).");

  public static final List<Key> ALL = List.of(SERVERS, BLOCK_SIZE, WRITE_CHUNK_BYTES, WRITE_APPENDS_IN_FLIGHT,
      READ_BUFFER_BYTES, READ_CREDIT_BYTES, CONNECT_TIMEOUT_MS, REQUEST_TIMEOUT_MS, LIST_PAGE_SIZE);
}
