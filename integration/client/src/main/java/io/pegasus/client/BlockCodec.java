package io.pegasus.client;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.zip.CRC32C;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;
import pegasus.wire.Codec;
import pegasus.wire.ErrorCode;

/**
 * Block compression and integrity (FRAMING.md "Block contents").
 *
 * <pre>
 *   NONE  stored = raw
 *   LZ4   stored = u32le raw_length | LZ4 block (block format, not frame format)
 * </pre>
 *
 * The CRC32C covers the stored bytes. lz4-java is needed only when a block is
 * compressed or decompressed (it is a provided dependency: engines ship it).
 */
public final class BlockCodec {
  private BlockCodec() {}

  /** Unused capacity above which a compressed block is copied to an exact-size array. */
  private static final int SLACK_BYTES_MAX = 16 * 1024;

  /** Loaded on first use, so NONE-only callers never touch lz4-java. */
  private static final class Lz4 {
    static final LZ4Factory FACTORY = LZ4Factory.fastestInstance();
    static final LZ4Compressor COMPRESSOR = FACTORY.fastCompressor();
    static final LZ4SafeDecompressor DECOMPRESSOR = FACTORY.safeDecompressor();
  }

  /**
   * Compresses {@code raw[off, off+len)} with LZ4 when that makes it smaller, else
   * stores it as NONE; computes the CRC32C of the stored bytes. The block never
   * aliases {@code raw}: the caller may reuse its array at once. Attempt, map,
   * batch and seq are 0; the writer fills them in.
   *
   * @throws IllegalArgumentException if len exceeds {@link WireLimits#BLOCK_BYTES_MAX}
   */
  public static Block encode(int partition, byte[] raw, int off, int len, boolean compress) {
    if (off < 0 || len < 0 || off > raw.length - len) {
      throw new IndexOutOfBoundsException("range [" + off + ", " + off + "+" + len + ") of " + raw.length + " bytes");
    }
    if (len > WireLimits.BLOCK_BYTES_MAX) {
      throw new IllegalArgumentException("block of " + len + " raw bytes exceeds " + WireLimits.BLOCK_BYTES_MAX);
    }
    if (compress && len > WireLimits.LZ4_PREFIX_BYTES) {
      LZ4Compressor c = Lz4.COMPRESSOR;
      byte[] out = new byte[WireLimits.LZ4_PREFIX_BYTES + c.maxCompressedLength(len)];
      int clen = c.compress(raw, off, len, out, WireLimits.LZ4_PREFIX_BYTES, out.length - WireLimits.LZ4_PREFIX_BYTES);
      int storedLength = WireLimits.LZ4_PREFIX_BYTES + clen;
      if (storedLength < len) {
        putIntLE(out, 0, len);
        if (out.length - storedLength > SLACK_BYTES_MAX) out = Arrays.copyOf(out, storedLength);
        ByteBuffer stored = ByteBuffer.wrap(out, 0, storedLength);
        return new Block(0, 0, partition, 0, 0, len, crc32c(stored), (byte) Codec.LZ4, stored);
      }
    }
    ByteBuffer stored = ByteBuffer.wrap(Arrays.copyOfRange(raw, off, off + len));
    return new Block(0, 0, partition, 0, 0, len, crc32c(stored), (byte) Codec.NONE, stored);
  }

  /** {@code encode(partition, raw, 0, raw.length, compress)}. */
  public static Block encode(int partition, byte[] raw, boolean compress) {
    return encode(partition, raw, 0, raw.length, compress);
  }

  /**
   * Verifies and decodes a block: the CRC32C of the stored bytes must match
   * (CHECKSUM_MISMATCH); for LZ4 the length prefix must equal rawLength and the
   * payload must decompress to exactly rawLength bytes (CORRUPT_DATA), checked
   * before anything is allocated from the prefix. Returns exactly rawLength bytes.
   */
  public static byte[] decode(Block b) throws PegasusException {
    ByteBuffer stored = b.stored();
    int crc = crc32c(stored);
    if (crc != b.crc32c()) {
      throw new PegasusException(ErrorCode.CHECKSUM_MISMATCH, "block (partition " + b.partition() + ", map " + b.mapId()
          + ", attempt " + b.attempt() + ", batch " + b.batch() + ", seq " + b.seq() + ") has CRC32C "
          + Integer.toHexString(crc) + ", header says " + Integer.toHexString(b.crc32c()));
    }
    int rawLength = b.rawLength();
    if (rawLength < 0 || rawLength > WireLimits.BLOCK_BYTES_MAX) {
      throw corrupt(b, "raw length " + Integer.toUnsignedString(rawLength) + " exceeds " + WireLimits.BLOCK_BYTES_MAX);
    }
    int storedLength = stored.remaining();
    switch (b.codec()) {
      case Codec.NONE: {
        if (storedLength != rawLength) {
          throw corrupt(b, "uncompressed block has " + storedLength + " bytes, header says " + rawLength);
        }
        byte[] out = new byte[rawLength];
        stored.get(out);
        return out;
      }
      case Codec.LZ4: {
        if (storedLength <= WireLimits.LZ4_PREFIX_BYTES) {
          throw corrupt(b, "LZ4 block of " + storedLength + " bytes has no payload");
        }
        int prefix = stored.duplicate().order(ByteOrder.LITTLE_ENDIAN).getInt(0);
        if (prefix != rawLength) {
          throw corrupt(b, "LZ4 block says " + Integer.toUnsignedString(prefix) + " raw bytes, header says " + rawLength);
        }
        byte[] out = new byte[rawLength];
        int n;
        try {
          n = Lz4.DECOMPRESSOR.decompress(stored, WireLimits.LZ4_PREFIX_BYTES,
              storedLength - WireLimits.LZ4_PREFIX_BYTES, ByteBuffer.wrap(out), 0, rawLength);
        } catch (LZ4Exception e) {
          throw new PegasusException(ErrorCode.CORRUPT_DATA, describe(b) + ": LZ4 block does not decompress: " + e.getMessage(), e);
        }
        if (n != rawLength) throw corrupt(b, "LZ4 block decompressed to " + n + " bytes, header says " + rawLength);
        return out;
      }
      default:
        throw corrupt(b, "unknown codec " + b.codec());
    }
  }

  /** CRC32C (Castagnoli) of the remaining bytes of {@code buf}; does not move its position. */
  public static int crc32c(ByteBuffer buf) {
    CRC32C c = new CRC32C();
    c.update(buf.duplicate());
    return (int) c.getValue();
  }

  private static PegasusException corrupt(Block b, String what) {
    return new PegasusException(ErrorCode.CORRUPT_DATA, describe(b) + ": " + what);
  }

  private static String describe(Block b) {
    return "block (partition " + b.partition() + ", map " + b.mapId() + ", attempt " + b.attempt() + ", batch " + b.batch()
        + ", seq " + b.seq() + ")";
  }

  private static void putIntLE(byte[] a, int at, int v) {
    a[at] = (byte) v;
    a[at + 1] = (byte) (v >>> 8);
    a[at + 2] = (byte) (v >>> 16);
    a[at + 3] = (byte) (v >>> 24);
  }
}
