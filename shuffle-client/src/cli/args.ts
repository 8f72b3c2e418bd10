// The command line: `shufflectl [global options] <command> [options]`. Every
// option is declared once here with its kind; each command names the ones it
// takes. Options may come before or after the command, as `--name value` or
// `--name=value`. Anything wrong is a UsageError (exit code 2).
import { UsageError } from './failure.js';
import { SERVERS_MAX } from './limits.js';

export type OptionKind = 'flag' | 'string' | 'count' | 'index' | 'seconds' | 'servers' | 'size' | 'amount';

export interface OptionSpec {
  kind: OptionKind;
  /** Placeholder in usage text, e.g. "APP". */
  value?: string;
  doc: string;
}

export const OPTIONS = {
  server: { kind: 'servers', value: 'HOST:PORT[,...]', doc: 'servers to talk to, all at once (default 127.0.0.1:9527)' },
  token: { kind: 'string', value: 'T', doc: 'admin token (default: environment PEGASUS_ADMIN_TOKEN)' },
  json: { kind: 'flag', doc: 'one JSON document on stdout instead of tables' },
  timeout: { kind: 'seconds', value: 'S', doc: 'bound on each request (default 10 s)' },
  help: { kind: 'flag', doc: 'usage of shufflectl, or of the command' },
  app: { kind: 'string', value: 'APP', doc: 'application id' },
  shuffle: { kind: 'index', value: 'N', doc: 'shuffle id (needs --app)' },
  expired: { kind: 'flag', doc: 'remove applications silent longer than the server\'s appExpiryMs' },
  orphans: { kind: 'flag', doc: 'remove files under the tiers that no index row names' },
  'dry-run': { kind: 'flag', doc: 'say what would be removed, remove nothing' },
  watch: { kind: 'flag', doc: 'redraw a summary every interval until Ctrl-C' },
  interval: { kind: 'seconds', value: 'S', doc: 'seconds between redraws or polls' },
  count: { kind: 'count', value: 'N', doc: 'stop after N rounds' },
  cancel: { kind: 'flag', doc: 'return the servers to active' },
  wait: { kind: 'flag', doc: 'poll until every server is drained' },
  show: { kind: 'flag', doc: 'only show the state, change nothing' },
  recursive: { kind: 'flag', doc: 'a directory with everything under it' },
  overwrite: { kind: 'flag', doc: 'replace a file already at the path' },
  bytes: { kind: 'size', value: 'SIZE', doc: 'bytes limit, e.g. 500G or 1T (powers of 1024; 0: no limit)' },
  objects: { kind: 'amount', value: 'N', doc: 'files and directories limit (0: no limit)' },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;
export const GLOBAL_OPTIONS: readonly OptionName[] = ['server', 'token', 'json', 'timeout', 'help'];

export interface ParsedArgs {
  command: string | undefined;
  /** Values by option name: true for flags, numbers for counts/indexes, milliseconds for seconds. */
  options: Map<OptionName, string | number | boolean | string[]>;
  /** Positional words after the command (paths of the file commands). */
  extra: string[];
}

const ADDRESS = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

function parseValue(name: OptionName, kind: OptionKind, raw: string): string | number | string[] {
  if (kind === 'string') {
    if (raw.length === 0) throw new UsageError(`--${name} needs a non-empty value`);
    return raw;
  }
  if (kind === 'servers') {
    const list = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    if (list.length === 0) throw new UsageError('--server needs at least one host:port');
    if (list.length > SERVERS_MAX) throw new UsageError(`--server lists ${list.length} servers, more than ${SERVERS_MAX}`);
    for (const s of list) {
      const m = ADDRESS.exec(s);
      const port = m === null ? NaN : Number(m[2]);
      if (!(port >= 1 && port <= 65535)) throw new UsageError(`--server: ${JSON.stringify(s)} is not host:port`);
    }
    return [...new Set(list)];
  }
  if (kind === 'size') {
    const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(raw.trim());
    const scale = m === null ? NaN : 1024 ** ' kmgtp'.indexOf((m[2] || ' ').toLowerCase());
    const n = m === null ? NaN : Math.round(Number(m[1]) * scale);
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} needs a size such as 1024, 64M or 2T, not ${JSON.stringify(raw)}`);
    return n;
  }
  if (kind === 'seconds') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} needs a positive number of seconds, not ${JSON.stringify(raw)}`);
    return Math.round(n * 1000);
  }
  const n = Number(raw);
  const least = kind === 'count' ? 1 : 0;
  if (kind === 'amount') {
    if (raw.trim() === '' || !Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} needs an integer >= 0, not ${JSON.stringify(raw)}`);
    return n;
  }
  if (raw.trim() === '' || !Number.isSafeInteger(n) || n < least || (kind === 'index' && n > 0xffffffff)) {
    throw new UsageError(`--${name} needs an integer ${kind === 'count' ? '>= 1' : 'in 0..4294967295'}, not ${JSON.stringify(raw)}`);
  }
  return n;
}

function isOption(name: string): name is OptionName {
  return Object.prototype.hasOwnProperty.call(OPTIONS, name);
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const parsed: ParsedArgs = { command: undefined, options: new Map(), extra: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h') {
      parsed.options.set('help', true);
      continue;
    }
    if (arg === '--') {
      parsed.extra.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg.length > 1) throw new UsageError(`unknown option ${arg}`);
      if (parsed.command === undefined) parsed.command = arg;
      else parsed.extra.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (!isOption(name)) throw new UsageError(`unknown option --${name}`);
    const spec: OptionSpec = OPTIONS[name];
    if (spec.kind === 'flag') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      parsed.options.set(name, true);
      continue;
    }
    const raw = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (raw === undefined) throw new UsageError(`--${name} needs a value (${spec.value ?? 'VALUE'})`);
    parsed.options.set(name, parseValue(name, spec.kind, raw));
  }
  return parsed;
}

/** Throws a UsageError naming the first option the command does not take. */
export function checkAllowed(args: ParsedArgs, command: string, allowed: readonly OptionName[], positional: readonly string[] = [], optional = 0): void {
  for (const name of args.options.keys()) {
    if (!GLOBAL_OPTIONS.includes(name) && !allowed.includes(name)) throw new UsageError(`${command} does not take --${name}`);
  }
  if (args.extra.length > positional.length) throw new UsageError(`unexpected argument ${args.extra[positional.length]!}`);
  if (args.extra.length < positional.length - optional) throw new UsageError(`${command} needs ${positional.slice(args.extra.length).join(' ')}`);
}

/** Usage lines of some options, aligned. */
export function describeOptions(names: readonly OptionName[]): string {
  const left = names.map((n) => {
    const spec: OptionSpec = OPTIONS[n];
    return `  --${n}${spec.value !== undefined ? ` ${spec.value}` : ''}`;
  });
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return names.map((n, i) => `${left[i]!.padEnd(width)}${OPTIONS[n].doc}`).join('\n');
}
