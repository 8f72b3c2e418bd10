package org.apache.spark.shuffle.pegasus;

/**
 * The record framing inside a Pegasus block written by the Spark plugin; the byte layout
 * is specified in integration/spark/common/RECORD_FORMAT.md.
 *
 * <pre>
 * block raw bytes := header (16 bytes) | piece bytes
 * header          := u32le pieceLength | u32le chunkLength | u32le pieceOffset | u32le chunkSeq
 * </pre>
 *
 * A chunk is one complete serialization stream of the shuffle's serializer. A chunk larger
 * than one block travels as several pieces; the reader puts them back together by
 * (map, partition, chunkSeq) and offset, so the order in which the pieces arrive does not
 * matter.
 */
final class ChunkFormat {
  static final int HEADER_BYTES = 16;

  private ChunkFormat() {}

  static void writeHeader(byte[] dst, int off, int pieceLength, int chunkLength, int pieceOffset, int chunkSeq) {
    putIntLE(dst, off, pieceLength);
    putIntLE(dst, off + 4, chunkLength);
    putIntLE(dst, off + 8, pieceOffset);
    putIntLE(dst, off + 12, chunkSeq);
  }

  static int getIntLE(byte[] b, int off) {
    return (b[off] & 0xff) | (b[off + 1] & 0xff) << 8 | (b[off + 2] & 0xff) << 16 | (b[off + 3] & 0xff) << 24;
  }

  static void putIntLE(byte[] b, int off, int v) {
    b[off] = (byte) v;
    b[off + 1] = (byte) (v >>> 8);
    b[off + 2] = (byte) (v >>> 16);
    b[off + 3] = (byte) (v >>> 24);
  }
}
