// Every bound and default of the TypeScript client in one place (TigerBeetle
// style). Protocol-wide limits come from schemas/ts/limits.ts; the values here
// are the client's own choices and are asserted against those at load.
import { BLOCK_HEADER_WIRE_BYTES } from '../../schemas/ts/messages.js';
import { BLOCK_BYTES_MAX, ENVELOPE_BYTES_MAX, FRAME_BYTES_MAX } from '../../schemas/ts/limits.js';
import { PEGASUS_VERSION } from '../../schemas/ts/version.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Name sent in Hello; servers may show it in their connection list. */
export const CLIENT_NAME = `pegasus-ts/${PEGASUS_VERSION}`;

// ---------------------------------------------------------------------------
// Connection

/** Time allowed for the TCP connect, the WebSocket upgrade and Hello/HelloAck together. */
export const CONNECT_TIMEOUT_MS_DEFAULT = 10_000;
/** Time allowed for a request's answer, counted from the call to request(). */
export const REQUEST_TIMEOUT_MS_DEFAULT = 30_000;
/** Longest timeout a caller may ask for; a hung server must eventually surface. */
export const REQUEST_TIMEOUT_MS_MAX = 3_600_000;
/** Time close() waits for the server's close frame before dropping the socket. */
export const CLOSE_TIMEOUT_MS = 2_000;
/**
 * ws' maxPayload: one frame plus slack, so that an oversized frame reaches
 * decodeFrame and fails with MESSAGE_TOO_LARGE and its numbers, instead of ws
 * closing the socket with a bare 1009.
 */
export const RECEIVE_PAYLOAD_BYTES_MAX = FRAME_BYTES_MAX + 64 * KiB;
/** Smallest frame_bytes_max a server may advertise: a block header and a useful body must fit. */
export const SERVER_FRAME_BYTES_MIN = 256 * KiB;
/** Client-side cap on the server's push_window (the server's own cap is 64). */
export const PUSH_WINDOW_MAX = 64;
/** Most requests waiting for an answer on one connection, timed-out ones included. */
export const PENDING_REQUESTS_MAX = 4_096;
/** Most read streams open on one connection (the server allows 64). */
export const STREAMS_MAX = 64;
/** Most frames waiting in the client's send queue while the socket drains. */
export const SEND_QUEUE_FRAMES_MAX = PENDING_REQUESTS_MAX + 4 * STREAMS_MAX;
/**
 * Bytes handed to the socket but not yet written to the kernel. Above this, new
 * frames wait in the send queue: memory stays bounded when the network or the
 * server is slower than the writer.
 */
export const SEND_BUFFER_BYTES_HIGH = 8 * MiB;

// ---------------------------------------------------------------------------
// Writer

/** Default raw size at which a partition's buffered records become a block. */
export const BLOCK_BYTES_DEFAULT = 256 * KiB;
/** Smallest block size a caller may configure. */
export const BLOCK_BYTES_MIN = 4 * KiB;
/** Default stored bytes at which the open batch is pushed. */
export const BATCH_BYTES_DEFAULT = 1 * MiB;
/** Smallest and largest batch size a caller may configure. */
export const BATCH_BYTES_MIN = 4 * KiB;
export const BATCH_BYTES_MAX = 8 * MiB;
/** Default bound on all memory of one writer: buffers, compression, unacknowledged batches. */
export const WRITER_MEMORY_BYTES_DEFAULT = 64 * MiB;
/** Smallest writer memory bound a caller may configure. */
export const WRITER_MEMORY_BYTES_MIN = 1 * MiB;
/** First allocation of a partition buffer that has never filled a block. */
export const PARTITION_BUFFER_BYTES_INITIAL = 4 * KiB;
/**
 * Partition buffers are sized in multiples of this: with very many partitions
 * each starts at an equal share of the buffer memory, or at its first record
 * rounded up to this when the share is smaller (partition-buffers.ts).
 */
export const PARTITION_BUFFER_ALIGN_BYTES = 32;
/**
 * Share of the writer's memory bound its partition buffers may fill. When they
 * fill it, every partition's records become a block at once (packed into full
 * pushes, in partition order); the rest of the bound holds those blocks while
 * they are compressed, pushed and acknowledged, so the writer goes on
 * buffering meanwhile. A large share makes the blocks of many small partitions
 * large: a block holds at most this share over the partition count.
 */
