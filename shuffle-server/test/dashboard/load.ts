// A background shuffle load for the dashboard tests: one application writes and
// commits maps one after another and reads each back, through the real
// TypeScript client, until stopped or until its time or byte bound is reached.
import { Connection } from '../../../shuffle-client/src/connection.js';
import { registerShuffle } from '../../../shuffle-client/src/control.js';
import { ShuffleReader } from '../../../shuffle-client/src/reader.js';
import { ShuffleWriter } from '../../../shuffle-client/src/writer.js';

export interface LoadOptions {
  appId: string;
  /** Stop after this long even if not stopped. */
  durationMsMax: number;
  /** Stop once this many bytes were pushed. */
  pushedBytesMax: number;
  /** Raw bytes per map. */
  mapBytes?: number;
  /** Pause between maps, so the load leaves the shared cores some room. */
  pauseMs?: number;
}

export interface LoadStats {
  maps: number;
  pushedBytes: number;
  readBytes: number;
}

export const LOAD_SHUFFLE_ID = 7;
const NUM_PARTITIONS = 8;
const NUM_MAPS = 1_000_000;
const RECORD_BYTES = 1000;

export class BackgroundLoad {
  readonly stats: LoadStats = { maps: 0, pushedBytes: 0, readBytes: 0 };
  private stopping = false;
  private constructor(private readonly conn: Connection, readonly done: Promise<LoadStats>) {}

  /** Registers the shuffle (so the application exists once this resolves) and starts the loop. */
  static async start(address: string, o: LoadOptions): Promise<BackgroundLoad> {
    const conn = await Connection.connect(address);
    await registerShuffle(conn, { appId: o.appId, shuffleId: LOAD_SHUFFLE_ID, numMaps: NUM_MAPS, numPartitions: NUM_PARTITIONS });
    let load: BackgroundLoad | undefined;
    const done = new Promise<LoadStats>((resolve, reject) => {
      setImmediate(() => load!.run(o).then(resolve, reject));
    });
    load = new BackgroundLoad(conn, done);
    done.catch(() => undefined); // observed by stop()
    return load;
  }

  private async run(o: LoadOptions): Promise<LoadStats> {
    const mapBytes = o.mapBytes ?? 2 * 1024 * 1024;
    const record = Buffer.alloc(RECORD_BYTES, 'pegasus-dashboard-load ');
    const end = Date.now() + o.durationMsMax;
    try {
      for (let map = 0; !this.stopping && Date.now() < end && this.stats.pushedBytes < o.pushedBytesMax && map < NUM_MAPS; map++) {
        const w = new ShuffleWriter({
          connection: this.conn, appId: o.appId, shuffleId: LOAD_SHUFFLE_ID, mapId: map, attempt: 0,
          numPartitions: NUM_PARTITIONS, options: { codec: 'none', memoryBytesMax: 8 * 1024 * 1024 },
        });
        for (let i = 0; i * RECORD_BYTES < mapBytes; i++) {
          const wait = w.write(i % NUM_PARTITIONS, record);
          if (wait !== undefined) await wait;
        }
        const result = await w.close();
        this.stats.pushedBytes += result.bytesWritten;
        this.stats.maps++;
        const reader = new ShuffleReader({
          connection: this.conn, appId: o.appId, shuffleId: LOAD_SHUFFLE_ID,
          partitionStart: 0, partitionEnd: NUM_PARTITIONS, mapStart: map, mapEnd: map + 1,
          options: { transport: 'websocket' },
        });
        for await (const { record: r } of reader.records()) this.stats.readBytes += r.length;
        if (o.pauseMs !== undefined && o.pauseMs > 0) await new Promise((r) => setTimeout(r, o.pauseMs));
      }
    } finally {
      await this.conn.close();
    }
    return this.stats;
  }

  /** Stops after the current map and waits for the loop to end; rethrows its failure. */
  async stop(): Promise<LoadStats> {
    this.stopping = true;
    return this.done;
  }
}
