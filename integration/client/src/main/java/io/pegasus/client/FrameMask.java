package io.pegasus.client;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The RFC 6455 masking of a client frame's payload (section 5.3), done while copying:
 * payload byte {@code i} goes out as {@code byte ^ key[i % 4]}, where {@code key} is the
 * frame's 4-byte masking key in the order it is sent. The XOR runs on eight bytes at a
 * time (a long holding the key twice, rotated to the payload offset where the copy
 * starts), so masking costs no pass of its own over the bytes.
 */
final class FrameMask {
  private FrameMask() {}

  /** Little-endian longs over a byte[]: C2 compiles these to plain loads, without ByteBuffer's checks per access. */
  private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  /**
   * The key as a little-endian long for a copy that starts at payload offset
   * {@code payloadOffset}: its byte {@code j} is {@code key[(payloadOffset + j) % 4]}.
   * Eight bytes later the rotation is the same again, so one value serves a whole copy.
   *
   * @param key the masking key, big-endian: its first byte on the wire is bits 31..24
   */
  static long wordAt(int key, long payloadOffset) {
    int rotated = Integer.rotateRight(Integer.reverseBytes(key), 8 * (int) (payloadOffset & 3));
    return (rotated & 0xFFFF_FFFFL) | ((long) rotated << 32);
  }

  /**
   * Copies {@code length} bytes from {@code src} at absolute index {@code srcIndex} to
   * {@code dst} at absolute index {@code dstIndex}, masked with {@code word} (from
   * {@link #wordAt} for the payload offset of the first byte). Positions and limits of
   * both buffers are left alone; {@code dst}'s byte order must be little-endian, and
   * so must {@code src}'s unless it is backed by an array (read straight from it).
   */
  static void copy(ByteBuffer src, int srcIndex, ByteBuffer dst, int dstIndex, int length, long word) {
    assert dst.order() == ByteOrder.LITTLE_ENDIAN;
    if (src.hasArray()) {
      copy(src.array(), src.arrayOffset() + srcIndex, dst, dstIndex, length, word);
      return;
    }
    assert src.order() == ByteOrder.LITTLE_ENDIAN;
    int i = 0;
    for (int end = length - 7; i < end; i += 8) {
      dst.putLong(dstIndex + i, src.getLong(srcIndex + i) ^ word);
    }
    for (; i < length; i++) {
      dst.put(dstIndex + i, (byte) (src.get(srcIndex + i) ^ (word >>> (8 * (i & 7)))));
    }
  }

  /** {@link #copy(ByteBuffer, int, ByteBuffer, int, int, long)} from a byte array. */
  static void copy(byte[] src, int srcIndex, ByteBuffer dst, int dstIndex, int length, long word) {
    int i = 0;
    for (int end = length - 7; i < end; i += 8) {
      dst.putLong(dstIndex + i, (long) LONGS.get(src, srcIndex + i) ^ word);
    }
    for (; i < length; i++) {
      dst.put(dstIndex + i, (byte) (src[srcIndex + i] ^ (word >>> (8 * (i & 7)))));
    }
  }
}
