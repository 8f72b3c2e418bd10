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

if (BLOCKS_PER_MESSAGE_MAX * 40 > ENVELOPE_BYTES_MAX) throw new Error('limits: block headers exceed the envelope bound');
if (BLOCK_BYTES_MAX >= FRAME_BYTES_MAX) throw new Error('limits: a block must fit in a frame');
