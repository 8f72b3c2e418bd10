// Read handles of segment files, kept open between reads.
//
// Why. A reduce task's read opens every segment file its runs lie in and used
// to close them at its end; in the Spark bench's layout (a 5 MiB partition in
// runs across a few segments) the opens and closes took about a tenth of the
// event loop's time while serving, and each open is a trip through libuv's
// thread pool before the first byte can be read. Segment files never change
// under an indexed run (appends only add bytes past it), so a handle opened
// once serves every later read of that file.
//
// Bounds and safety. At most READ_HANDLES_IDLE_MAX handles are kept that no
// read holds (the least recently used is closed beyond); a handle in use is
// never closed (FileHandle.close() waits for reads in progress anyway). A
// path's handle must never outlive its file: whoever deletes segment files
// calls forget() (one file) or forgetUnder() (a log's directory) first, so no
// read started later can get a handle of a deleted file, and a file created
// at the same path later (an application registered again) gets a new one.
//
// Thread contract: event loop only.
import { promises as fsp } from 'node:fs';
import { sep } from 'node:path';

import { READ_HANDLES_IDLE_MAX } from '../limits.js';

type FileHandle = fsp.FileHandle;

/** One path's handle and how many reads hold it. */
export interface ReadHandle {
  readonly path: string;
  readonly handle: Promise<FileHandle>;
}

interface Entry extends ReadHandle {
  users: number;
  /** Forgotten: closed once its last user releases it; never handed out again. */
  dead: boolean;
}

export class ReadHandleCache {
  /** Least recently used first. */
  private readonly entries = new Map<string, Entry>();
  private idle = 0;

  constructor(
    private readonly idleMax: number,
    private readonly open: (path: string) => Promise<FileHandle> = (path) => fsp.open(path, 'r'),
  ) {}

  /** Handles kept open now (held by reads or idle). */
  get size(): number {
    return this.entries.size;
  }

  /** Held by no read. */
  get idleCount(): number {
    return this.idle;
  }

  /** A handle of `path`, held until release(). A failed open is not kept: the next acquire tries again. */
  acquire(path: string): ReadHandle {
    let e = this.entries.get(path);
    if (e !== undefined) {
      this.entries.delete(path); // most recently used last
      this.entries.set(path, e);
      if (e.users === 0) this.idle--;
      e.users++;
      return e;
    }
    const handle = this.open(path);
    const entry: Entry = { path, handle, users: 1, dead: false };
    e = entry;
    this.entries.set(path, entry);
    handle.catch(() => {
      if (this.entries.get(path) === entry) this.drop(entry);
    });
    return entry;
  }

  release(h: ReadHandle): void {
    const e = h as Entry;
    if (e.users <= 0) throw new Error(`read handle of ${e.path} released more often than acquired`);
    e.users--;
    if (e.users > 0) return;
    if (e.dead || this.entries.get(e.path) !== e) {
      closeQuietly(e);
      return;
    }
    this.idle++;
    if (this.idle > this.idleMax) {
      for (const x of this.entries.values()) {
        if (x.users !== 0) continue;
        this.drop(x);
        closeQuietly(x);
        break;
      }
    }
  }

  /** The file at `path` is about to be deleted or replaced. */
  forget(path: string): void {
    const e = this.entries.get(path);
    if (e !== undefined) this.kill(e);
  }

  /** Every file under directory `dir` is about to be deleted. */
  forgetUnder(dir: string): void {
    const prefix = dir.endsWith(sep) ? dir : dir + sep;
    for (const e of [...this.entries.values()]) {
      if (e.path.startsWith(prefix)) this.kill(e);
    }
  }

  private kill(e: Entry): void {
    this.drop(e);
    e.dead = true;
    if (e.users === 0) closeQuietly(e);
  }

  private drop(e: Entry): void {
    if (this.entries.get(e.path) !== e) return;
    this.entries.delete(e.path);
    if (e.users === 0) this.idle--;
  }
}

function closeQuietly(e: ReadHandle): void {
  e.handle.then((h) => h.close()).catch(() => undefined);
}

/** The process's cache (segment paths are absolute, so one serves every engine). */
export const segmentReadHandles = new ReadHandleCache(READ_HANDLES_IDLE_MAX);
