package io.pegasus.client;

import java.nio.ByteBuffer;
import java.util.Objects;
import pegasus.wire.Codec;

/**
 * A block as it travels: the BlockHeader fields and the stored bytes (after
 * compression; what the CRC32C covers). Immutable; {@link #stored()} returns a fresh
 * view each time, so reading it never disturbs the block.
 */
public final class Block {
  private final long attempt;
  private final int mapId;
  private final int partition;
  private final int batch;
  private final int seq;
  private final int rawLength;
  private final int crc32c;
  private final byte codec;
  private final ByteBuffer stored;
  /** The received body this block is a view of, when its array may be reused; null otherwise. */
  private final BodyLease lease;

  /**
   * @param stored the stored bytes from its position to its limit; the block keeps a
   *     view of them (no copy), so they must not change while the block is in use
   */
  public Block(long attempt, int mapId, int partition, int batch, int seq, int rawLength, int crc32c, byte codec,
      ByteBuffer stored) {
    this(attempt, mapId, partition, batch, seq, rawLength, crc32c, codec, stored, null);
  }

  /** A received block whose stored bytes are a view of {@code lease}'s array. */
  Block(long attempt, int mapId, int partition, int batch, int seq, int rawLength, int crc32c, byte codec,
      ByteBuffer stored, BodyLease lease) {
    Objects.requireNonNull(stored, "stored");
    this.lease = lease;
    this.attempt = attempt;
    this.mapId = mapId;
    this.partition = partition;
    this.batch = batch;
    this.seq = seq;
    this.rawLength = rawLength;
    this.crc32c = crc32c;
    this.codec = codec;
    this.stored = stored.slice();
  }

  public long attempt() {
    return attempt;
  }

  public int mapId() {
    return mapId;
  }

  public int partition() {
    return partition;
  }

  public int batch() {
    return batch;
  }

  public int seq() {
    return seq;
  }

  public int rawLength() {
    return rawLength;
  }

  public int storedLength() {
    return stored.capacity();
  }

  public int crc32c() {
    return crc32c;
  }

  /** A {@link Codec} value. */
  /**
   * Gives up this block's share of its received body (see {@link BodyLease}); a no-op
   * for a block that is not a view of a pooled body. Call at most once per block, and
   * only when nobody can read the block any more.
   */
  void release() {
    if (lease != null) lease.release();
  }

  public byte codec() {
    return codec;
  }

  /** A new view of the stored bytes: position 0, limit {@link #storedLength()}. */
  public ByteBuffer stored() {
    return stored.duplicate();
  }

  /** The same block with the writer's identity fields set. */
  Block withIds(long attempt, int mapId, int batch, int seq) {
    return new Block(attempt, mapId, partition, batch, seq, rawLength, crc32c, codec, stored);
  }

  @Override
  public String toString() {
    return "Block{attempt=" + attempt + ", map=" + mapId + ", partition=" + partition + ", batch=" + batch + ", seq=" + seq
        + ", raw=" + rawLength + ", stored=" + storedLength() + ", crc32c=" + Integer.toHexString(crc32c) + ", codec="
        + (codec >= 0 && codec < Codec.names.length ? Codec.name(codec) : Byte.toString(codec)) + "}";
  }
}
