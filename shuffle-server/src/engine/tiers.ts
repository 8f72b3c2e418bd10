// The ordered storage tiers that hold segment files (config key `tiers`).
//
// Layout: a tier at directory P holds `P/<tenant dir>/<owner>/<log id>/<segment>.seg`
// (segment-names.ts), the same layout the data directory always had (the default tier is the data
// directory itself). The LevelDB index stays under `<dataDir>/index`.
//
// Identity: a tier's id is the CRC32C of its absolute path, stored in every
// segment row (index value version 2). So reordering tiers, or adding one,
// between restarts changes nothing for data already written; a tier that holds
// data must keep its path; removing such a tier (or changing its path) leaves its
// segments' rows naming an id that no configured tier has, and their logs are
// not served (CORRUPT_DATA at recovery, files left alone) until it is configured
// again. Two configured paths with the same id are refused at start.
//
// Placement: the tier of a segment is chosen when the segment is created: the
// first tier whose charged bytes plus a whole segment fit its capacity and whose
// file system has more than diskReserveBytes free (last statfs, refreshed by the
// service's housekeeping). A segment is charged its maximum size while it is
// active (a pmem segment really takes that much: it is preallocated) and its
// durable size once sealed.
//
// Thread contract: all state is touched on the event loop only; choose() and the
// charge updates are synchronous, so a check and its reservation never straddle
// an await.
import { promises as fsp, statfs } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

import { crc32c } from '../../../native/ts/crc32c.js';
import { nativeBinding } from '../../../native/ts/index.js';
import { CAPACITY_UNLIMITED, type TierConfig, type TierKind } from '../config.js';
import { ErrorCode, PegasusError, ioError, isNotFound } from '../errors.js';

const statfsAsync = promisify(statfs);

/** The id of the tier at `path` (resolved against the working directory): CRC32C of the absolute path. */
export function tierIdOf(path: string): number {
  return crc32c(Buffer.from(resolve(path), 'utf8'));
}

function hex(id: number): string {
  return `0x${id.toString(16).padStart(8, '0')}`;
}

export class Tier {
  readonly id: number;
  /** Absolute directory. */
  readonly path: string;
  /** `kind:path`, the metrics label and the name in messages. */
  readonly label: string;
  /** Bytes charged to segments on this tier: whole segments while active, durable bytes once sealed. */
  chargedBytes = 0;
  /** Durable bytes of segment files on this tier. */
  usedBytes = 0;
  /** Free bytes of the tier's file system for unprivileged writers, as of the last refresh. */
  freeBytes = Number.MAX_SAFE_INTEGER;
  /**
   * Segments are written through libpmem2 (kind pmem and the native module
   * loaded); else with writev + fdatasync (every other kind, and the pmem
   * fallback, which the service logs once).
   */
  readonly writesThroughPmem: boolean;

  constructor(
    readonly kind: TierKind,
    path: string,
    readonly capacityBytes: number,
    /** The data directory's own tier: created when missing, and where version-1 segment rows point. */
    readonly isDataDir: boolean,
  ) {
    this.path = resolve(path);
    this.id = tierIdOf(this.path);
    this.label = `${kind}:${this.path}`;
    this.writesThroughPmem = kind === 'pmem' && nativeBinding() !== null;
  }

  /**
   * Whether a new segment of `segmentBytes` may be placed here now. A tier that
   * preallocates (pmem) also needs the whole segment free above the reserve: its
   * allocation would fail otherwise.
   */
  hasRoomFor(segmentBytes: number, reserveBytes: number): boolean {
    const allocBytes = this.writesThroughPmem ? segmentBytes : 0;
    return this.chargedBytes + segmentBytes <= this.capacityBytes && this.freeBytes > reserveBytes + allocBytes;
  }

  describe(): string {
    const cap = this.capacityBytes === CAPACITY_UNLIMITED ? 'unlimited' : String(this.capacityBytes);
    return `${this.label} (charged ${this.chargedBytes} of ${cap} bytes, file system free ${this.freeBytes})`;
  }
}

export class TierSet {
  private readonly byIdMap = new Map<number, Tier>();
  /** Where version-1 segment rows (no tier id) live: the data directory. */
  readonly dataDirTierId: number;

  private constructor(
    readonly tiers: readonly Tier[],
    dataDir: string,
    /** Free bytes each tier's file system keeps (diskReserveBytes). */
    readonly reserveBytes: number,
  ) {
    for (const t of tiers) {
      const other = this.byIdMap.get(t.id);
      if (other !== undefined) {
        throw new PegasusError(ErrorCode.INVALID_ARGUMENT, `tiers ${other.label} and ${t.label} have the same id ${hex(t.id)}; rename one directory`);
      }
      this.byIdMap.set(t.id, t);
    }
    this.dataDirTierId = tierIdOf(dataDir);
  }

