// Who may import whom: schemas/ts is shared by the server and every client and
// imports neither; the TypeScript client's code imports nothing of the server
// (tests may use the server's test helpers to start one).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import test from 'ava';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Module specifiers of static imports, re-exports and dynamic imports. */
function importsOf(source: string): string[] {
  return [...source.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!);
}

function offenders(dir: string, forbidden: string[]): string[] {
  const out: string[] = [];
  for (const file of tsFiles(join(root, dir))) {
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = relative(root, join(dirname(file), spec));
      if (forbidden.some((f) => target === f || target.startsWith(`${f}/`))) out.push(`${relative(root, file)} imports ${spec}`);
    }
  }
  return out;
}

test('shuffle-client/src imports nothing from shuffle-server/', (t) => {
  t.deepEqual(offenders('shuffle-client/src', ['shuffle-server']), []);
});

test('schemas/ts imports nothing from shuffle-server/ or shuffle-client/', (t) => {
  t.deepEqual(offenders('schemas/ts', ['shuffle-server', 'shuffle-client']), []);
});

test('the check sees an import when there is one', (t) => {
  t.deepEqual(importsOf("import { x } from '../../shuffle-server/src/a.js';\nexport * from './b.js';\nconst m = await import('./c.js');"),
    ['../../shuffle-server/src/a.js', './b.js', './c.js']);
});
