// Protocol-wide limits: every peer (server, TypeScript client, JVM client) obeys
// these. Server operational limits live in shuffle-server/src/limits.ts and are
// checked against these at start.

/** Largest WebSocket frame any peer sends or accepts (envelope + body). */
export const FRAME_BYTES_MAX = 16 * 1024 * 1024;
/** Largest envelope; bulk bytes travel in the frame body, not the envelope. */
export const ENVELOPE_BYTES_MAX = 4 * 1024 * 1024;
/** Longest string field (ids, client names, error messages). */
export const STRING_BYTES_MAX = 4096;
/**
 * Most blocks named by one PushBlocks or ReadData. 65,536 headers of 40 bytes
 * are 2.5 MiB, inside ENVELOPE_BYTES_MAX.
 */
export const BLOCKS_PER_MESSAGE_MAX = 65_536;
/** Largest single block (stored or raw bytes). A block must fit one frame. */
export const BLOCK_BYTES_MAX = 8 * 1024 * 1024;
/** Most partitions in one shuffle. */
export const PARTITIONS_PER_SHUFFLE_MAX = 1_000_000;
/** Most map tasks in one shuffle. */
export const MAPS_PER_SHUFFLE_MAX = 10_000_000;
/** Most batches one map attempt may push. */
export const BATCHES_PER_ATTEMPT_MAX = 1_000_000;

/** Most runs one ReadPlan names (48 bytes each on the wire). */
export const RUNS_PER_PLAN_MAX = 49_152;
/** Most segments (regions) one ReadPlan names. */
export const REGIONS_PER_PLAN_MAX = 2_048;
/** Longest packed UCX remote key. */
export const RKEY_BYTES_MAX = 512;
/** Longest UCX worker address a server advertises in HelloAck. */
export const UCX_ADDRESS_BYTES_MAX = 4096;
/** Most map commits one ReadPlan carries (16 bytes each); a larger map range is LIMIT_EXCEEDED. */
export const COMMITS_PER_PLAN_MAX = 32_768;

if (BLOCKS_PER_MESSAGE_MAX * 40 > ENVELOPE_BYTES_MAX) throw new Error('limits: block headers exceed the envelope bound');
if (RUNS_PER_PLAN_MAX * 48 + REGIONS_PER_PLAN_MAX * (RKEY_BYTES_MAX + 16) + COMMITS_PER_PLAN_MAX * 16 + 64 * 1024 > ENVELOPE_BYTES_MAX) {
  throw new Error('limits: a largest ReadPlan exceeds the envelope bound');
}
if (BLOCK_BYTES_MAX >= FRAME_BYTES_MAX) throw new Error('limits: a block must fit in a frame');
