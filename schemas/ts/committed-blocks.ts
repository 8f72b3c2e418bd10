// Which stored blocks a read returns. A run holds the blocks of every map attempt
// that pushed to its partition before a flush, committed or not; a read keeps a
// block only if its map is in the read's range, its attempt is the map's winning
// (committed) attempt, its batch is below the commit's batch count, and its
// (map, batch, seq) was not already returned for this partition (a batch stored
// twice across a restart). The server applies this to WebSocket reads
// (Shuffle.readBlocks) and UCX readers apply it to runs they fetched themselves
// (shuffle-client/src/ucx-read-stream.ts), so both transports return the same
// blocks in the same order.
import { BATCHES_PER_ATTEMPT_MAX, BLOCKS_PER_MESSAGE_MAX } from './limits.js';
import type { BlockHeader, MapCommit } from './messages.js';

if (!(BATCHES_PER_ATTEMPT_MAX * BLOCKS_PER_MESSAGE_MAX <= Number.MAX_SAFE_INTEGER)) throw new Error('committed-blocks: (batch, seq) keys must be exact');

export class CommittedBlockFilter {
  private readonly winners = new Map<number, MapCommit>();
  private partition = -1;
  /** (batch, seq) pairs returned for the current partition, per map; numbers, not strings: this runs per block. */
  private readonly seen = new Map<number, Set<number>>();

  constructor(commits: Iterable<MapCommit>, private readonly mapStart: number, private readonly mapEnd: number) {
    for (const c of commits) this.winners.set(c.mapId, c);
  }

  /** Whether `h` is returned; call for each stored block in stored order. */
  accept(h: BlockHeader): boolean {
    if (h.mapId < this.mapStart || h.mapId >= this.mapEnd) return false;
    const c = this.winners.get(h.mapId);
    if (c === undefined || c.attempt !== h.attempt || h.batch >= c.batchCount) return false;
    if (h.partition !== this.partition) {
      this.partition = h.partition;
      this.seen.clear();
    }
    let seen = this.seen.get(h.mapId);
    if (seen === undefined) {
      seen = new Set();
      this.seen.set(h.mapId, seen);
    }
    // batch < BATCHES_PER_ATTEMPT_MAX (2^20) and seq < BLOCKS_PER_MESSAGE_MAX (2^16): exact in a double.
    const key = h.batch * BLOCKS_PER_MESSAGE_MAX + h.seq;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  }
}
