// Server configuration. Every key is declared once, as data, with its type,
// unit, default, doc and check. Sources, lowest to highest precedence:
//   embedded defaults < config file (JSON) < environment (PEGASUS_*) < flags (--kebab-key)
// `renderConfigReference()` produces shuffle-server/CONFIG.md; a test keeps that
// file current.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  FRAME_BYTES_MAX, MEMORY_BUDGET_BYTES_MIN, PUSH_WINDOW_MAX, READ_CHUNK_BYTES_MAX, READ_FRAME_BYTES_MAX, READ_FRAME_BYTES_MIN,
  SEGMENT_BYTES_MAX, TIERS_MAX, checkLimits,
} from './limits.js';

type Kind = 'int' | 'bytes' | 'ms' | 'string' | 'ratio' | 'enum' | 'tiers' | 'origins';

/** Kinds of storage tier; the kind says how segments are written (pmem: libpmem2) and labels metrics. */
export const TIER_KINDS = ['pmem', 'nvme', 'ssd', 'hdd', 'disk'] as const;
export type TierKind = (typeof TIER_KINDS)[number];

/** One entry of the `tiers` key, as configured. */
export interface TierConfig {
  kind: TierKind;
  /** Directory of the tier; segments go under `<path>/shuffles/`. */
  path: string;
  capacityBytes: number;
}

/** Capacity of the default tier: bounded only by its file system (and diskReserveBytes). */
export const CAPACITY_UNLIMITED = Number.MAX_SAFE_INTEGER;

