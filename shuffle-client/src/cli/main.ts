// Entry point of the shufflectl command.
import { run } from './shufflectl.js';

run(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`shufflectl: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
