// Usage text: the whole tool's, and one command's (`shufflectl <command> --help`).
import { describeOptions, GLOBAL_OPTIONS } from './args.js';
import type { Command } from './command.js';
import { COMMANDS } from './commands/index.js';

const SYNOPSIS = 'shufflectl --server HOST:PORT[,HOST:PORT...] [--token T] [--json] [--timeout S] <command> [options]';
const EXIT_CODES = 'exit codes: 0 success, 1 failure (unreachable server, error code from a server, verify errors), 2 usage error';

export function toolUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    `usage: ${SYNOPSIS}`,
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'global options:',
    describeOptions(GLOBAL_OPTIONS),
    '',
    '`shufflectl <command> --help` describes one command. With several servers, shufflectl asks all',
    'at once and merges; a failed server makes the exit code 1 and the others are still printed.',
    '',
    EXIT_CODES,
  ].join('\n');
}

export function commandUsage(c: Command): string {
  return [
    `usage: shufflectl [global options] ${c.name}${c.synopsis.length > 0 ? ` ${c.synopsis}` : ''}`,
    '',
    c.summary,
    ...(c.options.length > 0 ? ['', 'options:', describeOptions(c.options)] : []),
    '',
    'global options:',
    describeOptions(GLOBAL_OPTIONS),
    ...(c.details !== undefined ? ['', c.details] : []),
    '',
    EXIT_CODES,
  ].join('\n');
}