interface KeyDecl<T> {
  kind: Kind;
  default: T;
  doc: string;
  /** Allowed values for kind 'enum'. */
  values?: readonly string[];
  /** A 'string' key that may be empty (meaning "not set"). */
  allowEmpty?: boolean;
  min?: number;
  max?: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** The declared keys. Add a key here and nowhere else. */
export const CONFIG_KEYS = {
  host: { kind: 'string', default: '127.0.0.1', doc: 'Address to listen on for WebSocket and HTTP. Use 0.0.0.0 to serve other hosts.' },
  port: { kind: 'int', default: 9527, min: 0, max: 65535, doc: 'TCP port for WebSocket data plane and HTTP admin. 0 picks a free port (printed at start).' },
  dataDir: { kind: 'string', default: './data', doc: 'Directory for segment files and the LevelDB index. Created if missing.' },
  memoryBudgetBytes: { kind: 'bytes', default: 512 * MiB, min: MEMORY_BUDGET_BYTES_MIN, max: 1024 * GiB, doc: 'Memory for buffered pushed blocks. Pushes wait (flow control) when it is used up.' },
  flushThresholdRatio: { kind: 'ratio', default: 0.5, min: 0.05, max: 0.95, doc: 'Start flushing buffered blocks to disk when this share of the memory budget is used.' },
  segmentBytesMax: { kind: 'bytes', default: 256 * MiB, min: FRAME_BYTES_MAX, max: SEGMENT_BYTES_MAX, doc: 'A segment file is sealed and a new one started when it reaches this size.' },
  pushWindow: { kind: 'int', default: 8, min: 1, max: PUSH_WINDOW_MAX, doc: 'Most unacknowledged pushes a client may have in flight per connection (advertised in HelloAck).' },
  readFrameBytes: { kind: 'bytes', default: 1 * MiB, min: READ_FRAME_BYTES_MIN, max: READ_FRAME_BYTES_MAX, doc: 'Target size of one ReadData frame sent to readers.' },
  readAheadBytes: { kind: 'bytes', default: 4 * MiB, min: 64 * KiB, max: READ_CHUNK_BYTES_MAX, doc: 'Largest read window of a read stream: runs read from segments at once (the first window reads 256 KiB, each next one twice as much up to this).' },
  commitFlushDelayMs: { kind: 'ms', default: 2, min: 0, max: 1000, doc: 'Commits wait this long so that several share one flush and one fsync (group commit).' },
  commitDurability: {
    kind: 'enum', default: 'process', values: ['process', 'sync'],
    doc: 'When a commit is acknowledged. process: once its blocks and catalog rows are written to the operating system (survives a kill -9 of the server, like Spark\'s own shuffle files; after a power loss or kernel crash, data that had not reached the disk is found missing or corrupt at restart and reported, never served, so the engine recomputes it). '
      + 'sync: once they are fdatasync\'ed and the catalog batch synced (survives a power loss; each commit waits for the disk). Segments of pmem tiers are always persisted.',
  },
  appExpiryMs: { kind: 'ms', default: 120_000, min: 1000, max: 7 * 24 * 3600_000, doc: 'An application that sends no heartbeat or request for this long is removed with all its shuffles.' },
  expiryCheckIntervalMs: { kind: 'ms', default: 5_000, min: 100, max: 3600_000, doc: 'How often expired applications are looked for.' },
  tiers: {
    kind: 'tiers',
    default: null,
    doc: 'Ordered storage tiers for segment files. A new segment goes to the first tier whose capacity has room for a whole segment (segmentBytesMax) and whose file system has more than diskReserveBytes free; no such tier is DISK_FULL. '
      + 'Each tier is a kind (pmem, nvme, ssd, hdd, disk), a directory that must exist, and a capacity. JSON in the config file: `[{"kind":"pmem","path":"/mnt/pmem0/pegasus","capacityBytes":"64g"}, ...]`; '
      + 'flag and environment: `pmem:/mnt/pmem0/pegasus:64g,nvme:/data/pegasus:1t`. Segments of `pmem` tiers are written through libpmem2. '
      + 'Tiers may be reordered or added between restarts; a tier that holds data must keep its path (its id is derived from it). Unset: one `disk` tier at dataDir, bounded by its file system.',
  },
  diskReserveBytes: { kind: 'bytes', default: 256 * MiB, min: 0, max: 1024 * GiB, doc: 'Free space kept on the data directory file system; pushes fail with DISK_FULL below it.' },
  idleTimeoutMs: { kind: 'ms', default: 120_000, min: 8_000, max: 960_000, doc: 'A WebSocket connection with no traffic for this long is closed.' },
  ucx: { kind: 'enum', default: 'auto', values: ['auto', 'on', 'off'], doc: 'UCX (RDMA) read path beside the WebSocket port. auto: on when the native module loads and UCX starts, else WebSocket only (logged, shown in /healthz); on: refuse to start without it; off: never.' },
  ucxHost: { kind: 'string', default: '', doc: 'Address of the UCX listener. Empty: the same as host.', allowEmpty: true },
  ucxPort: { kind: 'int', default: 0, min: 0, max: 65535, doc: 'TCP port of the UCX listener (connection setup; data moves over RDMA where present). 0 picks a free port; clients learn it in the handshake.' },
  ucxRegisteredBytesMax: { kind: 'bytes', default: 16 * GiB, min: 16 * MiB, max: 1024 * GiB, doc: 'Most bytes of sealed segments mapped and registered with UCX at once (pinned memory on RDMA hardware). Unused registrations are dropped least recently used first.' },
  frameGuard: {
    kind: 'enum', default: 'on', values: ['on', 'off'],
    doc: 'on: every WebSocket client frame header is checked before uWebSockets.js reads it (net/uws.ts), so unmasked frames are closed with 1002 and frames past the size limit with 1009, as RFC 6455 asks; bytes then cross one more loopback hop inside the server (measured cost in README). '
      + 'off: uWebSockets.js reads the socket itself, faster, but drops such frames without a close frame (unmasked frames are never answered). Use off only where every client is a Pegasus client on a trusted network.',
  },
  dataPlaneOrigins: {
    kind: 'origins',
    default: [],
    doc: 'Web origins (`scheme://host[:port]`, as browsers send them in the `Origin` header) allowed to open the WebSocket data plane. '
      + 'An upgrade that carries an `Origin` header not listed here is refused with 403 `{"code":"UNAUTHORIZED"}`, so a web page in a browser on a cluster node cannot reach the data plane; '
      + 'upgrades without the header (the TypeScript and Java clients send none) are not affected. JSON list in the config file; flag and environment: comma-separated. '
      + 'Empty: no browser origin. The HTTP endpoints (/healthz, /metrics, /api/v1/, the dashboard) do not look at it.',
  },
  adminToken: { kind: 'string', default: '', allowEmpty: true, doc: 'Bearer token the admin HTTP API (`/api/v1/`, see src/admin/ADMIN_API.md) requires in `Authorization: Bearer <token>`. Empty: the admin API is open (bind host to a trusted address). /healthz, /metrics and the dashboard stay open.' },
  logLevel: { kind: 'enum', default: 'info', values: ['error', 'warn', 'info', 'debug'], doc: 'winston log level.' },
  logFormat: { kind: 'enum', default: 'json', values: ['json', 'text'], doc: 'Log line format on stderr.' },
} as const satisfies Record<string, KeyDecl<unknown>>;

export type ConfigKey = keyof typeof CONFIG_KEYS;

type ValueOf<K extends ConfigKey> = (typeof CONFIG_KEYS)[K] extends { kind: 'enum'; values: readonly (infer V)[] }
  ? V
  : (typeof CONFIG_KEYS)[K]['kind'] extends 'string'
  ? string
  : (typeof CONFIG_KEYS)[K]['kind'] extends 'tiers' ? TierConfig[] | null
  : (typeof CONFIG_KEYS)[K]['kind'] extends 'origins' ? string[] : number;
export type ServerConfig = { -readonly [K in ConfigKey]: ValueOf<K> };

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const UNIT: Record<string, number> = { b: 1, k: KiB, kb: KiB, kib: KiB, m: MiB, mb: MiB, mib: MiB, g: GiB, gb: GiB, gib: GiB, t: 1024 * GiB, tib: 1024 * GiB };

/** A decimal with an optional unit, `64g`, `1.5 s`: its number and its unit as written; null when malformed. */
function splitQuantity(s: string): { value: number; unit: string } | null {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(s);
  return m === null ? null : { value: Number(m[1]), unit: m[2]! };
}

/** A byte size: a number, or a decimal with an optional unit (`64g`, `512MiB`); null when malformed. */
function parseBytes(raw: unknown): number | null {
  if (typeof raw === 'number') return Number.isFinite(raw) ? Math.floor(raw) : null;
  if (typeof raw !== 'string') return null;
  const q = splitQuantity(raw);
  if (q === null) return null;
  const mult = q.unit === '' ? 1 : UNIT[q.unit.toLowerCase()];
  return mult === undefined ? null : Math.floor(q.value * mult);
}

/**
 * The `tiers` key: a JSON array of {kind, path, capacityBytes} (config file) or
 * the compact `kind:path:capacity,...` (flag, environment; the path is what lies
 * between the first and the last colon, so it may hold colons but not commas).
 */
function parseTiers(raw: unknown, bad: (why: string) => never): TierConfig[] {
  let items: unknown[];
  if (typeof raw === 'string') {
    const text = raw.trim();
    if (text.startsWith('[')) {
      try {
        items = JSON.parse(text) as unknown[];
      } catch (err) {
        return bad(`not valid JSON: ${(err as Error).message}`);
      }
    } else {
      items = text.split(',').map((part, i) => {
        const first = part.indexOf(':');
        const last = part.lastIndexOf(':');
        if (first < 0 || last === first) bad(`tier ${i} "${part}" is not kind:path:capacity`);
        return { kind: part.slice(0, first).trim(), path: part.slice(first + 1, last).trim(), capacityBytes: part.slice(last + 1).trim() };
      });
    }
  } else items = raw as unknown[];
  if (!Array.isArray(items) || items.length === 0) bad('expected a non-empty list of tiers');
  if (items.length > TIERS_MAX) bad(`${items.length} tiers, at most ${TIERS_MAX}`);
  const seen = new Map<string, number>();
  return items.map((item, i): TierConfig => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return bad(`tier ${i} is not an object {kind, path, capacityBytes}`);
    const o = item as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['kind', 'path', 'capacityBytes'].includes(k)) bad(`tier ${i} has unknown field ${k}`);
    if (typeof o['kind'] !== 'string' || !(TIER_KINDS as readonly string[]).includes(o['kind'])) {
      bad(`tier ${i} kind ${JSON.stringify(o['kind'])} is not one of ${TIER_KINDS.join(', ')}`);
    }
    if (typeof o['path'] !== 'string' || o['path'].length === 0) bad(`tier ${i} has no path`);
    const path = o['path'] as string;
    const capacityBytes = parseBytes(o['capacityBytes']);
    if (capacityBytes === null) return bad(`tier ${i} (${path}) capacityBytes ${JSON.stringify(o['capacityBytes'])} is not a byte size such as 64g`);
    if (capacityBytes < 1 || capacityBytes > CAPACITY_UNLIMITED) bad(`tier ${i} (${path}) capacityBytes ${capacityBytes} not in 1..${CAPACITY_UNLIMITED}`);
    const abs = resolve(path);
    const prior = seen.get(abs);
    if (prior !== undefined) bad(`tiers ${prior} and ${i} are the same directory ${abs}`);
    seen.set(abs, i);
    return { kind: o['kind'] as TierKind, path, capacityBytes };
  });
}

