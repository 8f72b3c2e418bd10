package io.pegasus.client;

import pegasus.wire.ProtocolLimits;

/**
 * The protocol limits this client obeys and the bounds it chooses for itself
 * (shuffle-client/src/limits.ts has the TypeScript twins of the latter).
 *
 * <p>The protocol constants are not written here: they come from {@link ProtocolLimits},
 * generated from schemas/limits.json by scripts/gen-schemas.mjs (as are
 * schemas/ts/limits.ts and version.ts), so they cannot drift from the other peers. They
 * keep their names here so that callers need not know where they are declared.
 */
public final class WireLimits {
  private WireLimits() {}

  private static final int KiB = 1024;
  private static final int MiB = 1024 * KiB;

  // Protocol constants (schemas/limits.json).

  /** Wire protocol version carried in Hello/HelloAck. */
  public static final int PROTOCOL_VERSION = ProtocolLimits.PROTOCOL_VERSION;
  /** Software version this client reports in its default client name. */
  public static final String CLIENT_VERSION = ProtocolLimits.PEGASUS_VERSION;

  /** Largest WebSocket message any peer sends or accepts (envelope + body). */
  public static final int FRAME_BYTES_MAX = ProtocolLimits.FRAME_BYTES_MAX;
  /** Largest envelope. */
  public static final int ENVELOPE_BYTES_MAX = ProtocolLimits.ENVELOPE_BYTES_MAX;
  /** Most block headers in one PushBlocks or ReadData. */
  public static final int BLOCKS_PER_MESSAGE_MAX = ProtocolLimits.BLOCKS_PER_MESSAGE_MAX;
  /** Largest single block, stored or raw bytes. */
  public static final int BLOCK_BYTES_MAX = ProtocolLimits.BLOCK_BYTES_MAX;
  /** Bytes of one BlockHeader struct in an envelope. */
  public static final int BLOCK_HEADER_BYTES = ProtocolLimits.BLOCK_HEADER_WIRE_BYTES;
  /** Bytes of the u32le envelope-length prefix of a frame. */
  public static final int FRAME_PREFIX_BYTES = ProtocolLimits.FRAME_PREFIX_BYTES;
  /** Bytes of the u32le raw-length prefix of an LZ4 block. */
  public static final int LZ4_PREFIX_BYTES = ProtocolLimits.LZ4_PREFIX_BYTES;
  /** Longest string field. */
  public static final int STRING_BYTES_MAX = ProtocolLimits.STRING_BYTES_MAX;
  /** Most batches one map attempt may push. */
  public static final int BATCHES_PER_ATTEMPT_MAX = ProtocolLimits.BATCHES_PER_ATTEMPT_MAX;
  /** Longest object path (UTF-8 bytes, from the leading slash). */
  public static final int PATH_BYTES_MAX = ProtocolLimits.PATH_BYTES_MAX;
  /** Most entries one DirListing carries. */
  public static final int LIST_ENTRIES_MAX = ProtocolLimits.LIST_ENTRIES_MAX;
  /** Most bytes one AppendObject carries. */
  public static final int APPEND_BYTES_MAX = ProtocolLimits.APPEND_BYTES_MAX;

  // Client-side choices.

  /** Envelope bytes of a PushBlocks besides its block headers (tables, app id); generous on purpose. */
  public static final int PUSH_ENVELOPE_BYTES_BASE = 8 * KiB;
  /** Smallest frame_bytes_max a server may advertise. */
  public static final int SERVER_FRAME_BYTES_MIN = 256 * KiB;
  /** Client-side cap on the server's push_window. */
  public static final int PUSH_WINDOW_MAX = 64;
  /** Most requests waiting for an answer on one connection, timed-out ones included. */
  public static final int PENDING_REQUESTS_MAX = 4_096;
  /** Most read streams open on one connection (the server allows 64). */
  public static final int STREAMS_MAX = 64;
  /** Bounds of the read credit; credit_bytes is a u32 on the wire. */
  public static final int READ_CREDIT_BYTES_MIN = 64 * KiB;
  public static final int READ_CREDIT_BYTES_MAX = 256 * MiB;
  /** Longest timeout a caller may configure. */
  public static final long TIMEOUT_MILLIS_MAX = 3_600_000L;
  /** Most reconnects a writer may be configured to make. */
  public static final int RETRIES_MAX = 100;
  /** Most times one read is opened again after failures (ResumableRead), however much it progressed between them. */
  public static final int READ_RESUMES_MAX = 32;
  /** Longest wait between two reconnects. */
  public static final long RETRY_WAIT_MILLIS_MAX = 30_000L;
  /** Direct buffer per connection that outgoing frames are masked into and written from. */
  public static final int SOCKET_SEND_BUFFER_BYTES = 256 * KiB;
  /** Direct buffer per connection that the socket is read into (holds a whole handshake answer head). */
  public static final int SOCKET_READ_BUFFER_BYTES = 256 * KiB;
  /**
   * Spare ReadData body arrays a connection keeps for reuse ({@link BodyPool}): enough
   * for the frames of a default read credit, so a stream that recycles its blocks
   * (ReadStream.recycleTakenBlocks) allocates no new body in the steady state.
   */
  public static final int READ_BODY_POOL_BYTES = 16 * MiB;
  /** Longest answer head (status line and headers) accepted for the WebSocket upgrade. */
  public static final int HANDSHAKE_HEAD_BYTES_MAX = 16 * KiB;
  /** Most bytes of a refused upgrade's body read for its error code and text. */
  public static final int HANDSHAKE_BODY_BYTES_MAX = 4 * KiB;
  /** Bytes per AppendObject of an {@link ObjectWriter} unless set (OBJECT_CHUNK_BYTES_DEFAULT of the TypeScript client). */
  public static final int OBJECT_CHUNK_BYTES_DEFAULT = 1 * MiB;
  /** AppendObject requests of one {@link ObjectWriter} awaiting their Ack before write() waits, unless set. */
  public static final int OBJECT_APPENDS_IN_FLIGHT_DEFAULT = 8;
  /** Largest appendsInFlight a caller may set (the connection's push window bounds it further). */
  public static final int OBJECT_APPENDS_IN_FLIGHT_MAX = 1024;
  /** Time close() waits for the server's close frame before dropping the socket. */
  public static final long CLOSE_TIMEOUT_MILLIS = 2_000L;
}
