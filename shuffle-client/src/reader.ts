// ShuffleReader: reads the committed output of a range of maps for a range of
// partitions from one server. Each readBlocks() call is one read stream (see
// read-stream.ts for flow control, verification and cancellation); records()
// splits its blocks into records.
//
// A reader does not reconnect: a stream that fails part way has already
// yielded blocks, and resuming would need the server to skip exactly those.
// The engine's answer to a failed fetch is to retry the fetch (or recompute),
// so errors surface with their codes.
import { checkAppId } from '../../schemas/ts/ids.js';
import { MAPS_PER_SHUFFLE_MAX, PARTITIONS_PER_SHUFFLE_MAX } from '../../schemas/ts/limits.js';
import { checkInt, checkRange, U32_MAX } from './argument-checks.js';
import type { Connection } from './connection.js';
import { READ_CREDIT_BYTES_DEFAULT, READ_CREDIT_BYTES_MAX, READ_CREDIT_BYTES_MIN, READ_IDLE_TIMEOUT_MS_DEFAULT, REQUEST_TIMEOUT_MS_MAX } from './limits.js';
import { ReadStream, type ReadBlock, type ReadCounters, type ReadRange } from './read-stream.js';
import { ucxUnavailable } from './ucx-endpoint.js';
import { UcxReadStream } from './ucx-read-stream.js';
import { ErrorCode, PegasusError } from '../../schemas/ts/errors.js';
import { decodeRecords } from './record-codec.js';

export interface ReaderOptions {
  /** Stored bytes the server may send ahead of the consumer. Default 8 MiB. */
  creditBytes?: number;
  /** Longest wait for the next frame while the consumer waits. Default 120 s. */
  idleTimeoutMs?: number;
  /**
   * How blocks travel. 'websocket' (default): the server streams them.
   * 'ucx': one-sided UCX gets from the server's registered segment memory
   * (RDMA where the hardware has it); TRANSPORT_UNAVAILABLE when the server or
   * this process has no UCX. 'auto': UCX when both sides have it, else WebSocket.
   * Every transport yields the same blocks in the same order.
   */
  transport?: ReadTransport;
}

export type ReadTransport = 'websocket' | 'ucx' | 'auto';

/** What readBlocks() returns on any transport. */
export type BlockStream = AsyncIterableIterator<ReadBlock> & { readonly counters: ReadCounters };

export interface ShuffleReaderInit {
  connection: Connection;
  appId: string;
  shuffleId: number;
  /** Partitions [partitionStart, partitionEnd). */
  partitionStart: number;
  partitionEnd: number;
  /** Maps [mapStart, mapEnd). */
  mapStart: number;
  mapEnd: number;
  options?: ReaderOptions;
}

/** One record and the partition it belongs to. */
export interface ReadRecord {
  partition: number;
  /** A view of the block's bytes; copy it to keep it beyond the block's life. */
  record: Buffer;
}



export class ShuffleReader {
  private readonly conn: Connection;
  private readonly range: ReadRange;
  private readonly creditBytes: number;
  private readonly idleTimeoutMs: number;
  private readonly transport: ReadTransport;

  constructor(init: ShuffleReaderInit) {
    checkRange(init.partitionStart, init.partitionEnd, PARTITIONS_PER_SHUFFLE_MAX, 'partition');
    checkRange(init.mapStart, init.mapEnd, MAPS_PER_SHUFFLE_MAX, 'map');
    this.conn = init.connection;
    this.range = {
      appId: checkAppId(init.appId),
      shuffleId: checkInt(init.shuffleId, 0, U32_MAX, 'shuffleId'),
      partitionStart: init.partitionStart,
      partitionEnd: init.partitionEnd,
      mapStart: init.mapStart,
      mapEnd: init.mapEnd,
    };
    const o = init.options ?? {};
    this.creditBytes = checkInt(o.creditBytes ?? READ_CREDIT_BYTES_DEFAULT, READ_CREDIT_BYTES_MIN, READ_CREDIT_BYTES_MAX, 'creditBytes');
    this.idleTimeoutMs = checkInt(o.idleTimeoutMs ?? READ_IDLE_TIMEOUT_MS_DEFAULT, 1, REQUEST_TIMEOUT_MS_MAX, 'idleTimeoutMs');
    const transport = o.transport ?? 'websocket';
    if (transport !== 'websocket' && transport !== 'ucx' && transport !== 'auto') {
      throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `transport must be websocket, ucx or auto, got ${String(transport)}`);
    }
    this.transport = transport;
  }

  /**
   * Streams the verified, decompressed blocks: partitions in order, each
   * partition's blocks in stored order. The stream opens on the first next();
   * breaking out of the loop cancels it on the server.
   */
  readBlocks(): BlockStream {
    const ws = (): ReadStream => new ReadStream(this.conn, this.range, { creditBytes: this.creditBytes, idleTimeoutMs: this.idleTimeoutMs });
    if (this.transport === 'websocket' || (this.transport === 'auto' && ucxUnavailable(this.conn) !== null)) return ws();
    return new UcxReadStream(this.conn, this.range, {
      timeoutMs: this.idleTimeoutMs,
      ...(this.transport === 'auto' ? { fallback: ws } : {}),
    });
  }

  /** Streams the records of every block, in block order. A corrupt block yields none of its records. */
  async *records(): AsyncGenerator<ReadRecord, void, undefined> {
    const stream = this.readBlocks();
    if (!(stream instanceof ReadStream)) {
      for await (const block of stream) {
        for (const record of decodeRecords(block.data)) yield { partition: block.partition, record };
      }
      return;
    }
    // A frame's blocks at a time: many small partitions make many small blocks.
    let done = false;
    try {
      for (;;) {
        const r = await stream.nextBlocks();
        if (r.done === true) {
          done = true;
          return;
        }
        for (const block of r.value) {
          for (const record of decodeRecords(block.data)) yield { partition: block.partition, record };
        }
      }
    } finally {
      if (!done) await stream.return();
    }
  }
}

export type { ReadBlock };
