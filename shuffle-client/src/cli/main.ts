// Entry point of the shufflectl command (bin/shufflectl.js imports this).
import { run } from './shufflectl.js';

// Wait for stdout to drain before exiting, so a piped --json document is never cut short.
function exit(code: number): void {
  process.exitCode = code;
  process.stdout.write('', () => process.exit(code));
}

run(process.argv.slice(2)).then(exit, (err: unknown) => {
  process.stderr.write(`shufflectl: INTERNAL: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  exit(1);
});