/**
 * The `dataPlaneOrigins` key: a JSON array of strings (config file) or a
 * comma-separated list (flag, environment). Each entry must be an origin as a
 * browser serializes it (scheme, host, port unless the default; lower case, no
 * path or trailing slash), because the Origin header is compared verbatim.
 */
function parseOrigins(raw: unknown, bad: (why: string) => never): string[] {
  let items: unknown = raw;
  if (typeof raw === 'string') {
    const text = raw.trim();
    if (!text.startsWith('[')) items = text === '' ? [] : text.split(',').map((o) => o.trim());
    else {
      try {
        items = JSON.parse(text);
      } catch (err) {
        return bad(`not valid JSON: ${(err as Error).message}`);
      }
    }
  }
  if (!Array.isArray(items)) return bad('expected a list of origins');
  return items.map((item, i) => {
    if (typeof item !== 'string') return bad(`origin ${i} is not a string`);
    let origin: string;
    try {
      origin = new URL(item).origin;
    } catch {
      return bad(`origin ${i} ${JSON.stringify(item)} is not a URL such as https://dash.example:8443`);
    }
    if (origin !== item) bad(`origin ${i} ${JSON.stringify(item)} is not written as browsers send it: ${origin === 'null' ? 'not an http(s) origin' : `use ${origin}`}`);
    return origin;
  });
}

