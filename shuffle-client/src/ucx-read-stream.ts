// A read over UCX: PlanRead on the WebSocket connection, then one-sided gets of
// the planned runs straight out of the server's registered segment memory,
// parsed and filtered here, then ReleaseRead. It yields exactly the blocks, in
// the same order, that a WebSocket read stream of the same ranges yields
// (schemas/ts/committed-blocks.ts applies the same rule on both sides), each
// verified (CRC32C, decompressed length) before it is yielded.
//
// Memory: at most UCX_BATCHES_IN_FLIGHT get calls of at most UCX_BATCH_BYTES
// each, plus one partial block record per run being parsed.
//
// Failure: any UCX failure (server gone, endpoint reset, timeout) ends the read
// with its code; ReleaseRead answering UNKNOWN_SHUFFLE (the shuffle was removed
// while it was read) ends it with that code after the last block. return()
// (break) stops fetching and releases the lease.
import type { UcxClient } from '../../native/binding.cjs';
import { fromNativeError } from '../../native/ts/errors.js';
import { CommittedBlockFilter } from '../../schemas/ts/committed-blocks.js';
import { ErrorCode, PegasusError, toPegasusError } from '../../schemas/ts/errors.js';
import type { ReadPlan, RunLocation } from '../../schemas/ts/messages.js';
import { checkBlock } from './block-check.js';
import type { Connection } from './connection.js';
import { UCX_BATCH_BYTES, UCX_BATCH_READS_MAX, UCX_BATCHES_IN_FLIGHT, UCX_PIECE_BYTES } from './limits.js';
import type { ReadBlock, ReadCounters, ReadRange } from './read-stream.js';
import { RunParser } from '../../schemas/ts/run-parser.js';
import { dropUcxEndpoint, ucxEndpoint } from './ucx-endpoint.js';

/** A piece of one run: `length` bytes at `offset` within the run. */
interface Piece {
  run: number;
  offset: number;
  length: number;
  /** The run's last piece. */
  last: boolean;
}

/** One native get call: pieces fetched back to back into one buffer. */
interface Batch {
  pieces: Piece[];
  bytes: number;
}

/** Cuts the plan's runs into pieces and the pieces into get calls, in plan order. */
export function planBatches(runs: readonly RunLocation[]): Batch[] {
  const batches: Batch[] = [];
  let current: Batch = { pieces: [], bytes: 0 };
  runs.forEach((r, run) => {
    for (let offset = 0; offset < r.length; offset += UCX_PIECE_BYTES) {
      const length = Math.min(UCX_PIECE_BYTES, r.length - offset);
      if (current.pieces.length > 0 && (current.bytes + length > UCX_BATCH_BYTES || current.pieces.length >= UCX_BATCH_READS_MAX)) {
        batches.push(current);
        current = { pieces: [], bytes: 0 };
      }
      current.pieces.push({ run, offset, length, last: offset + length === r.length });
      current.bytes += length;
    }
  });
  if (current.pieces.length > 0) batches.push(current);
  return batches;
}

export interface UcxReadOptions {
  /** Longest wait for one get call. */
  timeoutMs: number;
  /**
   * Transport 'auto': the read to use instead when UCX cannot serve this one
   * (no UCX endpoint, TRANSPORT_UNAVAILABLE, or a plan over its limits), decided
   * before any block is yielded.
   */
  fallback?: () => AsyncIterableIterator<ReadBlock> & { readonly counters: ReadCounters };
}

/** Codes of a failed UCX connect after which 'auto' reads over WebSocket instead. */
const CONNECT_FALLBACK_CODES = new Set<ErrorCode>([ErrorCode.TRANSPORT_UNAVAILABLE, ErrorCode.CONNECTION_CLOSED, ErrorCode.TIMEOUT]);
/**
 * Codes of a refused PlanRead after which 'auto' reads over WebSocket instead. Not
 * TIMEOUT: a late ReadPlan may still open a lease, which only this read could end.
 */
const PLAN_FALLBACK_CODES = new Set<ErrorCode>([ErrorCode.TRANSPORT_UNAVAILABLE, ErrorCode.LIMIT_EXCEEDED]);

/** A UCX read that cannot start and goes over WebSocket instead. */
class FallBack extends Error {
  constructor(readonly reason: PegasusError) {
    super(reason.message);
  }
}

export class UcxReadStream implements AsyncIterableIterator<ReadBlock> {
  readonly counters: ReadCounters = { blocks: 0, storedBytes: 0, rawBytes: 0, creditGrants: 0 };
  /** Bytes fetched with one-sided gets (run headers and blocks of other attempts included). */
  fetchedBytes = 0;
  private readonly it: AsyncGenerator<ReadBlock, void, undefined>;

