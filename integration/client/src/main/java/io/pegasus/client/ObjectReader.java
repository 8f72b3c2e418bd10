package io.pegasus.client;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.zip.CRC32C;
import pegasus.wire.ErrorCode;

/**
 * Positioned reads of one closed object (FRAMING.md "Objects"); the Java twin of
 * shuffle-client/src/object-reader.ts.
 *
 * <p>{@link #open} stats the path once and pins the file it found: every read names its
 * id, so a file replaced or deleted meanwhile is NOT_FOUND, never another file's bytes.
 * Each read is one OpenObject streamed as ReadData with the connection's read credit
 * ({@link ReadStream}, which checks that the blocks' object offsets follow each other
 * from the requested one); this class checks each block's CRC32C (CHECKSUM_MISMATCH) and
 * that the bytes add up to what was asked (CORRUPT_DATA) before they are returned.
 *
 * <p>Immutable: reads may run on several threads at once, each on its own stream.
 */
public final class ObjectReader {
  private final Connection conn;
  private final String path;
  private final PathInfo info;

  private ObjectReader(Connection conn, String path, PathInfo info) {
    this.conn = conn;
    this.path = path;
    this.info = info;
  }

  /** Opens the file at {@code path}: NOT_FOUND when nothing is there, IS_A_DIRECTORY for a directory. */
  public static ObjectReader open(Connection conn, String path) throws PegasusException {
    Objects.requireNonNull(conn, "conn");
    Objects.requireNonNull(path, "path");
    PathInfo info = conn.statPath(path);
    if (info.isDirectory()) throw new PegasusException(ErrorCode.IS_A_DIRECTORY, path + " is a directory");
    return new ObjectReader(conn, path, info);
  }

  /** The same pinned file read over another connection (after the first one failed, say). */
  public ObjectReader on(Connection other) {
    return new ObjectReader(Objects.requireNonNull(other, "other"), path, info);
  }

  public String path() {
    return path;
  }

  /** The file's status when it was opened. */
  public PathInfo info() {
    return info;
  }

  public long length() {
    return info.length();
  }

  public Connection connection() {
    return conn;
  }

  /**
   * Reads bytes [position, position + len) of the file, cut at its end, into
   * {@code buf[off..]}; returns how many: {@code min(len, length - position)}, 0 at or
   * past the end. Every one of them is read before this returns.
   */
  public int read(long position, byte[] buf, int off, int len) throws PegasusException {
    Objects.checkFromIndexSize(off, len, buf.length);
    if (position < 0) throw new PegasusException(ErrorCode.INVALID_ARGUMENT, "read of " + path + " at offset " + position);
    long start = Math.min(position, info.length());
    int n = (int) Math.min(len, info.length() - start);
    if (n == 0) return 0;
    try (ReadStream s = conn.openObject(path, start, n, info.id())) {
      s.recycleTakenBlocks(); // each block is copied out before the next take()
      int got = 0;
      for (Block b = s.take(); b != null; b = s.take()) {
        ByteBuffer bytes = b.stored();
        // Not BlockCodec.crc32c: that class links lz4-java, which object readers need not have.
        CRC32C c = new CRC32C();
        c.update(bytes.duplicate());
        int crc = (int) c.getValue();
        if (crc != b.crc32c()) {
          throw new PegasusException(ErrorCode.CHECKSUM_MISMATCH, "read of " + path + " from " + conn.address() + ": "
              + bytes.remaining() + " bytes at offset " + b.attempt() + " have CRC32C " + Integer.toHexString(crc)
              + ", header says " + Integer.toHexString(b.crc32c()));
        }
        int k = bytes.remaining();
        if (k > n - got) {
          throw new PegasusException(ErrorCode.CORRUPT_DATA, "read of " + path + " [" + start + "," + (start + n)
              + ") from " + conn.address() + " got more than " + n + " bytes");
        }
        bytes.get(buf, off + got, k);
        got += k;
      }
      if (got != n) {
        throw new PegasusException(ErrorCode.CORRUPT_DATA, "read of " + path + " [" + start + "," + (start + n) + ") from "
            + conn.address() + " ended after " + got + " bytes");
      }
      return n;
    }
  }

  /** The bytes [offset, offset + length) (cut at the end of the file) in a new array. */
  public byte[] read(long offset, int length) throws PegasusException {
    long start = Math.min(Math.max(0, offset), info.length());
    byte[] out = new byte[(int) Math.min(length, info.length() - start)];
    read(offset, out, 0, out.length);
    return out;
  }

  @Override
  public String toString() {
    return "ObjectReader{" + path + ", id=" + info.id() + ", " + info.length() + " bytes, " + conn.address() + "}";
  }
}
