// The shape of one shufflectl command (one file each under commands/), and
// the helpers they share for reporting per-server results.
import type { OptionName } from './args.js';
import { EXIT_FAILURE, EXIT_OK, type Context } from './context.js';
import type { Failure } from './failure.js';
import { failuresOf, type ServerResult } from './fan-out.js';

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Options after the command name, e.g. "--app APP [--shuffle N]". */
  synopsis: string;
  /** Options the command takes besides the global ones. */
  options: readonly OptionName[];
  /** Positional arguments it takes, by name (e.g. ['PATH']); the last ones may be optional (`optional`). */
  positional?: readonly string[];
  /** How many of `positional` may be left out (from the end). */
  optional?: number;
  /** Paragraphs printed by `shufflectl <command> --help` after the options. */
  details?: string;
  /** Checks option combinations; throws UsageError. */
  check?: (ctx: Context) => void;
  run: (ctx: Context) => Promise<number>;
}

/** Human mode: every failed server on stderr. Returns the failures. */
export function reportFailures<T>(ctx: Context, results: ReadonlyArray<ServerResult<T>>): Array<{ server: string; error: Failure }> {
  const failed = failuresOf(results);
  if (!ctx.json) for (const f of failed) ctx.printError(f.error);
  return failed;
}

/**
 * The --json document every command prints: `ok`, the command's fields,
 * `servers` (each `{server, ...}` or `{server, error}`), and `error` (the first
 * failure) when not ok.
 */
export function jsonDocument(ok: boolean, fields: Record<string, unknown>, error?: Failure): Record<string, unknown> {
  return { ok, ...fields, ...(ok || error === undefined ? {} : { error }) };
}

export function exitOf(ok: boolean): number {
  return ok ? EXIT_OK : EXIT_FAILURE;
}