export const PARTITION_BUFFERS_SHARE_OF_MEMORY = 0.75;
/** Most blocks compressed at once off the event loop (libuv's default pool has 4 threads). */
export const COMPRESSIONS_IN_FLIGHT_MAX = 4;
/**
 * Blocks smaller than this are compressed on the event loop: a thread-pool hop
 * costs more than compressing a few KiB (lz4 runs at ~400 MB/s here).
 */
export const COMPRESS_ASYNC_BYTES_MIN = 64 * KiB;
/**
 * A writer keeps its records in one shared arena (record-arena.ts) instead of a
 * buffer per partition when its partitions' first buffers alone
 * (numPartitions x PARTITION_BUFFER_BYTES_INITIAL) would exceed its buffer
 * share. The arena grows by chunks of 1/ARENA_CHUNKS_PER_SHARE of that share,
 * at most ARENA_CHUNK_BYTES_MAX: a full chunk's unused tail and the last
 * chunk's free room are what the arena counts beyond its records.
 */
export const ARENA_CHUNKS_PER_SHARE = 16;
export const ARENA_CHUNK_BYTES_MAX = 1 * MiB;
/**
 * Blocks smaller than this are compressed only while compressing them pays: a
 * few hundred bytes of distinct records (many small partitions) seldom hold an
 * LZ4 match, and each lz4-napi call costs several microseconds. After a small
 * block saves less than 1/LZ4_SMALL_GAIN_DIVISOR of its bytes, the next
 * LZ4_SMALL_SKIP_BLOCKS small blocks are stored uncompressed (NONE, as LZ4 would
 * have left them), then one is tried again; larger blocks are always tried.
 */
export const LZ4_SMALL_BLOCK_BYTES = 16 * KiB;
export const LZ4_SMALL_GAIN_DIVISOR = 8;
export const LZ4_SMALL_SKIP_BLOCKS = 15;
/**
 * Envelope bytes of a PushBlocks besides its block headers: the prefix, the
 * FlatBuffers tables and the application id (at most 128 chars). Generous on
 * purpose: it only decides when a batch must end.
 */
export const PUSH_ENVELOPE_BYTES_BASE = 8 * KiB;
/** Time allowed for a PushBlocks answer; long, because the server delays acks under memory pressure. */
export const PUSH_TIMEOUT_MS_DEFAULT = 120_000;
/** Time allowed for a CommitMap answer; it waits for an fsync. */
export const COMMIT_TIMEOUT_MS_DEFAULT = 60_000;
/** Reconnects a writer makes in a row without an acknowledged push in between. */
export const RETRIES_MAX_DEFAULT = 5;
/** Upper bound for the retries option. */
export const RETRIES_MAX = 100;
/** First reconnect delay; doubles per consecutive failure. */
export const RETRY_BACKOFF_MS_INITIAL = 100;
/** Longest reconnect delay. */
export const RETRY_BACKOFF_MS_MAX = 5_000;

// ---------------------------------------------------------------------------
// Reader

/** Default credit of a read stream: bytes of ReadData the server may send ahead of the consumer. */
export const READ_CREDIT_BYTES_DEFAULT = 8 * MiB;
/** Bounds for the credit option; credit_bytes is a u32 on the wire. */
export const READ_CREDIT_BYTES_MIN = 64 * KiB;
export const READ_CREDIT_BYTES_MAX = 256 * MiB;
/**
 * The reader grants credit once at least 1/READ_CREDIT_GRANT_DIVISOR of its
 * credit is free again, so that ReadCredit frames stay few.
 */
export const READ_CREDIT_GRANT_DIVISOR = 4;
/** Time a reader waits for the next frame of its stream before failing with TIMEOUT. */
export const READ_IDLE_TIMEOUT_MS_DEFAULT = 120_000;

// ---------------------------------------------------------------------------
// Objects (object-writer.ts, object-reader.ts)

/** Bytes of one AppendObject by default: large enough that per-message costs vanish, small enough to pipeline. */
export const OBJECT_CHUNK_BYTES_DEFAULT = 1 * MiB;
/** AppendObject requests an ObjectWriter keeps unacknowledged by default (memory: this many chunks). */
export const OBJECT_APPENDS_IN_FLIGHT_DEFAULT = 8;

