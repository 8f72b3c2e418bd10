package io.pegasus.client;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/** Deterministic block contents, so readers can check what they got without keeping a copy. */
final class TestData {
  private TestData() {}

  /** Incompressible bytes. */
  static byte[] random(long seed, int len) {
    byte[] b = new byte[len];
    new SplittableRandom(seed).nextBytes(b);
    return b;
  }

  /** Text that LZ4 compresses well. */
  static byte[] text(long seed, int len) {
    StringBuilder sb = new StringBuilder(len + 64);
    for (long i = 0; sb.length() < len; i++) {
      sb.append("record ").append(seed).append(' ').append(i % 97).append(" lorem ipsum dolor sit amet\n");
    }
    return sb.substring(0, len).getBytes(StandardCharsets.US_ASCII);
  }

  static long seed(long attempt, int map, int partition, int index) {
    return attempt * 1_000_003L + map * 10_007L + partition * 101L + index;
  }

  /** Reads everything a stream delivers, checking each block's CRC and LZ4 framing. */
  static java.util.List<Block> drain(ReadStream s) throws PegasusException {
    java.util.List<Block> out = new java.util.ArrayList<>();
    for (Block b = s.take(); b != null; b = s.take()) {
      BlockCodec.decode(b);
      out.add(b);
    }
    return out;
  }
}
