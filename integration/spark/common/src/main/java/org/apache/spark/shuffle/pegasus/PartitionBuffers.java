package org.apache.spark.shuffle.pegasus;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;

import org.apache.spark.serializer.SerializationStream;
import org.apache.spark.serializer.Serializer;
import org.apache.spark.serializer.SerializerInstance;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * Map-side buffers: serialized records of one map task, one growable chunk per partition,
 * sealed into blocks (RECORD_FORMAT.md) and handed to a {@link BlockSink}.
 *
 * <p>Memory is bounded: when the arrays held by all partitions pass {@code bufferBytes},
 * the partitions holding the most bytes are sealed and their arrays dropped until the total
 * is under half the bound. So a task with 10,000 partitions pushes small blocks early rather
 * than growing. Not thread safe: one instance belongs to one task thread.
 */
final class PartitionBuffers {
  /** Receives sealed block raw bytes; must not keep {@code raw} after returning. */
  interface BlockSink {
    void accept(int partition, byte[] raw, int off, int len) throws IOException;
  }

  private static final int INITIAL_CAPACITY = 256;
  private static final int CLOSED = -1;
  /** Largest piece of a chunk in one block (the server's block limit less our header). */
  static final int PIECE_BYTES_MAX = (int) PegasusConf.BLOCK_BYTES_MAX;
  @SuppressWarnings("unchecked")
  private static final ClassTag<Object> ANY = (ClassTag<Object>) (ClassTag<?>) ClassTag$.MODULE$.Any();

  private final int blockBytes;
  private final long bufferBytes;
  private final BlockSink sink;
  private final boolean relocatable;
  private final SerializerInstance serializer;

  private final byte[][] bufs;
  private final int[] lens;
  private final int[] chunkSeqs;
  private long retainedBytes;
  private long recordCount;

  // Relocatable serializers: one stream whose output lands in the current record's partition.
  private final PartitionOut sharedOut;
  private final SerializationStream sharedStream;
  // Other serializers: one open stream per partition, closed when its chunk is sealed.
  private final SerializationStream[] streams;

  PartitionBuffers(int numPartitions, Serializer serializer, int blockBytes, long bufferBytes, BlockSink sink) {
    this.blockBytes = Math.min(blockBytes, PIECE_BYTES_MAX);
    this.bufferBytes = bufferBytes;
    this.sink = sink;
    this.relocatable = serializer.supportsRelocationOfSerializedObjects();
    this.serializer = serializer.newInstance();
    this.bufs = new byte[numPartitions][];
    this.lens = new int[numPartitions];
    this.chunkSeqs = new int[numPartitions];
    if (relocatable) {
      this.sharedOut = new PartitionOut(0);
      this.sharedStream = this.serializer.serializeStream(sharedOut);
      this.streams = null;
    } else {
      this.sharedOut = null;
      this.sharedStream = null;
      this.streams = new SerializationStream[numPartitions];
    }
  }

  void write(int partition, Object key, Object value) throws IOException {
    if (relocatable) {
      sharedOut.partition = partition;
      sharedStream.writeKey(key, ANY);
      sharedStream.writeValue(value, ANY);
      sharedStream.flush();
    } else {
      SerializationStream s = streams[partition];
      if (s == null) {
        s = serializer.serializeStream(new PartitionOut(partition));
        streams[partition] = s;
      }
      s.writeKey(key, ANY);
      s.writeValue(value, ANY);
    }
    recordCount++;
    if (lens[partition] - ChunkFormat.HEADER_BYTES >= blockBytes) {
      seal(partition);
      if (bufs[partition].length > 2 * (blockBytes + ChunkFormat.HEADER_BYTES)) release(partition);
    }
    if (retainedBytes > bufferBytes) relieve();
  }

  long recordCount() {
    return recordCount;
  }

  /** Seals every partition that holds records. */
  void finish() throws IOException {
    closeShared();
    for (int p = 0; p < bufs.length; p++) {
      seal(p);
      release(p);
    }
  }