/** Most bytes of one UCX get (a run longer than this is fetched in pieces). */
export const UCX_PIECE_BYTES = 8 * MiB;
/** Most bytes fetched by one native get call (several runs or pieces, back to back). */
export const UCX_BATCH_BYTES = 16 * MiB;
/** Most ranges in one native get call. */
export const UCX_BATCH_READS_MAX = 1024;
/** Get calls in flight per UCX read: one being parsed, the rest prefetching. Bounds a read's memory. */
export const UCX_BATCHES_IN_FLIGHT = 2;

// ---------------------------------------------------------------------------
// Control

/** Shortest heartbeat interval startHeartbeat() accepts. */
export const HEARTBEAT_INTERVAL_MS_MIN = 100;

// ---------------------------------------------------------------------------
// Relations. Thrown at load, so a bad edit fails every test at once.

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`shuffle-client limits: ${what}`);
}

check(PUSH_ENVELOPE_BYTES_BASE + BLOCK_HEADER_WIRE_BYTES <= ENVELOPE_BYTES_MAX, 'a one-block envelope must fit ENVELOPE_BYTES_MAX');
check(4 + PUSH_ENVELOPE_BYTES_BASE + BLOCK_HEADER_WIRE_BYTES + BLOCK_BYTES_MAX <= FRAME_BYTES_MAX, 'a largest block must fit one PushBlocks frame');
check(BLOCK_BYTES_MIN <= BLOCK_BYTES_DEFAULT && BLOCK_BYTES_DEFAULT <= BLOCK_BYTES_MAX, 'default block size within bounds');
check(BATCH_BYTES_MIN <= BATCH_BYTES_DEFAULT && BATCH_BYTES_DEFAULT <= BATCH_BYTES_MAX, 'default batch size within bounds');
check(BATCH_BYTES_MAX + PUSH_ENVELOPE_BYTES_BASE < FRAME_BYTES_MAX, 'a batch must fit a frame');
check(WRITER_MEMORY_BYTES_MIN <= WRITER_MEMORY_BYTES_DEFAULT, 'default writer memory within bounds');
check(PARTITION_BUFFER_BYTES_INITIAL <= BLOCK_BYTES_MIN, 'a partition buffer starts at most one block large');
check(SERVER_FRAME_BYTES_MIN <= FRAME_BYTES_MAX, 'server frame minimum below the protocol maximum');
check(SERVER_FRAME_BYTES_MIN > 4 + PUSH_ENVELOPE_BYTES_BASE + BLOCK_HEADER_WIRE_BYTES + BLOCK_BYTES_MIN, 'a minimum block fits a minimum server frame');
check(SEND_BUFFER_BYTES_HIGH >= 1 * MiB, 'send buffer holds at least a batch');
check(READ_CREDIT_BYTES_MIN <= READ_CREDIT_BYTES_DEFAULT && READ_CREDIT_BYTES_DEFAULT <= READ_CREDIT_BYTES_MAX, 'default credit within bounds');
check(READ_CREDIT_BYTES_MAX <= 0xffff_ffff, 'credit fits a u32');
check(UCX_PIECE_BYTES <= UCX_BATCH_BYTES && UCX_BATCH_READS_MAX >= 1 && UCX_BATCHES_IN_FLIGHT >= 1, 'UCX batch bounds');
check(RETRY_BACKOFF_MS_INITIAL <= RETRY_BACKOFF_MS_MAX, 'backoff bounds ordered');
check(LZ4_SMALL_BLOCK_BYTES <= COMPRESS_ASYNC_BYTES_MIN && LZ4_SMALL_GAIN_DIVISOR >= 2 && LZ4_SMALL_SKIP_BLOCKS >= 1, 'small-block LZ4 skipping applies to inline compression only');
check(WRITER_MEMORY_BYTES_MIN * PARTITION_BUFFERS_SHARE_OF_MEMORY / ARENA_CHUNKS_PER_SHARE >= 4 * KiB, 'arena chunks of the smallest writer hold some records');
check(0 < PARTITION_BUFFERS_SHARE_OF_MEMORY && PARTITION_BUFFERS_SHARE_OF_MEMORY < 1, 'buffer share is a fraction');
check(PARTITION_BUFFER_BYTES_INITIAL % PARTITION_BUFFER_ALIGN_BYTES === 0 && BLOCK_BYTES_MIN % PARTITION_BUFFER_ALIGN_BYTES === 0, 'buffer sizes aligned');
check(WRITER_MEMORY_BYTES_MIN * PARTITION_BUFFERS_SHARE_OF_MEMORY >= 2 * BLOCK_BYTES_MIN, 'the smallest buffer share holds two minimum blocks');