  /** The tiers of a configuration; unset `tiers` is one `disk` tier at dataDir bounded by its file system. */
  static fromConfig(cfg: { tiers: TierConfig[] | null; dataDir: string; diskReserveBytes: number }): TierSet {
    const dataDir = resolve(cfg.dataDir);
    const list = cfg.tiers ?? [{ kind: 'disk', path: dataDir, capacityBytes: CAPACITY_UNLIMITED }];
    return new TierSet(list.map((t) => new Tier(t.kind, t.path, t.capacityBytes, resolve(t.path) === dataDir)), dataDir, cfg.diskReserveBytes);
  }

  /** One unlimited tier at `dir` of `kind`, with no free-space reserve (tests, tools). */
  static single(dir: string, kind: TierKind = 'disk'): TierSet {
    return TierSet.fromConfig({ tiers: [{ kind, path: dir, capacityBytes: CAPACITY_UNLIMITED }], dataDir: dir, diskReserveBytes: 0 });
  }

  /** The tier of a segment row (null: a version-1 row, in the data directory), or undefined when not configured. */
  get(tierId: number | null): Tier | undefined {
    return this.byIdMap.get(tierId ?? this.dataDirTierId);
  }

  /** The tier of a segment row; CORRUPT_DATA naming the id when no configured tier has it. */
  require(tierId: number | null, what: string): Tier {
    const t = this.get(tierId);
    if (t !== undefined) return t;
    const id = tierId ?? this.dataDirTierId;
    throw new PegasusError(
      ErrorCode.CORRUPT_DATA,
      `${what} is on tier ${hex(id)}${tierId === null ? ' (the data directory)' : ''}, which is not configured ` +
      `(configured: ${this.tiers.map((x) => `${x.label} = ${hex(x.id)}`).join(', ')}); was a tier removed or its path changed?`,
    );
  }

  /**
   * The tier for a new segment of `segmentBytes`, charged with it; DISK_FULL when
   * no tier has room. Synchronous: the check and the charge are one step.
   */
  place(segmentBytes: number): Tier {
    for (const t of this.tiers) {
      if (t.hasRoomFor(segmentBytes, this.reserveBytes)) {
        t.chargedBytes += segmentBytes;
        // Until the next statfs: the allocation takes this much at once.
        if (t.writesThroughPmem) t.freeBytes -= segmentBytes;
        return t;
      }
    }
    throw new PegasusError(
      ErrorCode.DISK_FULL,
      `no storage tier has room for a segment of ${segmentBytes} bytes with ${this.reserveBytes} bytes reserved: ${this.tiers.map((t) => t.describe()).join('; ')}`,
    );
  }

  /**
   * Whether some tier could take a new segment of `segmentBytes` with `extraBytes`
   * more free on its file system. `hasRoom(0)`: some tier is below its capacity
   * and above the free-space reserve (the check before a push is buffered).
   */
  hasRoom(segmentBytes: number, extraBytes = 0): boolean {
    return this.tiers.some((t) => t.hasRoomFor(segmentBytes, this.reserveBytes + extraBytes));
  }

  /**
   * Checks that every tier's directory exists (the data directory's is created):
   * a missing mount must not silently become a directory on the root file system.
   */
  async checkDirs(): Promise<void> {
    for (const t of this.tiers) {
      if (!t.isDataDir) continue;
      try {
        await fsp.mkdir(t.path, { recursive: true });
      } catch (err) {
        throw ioError(err, `create data directory tier ${t.label}`);
      }
    }
    for (const t of this.tiers) {
      try {
        const st = await fsp.stat(t.path);
        if (!st.isDirectory()) throw new PegasusError(ErrorCode.STORAGE_IO, `storage tier ${t.label}: ${t.path} is not a directory`);
      } catch (err) {
        if (isNotFound(err)) {
          throw new PegasusError(ErrorCode.STORAGE_IO, `storage tier ${t.label}: directory ${t.path} is missing (is its file system mounted?); create it or remove the tier from \`tiers\``, { cause: err });
        }
        throw ioError(err, `storage tier ${t.label}`);
      }
    }
  }

  /** Refreshes every tier's file-system free bytes; a failing statfs keeps the last value. */
  async refreshFree(): Promise<void> {
    await Promise.all(this.tiers.map(async (t) => {
      try {
        const st = await statfsAsync(t.path);
        t.freeBytes = st.bavail * st.bsize;
      } catch {
        // Keep the last known value; a vanished directory surfaces as STORAGE_IO on write.
      }
    }));
  }

  /** Durable bytes over all tiers. */
  usedBytes(): number {
    return this.tiers.reduce((n, t) => n + t.usedBytes, 0);
  }
}
