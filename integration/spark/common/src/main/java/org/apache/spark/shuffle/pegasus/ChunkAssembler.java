package org.apache.spark.shuffle.pegasus;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

import io.pegasus.client.PegasusException;
import pegasus.wire.ErrorCode;

/**
 * Reader side of RECORD_FORMAT.md: checks each block's chunk header and puts chunks that
 * span several blocks back together. Pieces may arrive in any order; overlapping pieces,
 * pieces past the chunk's end and headers that disagree with the block are CORRUPT_DATA.
 * Memory held is the partial chunks only (a record larger than a block is held whole once
 * complete anyway). One instance belongs to one reader.
 */
final class ChunkAssembler {
  /** A complete chunk: {@code length} bytes of {@code bytes} from {@code offset}. */
  record Chunk(byte[] bytes, int offset, int length) {}

  private static final int CHUNK_BYTES_MAX = Integer.MAX_VALUE - 64;

  private record Key(int mapId, int partition, int chunkSeq) {}

  private static final class Partial {
    final byte[] data;
    final TreeMap<Integer, Integer> pieces = new TreeMap<>(); // offset -> length
    long filled;

    Partial(int length) {
      this.data = new byte[length];
    }
  }

  private final Map<Key, Partial> partials = new HashMap<>();

  /** Returns the chunk this block completes, or null if more pieces are needed. */
  Chunk add(int mapId, int partition, byte[] raw) throws PegasusException {
    if (raw.length < ChunkFormat.HEADER_BYTES) {
      throw corrupt(mapId, partition, "block of " + raw.length + " bytes has no chunk header");
    }
    int pieceLength = ChunkFormat.getIntLE(raw, 0);
    int chunkLength = ChunkFormat.getIntLE(raw, 4);
    int pieceOffset = ChunkFormat.getIntLE(raw, 8);
    int chunkSeq = ChunkFormat.getIntLE(raw, 12);
    if (pieceLength < 0 || ChunkFormat.HEADER_BYTES + (long) pieceLength != raw.length) {
      throw corrupt(mapId, partition, "piece length " + Integer.toUnsignedString(pieceLength) + " disagrees with block raw length "
          + raw.length);
    }
    if (chunkLength < 0 || chunkLength > CHUNK_BYTES_MAX || pieceOffset < 0
        || (long) pieceOffset + pieceLength > chunkLength) {
      throw corrupt(mapId, partition, "piece [" + Integer.toUnsignedString(pieceOffset) + ", +" + pieceLength
          + ") outside chunk of " + Integer.toUnsignedString(chunkLength) + " bytes");
    }
    if (pieceOffset == 0 && pieceLength == chunkLength) {
      return new Chunk(raw, ChunkFormat.HEADER_BYTES, pieceLength);
    }
    Key key = new Key(mapId, partition, chunkSeq);
    Partial p = partials.get(key);
    if (p == null) {
      p = new Partial(chunkLength);
      partials.put(key, p);
    } else if (p.data.length != chunkLength) {
      throw corrupt(mapId, partition, "pieces of chunk " + chunkSeq + " disagree on its length: " + p.data.length + " vs "
          + chunkLength);
    }
    Map.Entry<Integer, Integer> before = p.pieces.floorEntry(pieceOffset);
    Map.Entry<Integer, Integer> after = p.pieces.ceilingEntry(pieceOffset);
    if ((before != null && before.getKey() + before.getValue() > pieceOffset)
        || (after != null && after.getKey() < pieceOffset + pieceLength)) {
      throw corrupt(mapId, partition, "piece at " + pieceOffset + " of chunk " + chunkSeq + " overlaps another");
    }
    System.arraycopy(raw, ChunkFormat.HEADER_BYTES, p.data, pieceOffset, pieceLength);
    p.pieces.put(pieceOffset, pieceLength);
    p.filled += pieceLength;
    if (p.filled < chunkLength) return null;
    partials.remove(key);
    return new Chunk(p.data, 0, chunkLength);
  }

  /** Fails if a chunk is still incomplete once every block has been read. */
  void finish() throws PegasusException {
    for (Map.Entry<Key, Partial> e : partials.entrySet()) {
      Key k = e.getKey();
      throw corrupt(k.mapId(), k.partition(), "chunk " + k.chunkSeq() + " incomplete: " + e.getValue().filled + " of "
          + e.getValue().data.length + " bytes arrived");
    }
  }

  private static PegasusException corrupt(int mapId, int partition, String what) {
    return new PegasusException(ErrorCode.CORRUPT_DATA, "map " + mapId + " partition " + partition + ": " + what);
  }
}
