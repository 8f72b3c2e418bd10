// Every hard bound of the server in one place (TigerBeetle style). Tunables that
// operators may change are config keys (config.ts) and are checked against these
// maxima at start by checkLimits().
import * as wire from '../../schemas/ts/limits.js';

export const FRAME_BYTES_MAX = wire.FRAME_BYTES_MAX;
export const BLOCK_BYTES_MAX = wire.BLOCK_BYTES_MAX;
export const PARTITIONS_PER_SHUFFLE_MAX = wire.PARTITIONS_PER_SHUFFLE_MAX;
export const MAPS_PER_SHUFFLE_MAX = wire.MAPS_PER_SHUFFLE_MAX;
export const BATCHES_PER_ATTEMPT_MAX = wire.BATCHES_PER_ATTEMPT_MAX;
export const RUNS_PER_PLAN_MAX = wire.RUNS_PER_PLAN_MAX;
export const REGIONS_PER_PLAN_MAX = wire.REGIONS_PER_PLAN_MAX;
export const COMMITS_PER_PLAN_MAX = wire.COMMITS_PER_PLAN_MAX;

/** Flushes started by memory pressure at once (one per core is plenty on one disk). */
export const PRESSURE_FLUSHES_MAX = 2;
/** How often housekeeping runs (disk space refresh, pressure flush retry). */
export const HOUSEKEEPING_INTERVAL_MS = 500;
/**
 * Idle push buffers are dropped once no push took one for this long. Spark map
 * tasks push in bursts seconds apart (a task pushes once its partitions fill
 * blocks); dropping them after one quiet housekeeping tick (500 ms) made 87 %
 * of a SQL job's pushes copy into fresh, page-faulting memory.
 */
export const PUSH_BUFFERS_IDLE_MS = 30_000;
/** Dead external memory (freed pushed Buffers) tolerated before a full collection is forced. */
export const GARBAGE_BYTES_MAX = 64 * 1024 * 1024;
/**
 * Blocks at least this long extend their run's CRC32C by combining the block's
 * checked CRC (about 3 µs) instead of reading the data again (about 33 µs per
 * 256 KiB here); shorter ones are read, which is cheaper.
 */
export const CRC_COMBINE_BYTES_MIN = 32 * 1024;
/**
 * Runs up to this long are copied into one buffer when written: one CRC32C call
 * and one write vector entry per run instead of two per block (with 100,000
 * partitions most runs are a few hundred bytes).
 */
export const SMALL_RUN_BYTES_MAX = 16 * 1024;
/** Small runs of one append are copied into chunks of this size (held until the append's writes end). */
export const RUN_ARENA_CHUNK_BYTES = 1024 * 1024;
/**
 * A ReadData message goes out as WebSocket fragments (net/message-fragments.ts): block
 * data of at least this many bytes is handed to uWS straight from the read window (no
 * copy into a frame buffer); smaller pieces are copied together.
 */
export const FRAGMENT_ZERO_COPY_BYTES_MIN = 32 * 1024;
/** Largest fragment of copied-together small pieces (one scratch buffer per connection). */
export const FRAGMENT_COPY_BYTES_MAX = 256 * 1024;
/** Socket bytes queued in uWS above which read streams pause until `drain`. */
export const SOCKET_HIGH_WATER_BYTES = 4 * 1024 * 1024;

/** Longest HTTP request head the frame guard reads to see whether it is an upgrade (uWS itself refuses heads over 4 KiB). */
export const FRAME_GUARD_HEAD_BYTES_MAX = 16 * 1024;
/** How long, after ending a client's socket, the frame guard waits for the client to close before dropping it. */
export const FRAME_GUARD_CLOSE_LINGER_MS = 10_000;
/** Size of one read of the frame guard from uWS's side (one buffer of its pool). */
export const FRAME_GUARD_READ_BUFFER_BYTES = 1024 * 1024;
/** Most idle read buffers the frame guard keeps for reuse, over all connections. */
export const FRAME_GUARD_READ_BUFFERS_POOLED_MAX = 16;

/** Most UCX read leases (planned, not yet released reads) open at once on one connection. */
export const READ_LEASES_PER_CONNECTION_MAX = 64;
/** Most sealed segments registered with UCX at once. */
export const UCX_REGIONS_MAX = 65_536;

