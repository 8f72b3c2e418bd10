// Writes shuffle-server/CONFIG.md from the declared config keys.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { renderConfigReference } from './config.js';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shuffle-server', 'CONFIG.md');
writeFileSync(out, renderConfigReference());
process.stdout.write(`wrote ${out}\n`);
