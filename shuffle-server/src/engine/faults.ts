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
//   PEGASUS_FAULT_READ_CUTS=N         the first N read streams of each read range
//                                     (the same key from the network layer: whose
//                                     data, and its bounds) have their connection closed
//                                     when about to send their second ReadData frame
//                                     (so after the reader took blocks of the first,
//                                     if the credit made it wait): a network that
//                                     drops mid-read, for the readers' resume tests.
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** How often a gated append looks for its gate file. */
const APPEND_GATE_POLL_MS = 20;

const APPEND_DELAY_MS_MAX = 60_000;
const READ_CUTS_MAX = 1_000_000;
/** Ranges remembered for PEGASUS_FAULT_READ_CUTS; forgotten all at once beyond this. */
const READ_CUT_RANGES_MAX = 65_536;

function envInt(name: string, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new Error(`${name}=${raw} is not an integer in 0..${max}`);
  return n;
}

export interface Faults {
  /** Ms every durable append waits before writing (0: none). */
  readonly appendDelayMs: number;
  /** A file every durable append waits for ('' : none). */
  readonly appendGate: string;
  /** Read streams of each range cut before their second frame (0: none). */
  readonly readCuts: number;
}

const FAULT_VARIABLES = ['PEGASUS_FAULT_APPEND_DELAY_MS', 'PEGASUS_FAULT_APPEND_GATE', 'PEGASUS_FAULT_READ_CUTS'];

/** The faults the environment asks for; a PEGASUS_FAULT_* variable this server does not know is an error, not a fault silently absent. */
export function faultsFromEnv(): Faults {
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('PEGASUS_FAULT_') && !FAULT_VARIABLES.includes(name)) {
      throw new Error(`${name} is not a fault this server knows (${FAULT_VARIABLES.join(', ')})`);
    }
  }
  return {
    appendDelayMs: envInt('PEGASUS_FAULT_APPEND_DELAY_MS', APPEND_DELAY_MS_MAX),
    appendGate: process.env['PEGASUS_FAULT_APPEND_GATE'] ?? '',
    readCuts: envInt('PEGASUS_FAULT_READ_CUTS', READ_CUTS_MAX),
  };
}

/**
 * Whether a read stream of `range` being opened is to be cut before its second
 * frame. `readsByRange` counts the streams opened so far per range (the engine's).
 */
export function readCutDue(faults: Faults, readsByRange: Map<string, number>, range: string): boolean {
  if (faults.readCuts === 0) return false;
  if (readsByRange.size >= READ_CUT_RANGES_MAX) readsByRange.clear();
  const n = readsByRange.get(range) ?? 0;
  readsByRange.set(range, n + 1);
  return n < faults.readCuts;
}

/** Waits the injected append delay and gate, if any. */
export async function beforeAppend(faults: Faults): Promise<void> {
  if (faults.appendDelayMs > 0) await sleep(faults.appendDelayMs);
  if (faults.appendGate !== '') while (!existsSync(faults.appendGate)) await sleep(APPEND_GATE_POLL_MS);
}
