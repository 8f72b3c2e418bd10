// What every command gets: the parsed options, one AdminClient per server,
// and the output streams. Commands write tables or one JSON document to
// stdout, errors (`shufflectl: CODE: message`) and progress to stderr, and
// return the exit code.
import { AdminClient } from './admin-client.js';
import type { OptionName, ParsedArgs } from './args.js';
import type { Failure } from './failure.js';
import { REQUEST_TIMEOUT_MS_DEFAULT } from './limits.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface Output {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export class Context {
  readonly servers: string[];
  readonly json: boolean;
  private readonly token: string | undefined;

  constructor(
    readonly args: ParsedArgs,
    readonly stdout: Output,
    readonly stderr: Output,
    env: NodeJS.ProcessEnv,
  ) {
    this.servers = (args.options.get('server') as string[] | undefined) ?? ['127.0.0.1:9527'];
    this.json = args.options.get('json') === true;
    this.token = (args.options.get('token') as string | undefined) ?? env['PEGASUS_ADMIN_TOKEN'];
  }

  flag(name: OptionName): boolean {
    return this.args.options.get(name) === true;
  }

  string(name: OptionName): string | undefined {
    return this.args.options.get(name) as string | undefined;
  }

  number(name: OptionName): number | undefined {
    return this.args.options.get(name) as number | undefined;
  }

  /** --timeout in ms, or the command's default. */
  timeoutMs(fallbackMs = REQUEST_TIMEOUT_MS_DEFAULT): number {
    return this.number('timeout') ?? fallbackMs;
  }

  client(server: string, timeoutMs = this.timeoutMs()): AdminClient {
    return new AdminClient(server, this.token, timeoutMs);
  }

  printJson(doc: unknown): void {
    this.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  }

  printError(f: Failure): void {
    this.stderr.write(`shufflectl: ${f.code}: ${f.message}\n`);
  }
}