  constructor(private readonly conn: Connection, private readonly range: ReadRange, private readonly opts: UcxReadOptions) {
    this.it = this.blocks();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ReadBlock>> {
    return this.it.next();
  }

  return(): Promise<IteratorResult<ReadBlock>> {
    return this.it.return(undefined);
  }

  private describe(): string {
    const r = this.range;
    return `UCX read of ${r.appId}/${r.shuffleId} partitions [${r.partitionStart},${r.partitionEnd}) maps [${r.mapStart},${r.mapEnd}) from ${this.conn.address}`;
  }

  /** Whether this read went over WebSocket after all ('auto' fallback). */
  fellBack = false;

  private async *blocks(): AsyncGenerator<ReadBlock, void, undefined> {
    const r = this.range;
    let client: UcxClient;
    let plan: ReadPlan;
    try {
      client = await this.stage(ucxEndpoint(this.conn), CONNECT_FALLBACK_CODES);
      const answer = await this.stage(this.conn.request({
        type: 'PlanRead', appId: r.appId, shuffleId: r.shuffleId,
        partitionStart: r.partitionStart, partitionEnd: r.partitionEnd, mapStart: r.mapStart, mapEnd: r.mapEnd,
      }), PLAN_FALLBACK_CODES);
      plan = answer.message;
    } catch (err) {
      if (!(err instanceof FallBack)) throw err;
      this.fellBack = true;
      const ws = this.opts.fallback!();
      try {
        yield* ws;
      } finally {
        Object.assign(this.counters, ws.counters);
      }
      return;
    }
    let released = false;
    const release = async (): Promise<void> => {
      released = true;
      await this.conn.request({ type: 'ReleaseRead', leaseId: plan.leaseId });
    };
    try {
      this.checkPlan(plan);
      yield* this.fetch(client, plan);
      await release();
    } finally {
      // An early return or a failure still ends the lease; its answer no longer matters.
      if (!released) void release().catch(() => undefined);
    }
  }

  /**
   * Awaits one step before any block is read; a failure with one of `codes`
   * becomes FallBack when this read has a WebSocket fallback ('auto') and the
   * connection can still serve it.
   */
  private async stage<T>(step: Promise<T>, codes: ReadonlySet<ErrorCode>): Promise<T> {
    try {
      return await step;
    } catch (err) {
      const e = toPegasusError(err);
      if (this.opts.fallback !== undefined && codes.has(e.wireCode) && !this.conn.closed) throw new FallBack(e);
      throw e;
    }
  }

  private checkPlan(plan: ReadPlan): void {
    const r = this.range;
    let last = r.partitionStart;
    for (const run of plan.runs) {
      if (run.partition < last || run.partition >= r.partitionEnd || run.blockCount < 1) {
        throw new PegasusError(ErrorCode.CORRUPT_DATA, `${this.describe()}: plan names a run of partition ${run.partition} (${run.blockCount} blocks) after partition ${last}`);
      }
      last = run.partition;
    }
  }

  private async *fetch(client: UcxClient, plan: ReadPlan): AsyncGenerator<ReadBlock, void, undefined> {
    const batches = planBatches(plan.runs);
    const filter = new CommittedBlockFilter(plan.commits, this.range.mapStart, this.range.mapEnd);
    const get = (b: Batch): Promise<Buffer> => {
      const reads = b.pieces.map((p) => {
        const run = plan.runs[p.run]!;
        return { remoteAddress: run.remoteAddress + BigInt(p.offset), rkey: plan.regions[run.region]!, length: p.length };
      });
      return client.get(reads, this.opts.timeoutMs).catch((err: unknown) => {
        const e = fromNativeError(err, ErrorCode.CONNECTION_CLOSED);
        if (e.wireCode === ErrorCode.CONNECTION_CLOSED) dropUcxEndpoint(this.conn, client);
        throw new PegasusError(e.wireCode, `${this.describe()}: ${e.message}`, { cause: err });
      });
    };
    const inflight: Array<Promise<Buffer>> = [];
    let next = 0;
    const fill = (): void => {
      while (inflight.length < UCX_BATCHES_IN_FLIGHT && next < batches.length) {
        const p = get(batches[next++]!);
        p.catch(() => undefined); // awaited below in order; a later failure must not go unhandled
        inflight.push(p);
      }
    };
    let parser: RunParser | null = null;
    try {
      fill();
      for (let i = 0; i < batches.length; i++) {
        const buf = await inflight.shift()!;
        fill();
        this.fetchedBytes += buf.length;
        let at = 0;
        for (const piece of batches[i]!.pieces) {
          const run = plan.runs[piece.run]!;
          const bytes = buf.subarray(at, at + piece.length);
          at += piece.length;
          let stored;
          if (piece.offset === 0 && piece.last) {
            // The whole run in one piece: checked whole, its CRC32C standing
            // for the per-header ones (RunParser.parseWhole).
            parser = null;
            stored = new RunParser(run, this.describe()).parseWhole(bytes, true);
          } else {
            if (piece.offset === 0) parser = new RunParser(run, this.describe());
            stored = parser!.feed(bytes);
          }
          for (const b of stored) {
            if (!filter.accept(b.header)) continue;
            yield checkBlock(b.header, b.data, this.counters, this.describe());
          }
          if (piece.last && parser !== null) parser.finish();
        }
      }
    } catch (err) {
      throw toPegasusError(err);
    } finally {
      // Gets still running (prefetch, or after a failure or a break) write into
      // memory the lease keeps registered: let them end before the lease does.
      await Promise.allSettled(inflight);
    }
  }
}