  /** Closes the shared stream (which returns a pooled Kryo); whatever it writes on close is dropped. */
  private void closeShared() {
    if (sharedStream != null && sharedOut.partition != CLOSED) {
      sharedOut.partition = CLOSED;
      sharedStream.close();
    }
  }

  /** Drops everything without sending (task failure). */
  void discard() {
    closeShared();
    Arrays.fill(bufs, null);
    Arrays.fill(lens, 0);
    if (streams != null) Arrays.fill(streams, null);
    retainedBytes = 0;
  }

  private void relieve() throws IOException {
    Integer[] order = new Integer[bufs.length];
    int n = 0;
    for (int p = 0; p < bufs.length; p++) if (bufs[p] != null) order[n++] = p;
    Arrays.sort(order, 0, n, (a, b) -> Integer.compare(lens[b], lens[a]));
    for (int i = 0; i < n && retainedBytes > bufferBytes / 2; i++) {
      seal(order[i]);
      release(order[i]);
    }
  }

  private void release(int p) {
    if (bufs[p] != null && lens[p] <= ChunkFormat.HEADER_BYTES && (streams == null || streams[p] == null)) {
      retainedBytes -= bufs[p].length;
      bufs[p] = null;
      lens[p] = 0;
    }
  }

  private void seal(int p) throws IOException {
    if (streams != null && streams[p] != null) {
      SerializationStream s = streams[p];
      streams[p] = null;
      s.close(); // flushes the stream's last bytes into bufs[p]
    }
    byte[] buf = bufs[p];
    int n = lens[p] - ChunkFormat.HEADER_BYTES;
    if (buf == null || n <= 0) return;
    int seq = chunkSeqs[p]++;
    if (n <= PIECE_BYTES_MAX) {
      ChunkFormat.writeHeader(buf, 0, n, n, 0, seq);
      sink.accept(p, buf, 0, ChunkFormat.HEADER_BYTES + n);
    } else {
      byte[] piece = new byte[ChunkFormat.HEADER_BYTES + PIECE_BYTES_MAX];
      for (int off = 0; off < n; off += PIECE_BYTES_MAX) {
        int len = Math.min(PIECE_BYTES_MAX, n - off);
        ChunkFormat.writeHeader(piece, 0, len, n, off, seq);
        System.arraycopy(buf, ChunkFormat.HEADER_BYTES + off, piece, ChunkFormat.HEADER_BYTES, len);
        sink.accept(p, piece, 0, ChunkFormat.HEADER_BYTES + len);
      }
    }
    lens[p] = ChunkFormat.HEADER_BYTES;
  }

  private void append(int p, byte[] b, int off, int len) {
    byte[] buf = bufs[p];
    int used = lens[p];
    if (buf == null) {
      int cap = Math.max(INITIAL_CAPACITY, ChunkFormat.HEADER_BYTES + len);
      buf = new byte[cap];
      bufs[p] = buf;
      retainedBytes += cap;
      used = ChunkFormat.HEADER_BYTES;
    } else if (used + len > buf.length) {
      // Always at least double: a large record arrives in many small writes (Java
      // serialization writes 1 KiB blocks), and growing by each write would copy O(n^2).
      long need = (long) used + len;
      if (need > Integer.MAX_VALUE - 16) {
        throw new IllegalStateException("a record of partition " + p + " passes 2 GiB serialized");
      }
      long want = Math.min(Math.max(need, 2L * buf.length), Integer.MAX_VALUE - 16);
      byte[] grown = Arrays.copyOf(buf, (int) want);
      retainedBytes += grown.length - buf.length;
      buf = grown;
      bufs[p] = buf;
    }
    System.arraycopy(b, off, buf, used, len);
    lens[p] = used + len;
  }

  /** The output of a serialization stream: bytes go to one partition's chunk. */
  private final class PartitionOut extends OutputStream {
    int partition;
    private final byte[] one = new byte[1];

    PartitionOut(int partition) {
      this.partition = partition;
    }

    @Override
    public void write(int b) {
      if (partition == CLOSED) return;
      one[0] = (byte) b;
      append(partition, one, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) {
      if (len > 0 && partition != CLOSED) append(partition, b, off, len);
    }
  }
}