/** Most applications registered at once. */
export const APPS_MAX = 10_000;
/** Most shuffles registered at once, over all applications. */
export const SHUFFLES_MAX = 100_000;
/** Most concurrent WebSocket connections. */
export const CONNECTIONS_MAX = 4_096;
/** Most read streams open at once on one connection. */
export const READ_STREAMS_PER_CONNECTION_MAX = 64;
/** Most map attempts with pushed but uncommitted data per shuffle. */
export const OPEN_ATTEMPTS_PER_SHUFFLE_MAX = 1_000_000;
/** Most commits of one shuffle waiting to be durable (queued for a group flush or in it); more are LIMIT_EXCEEDED. */
export const PENDING_COMMITS_MAX = 100_000;
/** Largest run read from a segment in one read call. */
export const READ_CHUNK_BYTES_MAX = 8 * 1024 * 1024;
/**
 * Runs of one read window that lie at most this far apart in one segment are
 * read with one call, the bytes between them read and dropped: cheaper than a
 * second call for a few KiB (runs of partitions outside the read lie between).
 */
export const READ_EXTENT_GAP_BYTES_MAX = 16 * 1024;
/** Index rows taken from a LevelDB iterator per call when listing (each call is one hop to its thread). */
export const CATALOG_ROWS_PER_STEP = 1_000;
/**
 * Partitions whose small runs of one append share one catalog row (run groups,
 * engine/catalog/INDEX_FORMAT.md). One row per run cost ~100,000 LevelDB ops per
 * append at 100,000 partitions; grouping by 32 makes that ~3,000. Kept small
 * because a read of one partition (a Spark reduce task) reads its group's whole
 * row from every append: 32 entries of 36 bytes, about 1 KiB per append.
 */
export const RUN_GROUP_PARTITIONS = 32;
/**
 * Runs up to this many bytes go into run-group rows; larger ones keep a row of
 * their own (a 61-byte row per run of more than 16 KiB costs nothing worth
 * saving, and is read by the reduce task that needs it alone).
 */
export const RUN_GROUP_RUN_BYTES_MAX = 16 * 1024;
/**
 * Most entries in one run-group row (about 144 KiB): an append with more runs
 * of one group in one segment (many runs per partition) splits them over rows,
 * so no LevelDB value grows without bound.
 */
export const RUN_GROUP_ENTRIES_MAX = 4_096;
/** Most blocks of a run larger than a read window handed on in one array. */
export const READ_BLOCKS_PER_BATCH_MAX = 1_024;
/**
 * Runs read by a read stream's first window (engine/run-reader.ts); each next
 * window reads twice as much, up to readAheadBytes. A reduce task waits for its
 * first blocks; with whole 4 MiB windows that was the read of every run of the
 * window (a dozen preads through the thread pool) before the first frame left.
 */
export const READ_FIRST_WINDOW_BYTES = 256 * 1024;
/** Idle read window buffers kept for reuse, in all (engine/read-buffers.ts). */
export const READ_BUFFERS_IDLE_BYTES_MAX = 32 * 1024 * 1024;
/** Segment files one read stream keeps open (one per segment its runs lie in); the oldest is closed beyond. */
export const READ_FILES_OPEN_MAX = 16;
/** Segment file handles kept open between reads (engine/read-handles.ts), beyond those reads hold; least recently used closed first. */
export const READ_HANDLES_IDLE_MAX = 256;
/** Most bytes the server queues on a socket beyond which it stops producing (uWS backpressure). */
export const SOCKET_BACKPRESSURE_BYTES_MAX = 64 * 1024 * 1024;
/** Largest segment file. Offsets in the index are u64, this keeps files manageable. */
export const SEGMENT_BYTES_MAX = 4 * 1024 * 1024 * 1024;
/** Most storage tiers (config key `tiers`). */
export const TIERS_MAX = 8;
/** Smallest memory budget that still lets one frame per connection in. */
export const MEMORY_BUDGET_BYTES_MIN = 4 * FRAME_BYTES_MAX;
/** Smallest and largest ReadData frame a server may be configured to send (readFrameBytes); a larger block travels alone. */
export const READ_FRAME_BYTES_MIN = 64 * 1024;
export const READ_FRAME_BYTES_MAX = FRAME_BYTES_MAX - 64 * 1024;
/** Most pushes one connection may have unacknowledged (the window cannot exceed this). */
export const PUSH_WINDOW_MAX = 64;
/** Longest admin/HTTP request body accepted. */
export const HTTP_BODY_BYTES_MAX = 1024 * 1024;
/** Most recent errors answered to clients kept for GET /api/v1/errors. */
export const RECENT_ERRORS_MAX = 100;
/** Longest message of one kept recent error (longer ones are cut). */
export const RECENT_ERROR_MESSAGE_CHARS_MAX = 1_000;
/** Most errors one verify call reports (it goes on counting after). */
export const VERIFY_ERRORS_MAX = 1_000;
/** Partitions whose run rows one verify step lists from the index at once. */
export const VERIFY_PARTITIONS_PER_STEP_MAX = 256;
/** Most orphans one cleanup call removes (and lists); a later call takes the rest. */
export const ORPHANS_PER_CLEANUP_MAX = 100_000;

