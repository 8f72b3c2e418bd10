// The layers of shuffle-server/ARCHITECTURE.md, checked on the sources: every
// relative import of every .ts file under shuffle-server/src, shuffle-client/src
// and schemas/ts is resolved and judged against the allowed directions. A file
// that imports against them fails this test with its name and the import.
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from dist/shuffle-server/test/architecture. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'/gm;

/** Repository-relative paths (with .ts) of the relative imports of one file. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2]!;
    if (!spec.startsWith('.')) continue;
    out.push(relative(ROOT, resolve(dirname(file), spec)).replace(/\.js$/, '.ts').replace(/\.cjs$/, '.cts'));
  }
  return out;
}

/** The layer of a repository-relative path. */
function layerOf(path: string): string {
  const server = 'shuffle-server/src/';
  if (path.startsWith(server)) {
    const rest = path.slice(server.length);
    const slash = rest.indexOf('/');
    if (rest === 'main.ts') return 'server-main';
    return slash < 0 ? 'server-top' : `server-${rest.slice(0, slash)}`;
  }
  if (path.startsWith('shuffle-client/src/')) return 'client';
  if (path.startsWith('schemas/')) return 'schemas';
  if (path.startsWith('native/')) return 'native';
  return 'other';
}

/** Which layers each layer may import (besides itself). Exceptions by file are below. */
const ALLOWED: Record<string, readonly string[]> = {
  // The process entry point: starts the network front.
  'server-main': ['server-net', 'server-top', 'schemas', 'native'],
  'server-top': ['server-top', 'schemas', 'native'],
  'server-engine': ['server-top', 'schemas', 'native'],
  'server-shuffle': ['server-engine', 'server-top', 'schemas', 'native'],
  // The objects tenant: beside shuffle/, on the same engine; neither imports the other.
  'server-objects': ['server-engine', 'server-top', 'schemas', 'native'],
  'server-admin': ['server-shuffle', 'server-objects', 'server-engine', 'server-top', 'schemas', 'native'],
  'server-net': ['server-admin', 'server-top', 'schemas', 'native'],
  client: ['schemas', 'native'],
  schemas: ['native'],
};

/**
 * Single files a layer may reach in a layer it may not import as a whole:
 * net/ builds the engine and the service (server.ts), hands the UCX registrar
 * to the engine's segment mappings, and otherwise talks to each tenant
 * (shuffle, objects) through its service only.
 */
const ALLOWED_FILES: Record<string, readonly string[]> = {
  'server-net': [
    'shuffle-server/src/shuffle/shuffle-service.ts',
    'shuffle-server/src/objects/object-service.ts',
    'shuffle-server/src/engine/engine.ts',
    'shuffle-server/src/engine/segment-mappings.ts',
  ],
};

function violations(): string[] {
  const files = [
    ...tsFiles(join(ROOT, 'shuffle-server', 'src')),
    ...tsFiles(join(ROOT, 'shuffle-client', 'src')),
    ...tsFiles(join(ROOT, 'schemas', 'ts')),
  ];
  const out: string[] = [];
  for (const file of files) {
    const from = relative(ROOT, file);
    const layer = layerOf(from);
    for (const target of importsOf(file)) {
      const to = layerOf(target);
      if (to === layer) continue;
      if ((ALLOWED[layer] ?? []).includes(to)) continue;
      if ((ALLOWED_FILES[layer] ?? []).includes(target)) continue;
      out.push(`${from} imports ${target} (${layer} -> ${to})`);
    }
  }
  return out;
}

test('every import follows the layer directions of ARCHITECTURE.md', (t) => {
  t.deepEqual(violations(), []);
});

test('the judge sees a forbidden import (engine importing the shuffle tenant)', (t) => {
  // The rule itself, on a path pair, so a broken resolver cannot make the first test pass vacuously.
  t.is(layerOf('shuffle-server/src/engine/engine.ts'), 'server-engine');
  t.is(layerOf('shuffle-server/src/shuffle/shuffle.ts'), 'server-shuffle');
  t.false(ALLOWED['server-engine']!.includes('server-shuffle'));
  t.false(ALLOWED.client!.includes('server-shuffle'));
  const someImports = importsOf(join(ROOT, 'shuffle-server', 'src', 'shuffle', 'shuffle-service.ts'));
  t.true(someImports.includes('shuffle-server/src/engine/engine.ts'), someImports.join(', '));
});

/** Import cycles among the sources (each as the list of files around it), found by depth-first search. */
function cycles(): string[][] {
  const files = [
    ...tsFiles(join(ROOT, 'shuffle-server', 'src')),
    ...tsFiles(join(ROOT, 'shuffle-client', 'src')),
    ...tsFiles(join(ROOT, 'schemas', 'ts')),
  ];
  const graph = new Map<string, string[]>();
  for (const f of files) graph.set(relative(ROOT, f), importsOf(f));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      const st = state.get(next);
      if (st === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (st === undefined) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

test('no import cycles among the sources', (t) => {
  t.deepEqual(cycles().map((c) => c.join(' -> ')), []);
});

test('engine/ names no tenant except in its tenant table', (t) => {
  const engineDir = join(ROOT, 'shuffle-server', 'src', 'engine');
  const hits: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('tenants.ts')) continue;
      else {
        readFileSync(p, 'utf8').split('\n').forEach((line, i) => {
          // The catalog format's table of tags in use names each tag's tenant.
          if (/shuffle/i.test(line) && !/^\| `0[0-9a-f]` \| shuffle \|/.test(line)) hits.push(`${relative(ROOT, p)}:${i + 1}: ${line.trim()}`);
        });
      }
    }
  };
  walk(engineDir);
  t.deepEqual(hits, []);
});
