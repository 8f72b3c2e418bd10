// The one seam for injected faults (LevelDB's Env idea, reduced to what tests
// here need). Read once from the environment at start; all off by default and
// never set by any config key, so a production server never sees them.
//
//   PEGASUS_FAULT_APPEND_DELAY_MS=N   every durable append waits N ms before it
//                                     writes: a slow disk, deterministic, for
//                                     flow-control and ordering tests.
//   PEGASUS_FAULT_APPEND_GATE=PATH    every durable append waits until the file
//                                     PATH exists: a disk that stalls until the
//                                     test lets it go, for tests that need
//                                     work to pile up whatever the machine's speed.
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** How often a gated append looks for its gate file. */
const APPEND_GATE_POLL_MS = 20;

const APPEND_DELAY_MS_MAX = 60_000;

function envMs(name: string): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > APPEND_DELAY_MS_MAX) throw new Error(`${name}=${raw} is not an integer in 0..${APPEND_DELAY_MS_MAX}`);
  return n;
}

export interface Faults {
  /** Ms every durable append waits before writing (0: none). */
  readonly appendDelayMs: number;
  /** A file every durable append waits for ('' : none). */
  readonly appendGate: string;
}

export function faultsFromEnv(): Faults {
  return { appendDelayMs: envMs('PEGASUS_FAULT_APPEND_DELAY_MS'), appendGate: process.env['PEGASUS_FAULT_APPEND_GATE'] ?? '' };
}

/** Waits the injected append delay and gate, if any. */
export async function beforeAppend(faults: Faults): Promise<void> {
  if (faults.appendDelayMs > 0) await sleep(faults.appendDelayMs);
  if (faults.appendGate !== '') while (!existsSync(faults.appendGate)) await sleep(APPEND_GATE_POLL_MS);
}
