// shufflectl: the operator command of Pegasus servers, over their admin API
// (shuffle-server/src/admin/ADMIN_API.md) and /metrics.
//   shufflectl --server host:port[,host:port...] [--token T] [--json] <command> [options]
// Exit codes: 0 success, 1 failure, 2 usage error.
import { checkAllowed, parseArgs, type ParsedArgs } from './args.js';
import { findCommand } from './commands/index.js';
import { Context, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Output } from './context.js';
import { toFailure, UsageError } from './failure.js';
import { commandUsage, toolUsage } from './usage.js';

export interface RunIo {
  stdout?: Output;
  stderr?: Output;
  env?: NodeJS.ProcessEnv;
}

export async function run(argv: readonly string[], io: RunIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let args: ParsedArgs | undefined;
  let ctx: Context;
  try {
    args = parseArgs(argv);
    if (args.command === undefined) {
      if (args.options.get('help') === true) {
        stdout.write(`${toolUsage()}\n`);
        return EXIT_OK;
      }
      throw new UsageError('no command given');
    }
    const name = args.command === 'help' ? args.extra[0] : args.command;
    const command = name === undefined ? undefined : findCommand(name);
    if (args.command === 'help' && name === undefined) {
      stdout.write(`${toolUsage()}\n`);
      return EXIT_OK;
    }
    if (command === undefined) throw new UsageError(`unknown command ${name!}`);
    if (args.command === 'help' || args.options.get('help') === true) {
      stdout.write(`${commandUsage(command)}\n`);
      return EXIT_OK;
    }
    checkAllowed(args, command.name, command.options, command.positional, command.optional);
    ctx = new Context(args, stdout, stderr, io.env ?? process.env);
    command.check?.(ctx);
    try {
      return await command.run(ctx);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      const f = toFailure(err);
      if (ctx.json) ctx.printJson({ ok: false, error: f });
      else ctx.printError(f);
      return EXIT_FAILURE;
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const command = args?.command === undefined ? undefined : findCommand(args.command);
    stderr.write(`shufflectl: ${err.message}\n\n${command !== undefined ? commandUsage(command) : toolUsage()}\n`);
    return EXIT_USAGE;
  }
}