// Objects (objects/): write-once files in a path namespace.
/** Bytes of each block of an object's runs but the last of a run (objects/OBJECT_ROWS.md): what a positioned read reads at least. */
export const OBJECT_BLOCK_BYTES = 256 * 1024;
/** An object closed at this size or less before any flush is stored in the index (inline), not in a segment log of its own. */
export const OBJECT_INLINE_BYTES_MAX = 64 * 1024;
/** A writer writes its full blocks to disk once it holds this many bytes of them (and at close, and under memory pressure). */
export const OBJECT_FLUSH_BYTES = 8 * 1024 * 1024;
/** Most objects open for writing on one connection. */
export const OBJECT_WRITERS_PER_CONNECTION_MAX = 256;
/** Most objects open for writing on the server. */
export const OBJECT_WRITERS_MAX = 8_192;
/** Directory entries the namespace keeps in memory (recently read or written; about 200 bytes each). */
export const NAMESPACE_ENTRIES_CACHED_MAX = 100_000;
/** Object ids reserved by one synced counter write (objects/OBJECT_ROWS.md). */
export const OBJECT_IDS_PER_RESERVATION = 1_024;
/** Closed objects whose segment logs stay open for reads (least recently read dropped first). */
export const OBJECT_LOGS_OPEN_MAX = 1_024;
/** Bytes one object read stream reads from disk at a time (whole blocks, so up to one block more). */
export const OBJECT_READ_WINDOW_BYTES = 1024 * 1024;
/** How often expired files (TTL) are looked for and deleted. */
export const OBJECT_EXPIRY_CHECK_MS = 1_000;
/** Expired files deleted per check at most (the next check goes on). */
export const OBJECT_EXPIRIES_PER_CHECK = 1_000;
/** Cache files deleted for room per check at most (the next check goes on). */
export const OBJECT_EVICTIONS_PER_CHECK = 1_000;
/** Entries a recursive delete moves to the pending rows per batch. */
export const OBJECT_DELETE_BATCH_ENTRIES = 1_000;

export interface TunableLimits {
  memoryBudgetBytes: number;
  segmentBytesMax: number;
  pushWindow: number;
  readFrameBytes: number;
}

/** Asserts the relations between tunables and hard limits; throws a plain Error at start. */
export function checkLimits(t: TunableLimits): void {
  const fail = (msg: string): never => {
    throw new Error(`invalid limits: ${msg}`);
  };
  if (t.memoryBudgetBytes < MEMORY_BUDGET_BYTES_MIN) fail(`memoryBudgetBytes ${t.memoryBudgetBytes} < ${MEMORY_BUDGET_BYTES_MIN}`);
  if (t.segmentBytesMax > SEGMENT_BYTES_MAX) fail(`segmentBytesMax ${t.segmentBytesMax} > ${SEGMENT_BYTES_MAX}`);
  if (t.segmentBytesMax < FRAME_BYTES_MAX) fail(`segmentBytesMax ${t.segmentBytesMax} < FRAME_BYTES_MAX ${FRAME_BYTES_MAX}`);
  if (t.pushWindow < 1 || t.pushWindow > PUSH_WINDOW_MAX) fail(`pushWindow ${t.pushWindow} not in 1..${PUSH_WINDOW_MAX}`);
  // A read frame holds blocks up to readFrameBytes; one block larger than that
  // travels alone, which fits because BLOCK_BYTES_MAX < FRAME_BYTES_MAX.
  if (t.readFrameBytes < READ_FRAME_BYTES_MIN || t.readFrameBytes > READ_FRAME_BYTES_MAX) {
    fail(`readFrameBytes ${t.readFrameBytes} not in ${READ_FRAME_BYTES_MIN}..${READ_FRAME_BYTES_MAX}`);
  }
  if (SOCKET_BACKPRESSURE_BYTES_MAX < 2 * FRAME_BYTES_MAX) fail('socket backpressure below two frames');
}