function parseValue(key: ConfigKey, raw: unknown, source: string): string | number | string[] | TierConfig[] {
  const decl: KeyDecl<unknown> = CONFIG_KEYS[key];
  const bad = (why: string): never => {
    throw new ConfigError(`config ${key} from ${source}: ${why} (got ${JSON.stringify(raw)})`);
  };
  if (decl.kind === 'tiers') return parseTiers(raw, bad);
  if (decl.kind === 'origins') return parseOrigins(raw, bad);
  if (decl.kind === 'string' || decl.kind === 'enum') {
    if (typeof raw !== 'string' || (raw.length === 0 && decl.allowEmpty !== true)) bad('expected a non-empty string');
    const s = raw as string;
    if (decl.kind === 'enum' && !decl.values!.includes(s)) bad(`expected one of ${decl.values!.join(', ')}`);
    return s;
  }
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string') {
    const q = splitQuantity(raw);
    if (q === null) return bad('expected a number');
    const unit = q.unit.toLowerCase();
    let mult = 1;
    if (unit !== '') {
      if (decl.kind === 'bytes' && UNIT[unit] !== undefined) mult = UNIT[unit]!;
      else if (decl.kind === 'ms' && unit === 's') mult = 1000;
      else if (decl.kind === 'ms' && unit === 'ms') mult = 1;
      else return bad(`unknown unit ${q.unit}`);
    }
    n = q.value * mult;
  } else return bad('expected a number');
  if (decl.kind !== 'ratio') {
    if (!Number.isFinite(n)) bad('not finite');
    n = Math.floor(n);
  }
  if (!Number.isFinite(n)) bad('not finite');
  if (decl.min !== undefined && n < decl.min) bad(`below minimum ${decl.min}`);
  if (decl.max !== undefined && n > decl.max) bad(`above maximum ${decl.max}`);
  return n;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function envName(key: string): string {
  return `PEGASUS_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

export function defaultConfig(): ServerConfig {
  const out: Record<string, unknown> = {};
  for (const [k, d] of Object.entries(CONFIG_KEYS)) out[k] = d.default;
  return out as ServerConfig;
}

export interface ConfigSources {
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

/**
 * Loads the configuration from flags, environment and an optional config file
 * (given by --config FILE or PEGASUS_CONFIG). Unknown keys are errors.
 */
export function loadConfig(sources: ConfigSources = {}): ServerConfig {
  const argv = sources.argv ?? [];
  const env = sources.env ?? {};
  const cfg = defaultConfig() as Record<string, string | number | string[] | TierConfig[] | null>;
  const flags = new Map<string, string>();
  let configFile = env['PEGASUS_CONFIG'];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${arg}`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new ConfigError(`flag --${name} needs a value`);
    if (name === 'config') configFile = value;
    else flags.set(name, value);
  }
  const byKebab = new Map(Object.keys(CONFIG_KEYS).map((k) => [kebab(k), k as ConfigKey]));
  if (configFile !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(resolve(configFile), 'utf8'));
    } catch (err) {
      throw new ConfigError(`cannot read config file ${configFile}: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`config file ${configFile} must hold a JSON object`);
    }
    for (const [k, v] of Object.entries(parsed)) {
      if (!(k in CONFIG_KEYS)) throw new ConfigError(`unknown config key ${k} in ${configFile}`);
      cfg[k] = parseValue(k as ConfigKey, v, configFile);
    }
  }
  for (const k of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    const v = env[envName(k)];
    if (v !== undefined && v !== '') cfg[k] = parseValue(k, v, envName(k));
  }
  for (const [name, v] of flags) {
    const k = byKebab.get(name);
    if (k === undefined) throw new ConfigError(`unknown flag --${name}`);
    cfg[k] = parseValue(k, v, `--${name}`);
  }
  const out = cfg as ServerConfig;
  try {
    checkLimits(out);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  for (const [i, t] of (out.tiers ?? []).entries()) {
    if (t.capacityBytes < out.segmentBytesMax) {
      throw new ConfigError(`config tiers: tier ${i} (${t.kind}:${t.path}) capacity ${t.capacityBytes} bytes is below segmentBytesMax ${out.segmentBytesMax}: it could never hold a segment`);
    }
  }
  return out;
}

function formatDefault(key: ConfigKey): string {
  const d: KeyDecl<unknown> = CONFIG_KEYS[key];
  if (d.kind === 'bytes') {
    const n = d.default as number;
    if (n % GiB === 0) return `${n / GiB} GiB`;
    if (n % MiB === 0) return `${n / MiB} MiB`;
    if (n % KiB === 0) return `${n / KiB} KiB`;
    return `${n} B`;
  }
  if (d.kind === 'ms') return `${d.default as number} ms`;
  if (d.kind === 'tiers') return 'one `disk` tier at dataDir';
  if (d.kind === 'origins') return (d.default as string[]).length === 0 ? 'none' : (d.default as string[]).join(', ');
  return String(d.default);
}

/** The config reference page (shuffle-server/CONFIG.md), generated from CONFIG_KEYS. */
export function renderConfigReference(): string {
  const lines = [
    '<!-- Generated from shuffle-server/src/config.ts by `node dist/shuffle-server/src/config-doc.js`; a test keeps it current. -->',
    '# pegasus-server configuration',
    '',
    'Precedence, lowest to highest: embedded defaults, the JSON config file (`--config FILE` or `PEGASUS_CONFIG`),',
    'environment variables, command-line flags. Byte sizes accept units (`512MiB`, `4g`), durations `ms` or `s`.',
    '',
    '| key | flag | environment | kind | default | meaning |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const k of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    const d: KeyDecl<unknown> = CONFIG_KEYS[k];
    const kind = d.kind === 'enum' ? `one of ${d.values!.join(', ')}` : d.kind === 'tiers' ? 'list of tiers' : d.kind === 'origins' ? 'list of origins' : d.kind;
    lines.push(`| \`${k}\` | \`--${kebab(k)}\` | \`${envName(k)}\` | ${kind} | ${formatDefault(k)} | ${d.doc} |`);
  }
  return `${lines.join('\n')}\n`;
}
