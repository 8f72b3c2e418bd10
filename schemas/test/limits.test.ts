// schemas/limits.json is the one source of the protocol constants: the generated
// TypeScript and Java must be current, `gen-schemas.mjs --check` must notice a stale
// one, and a relation broken in the data is refused by the generator and, in code
// edited by hand, when the module loads.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import test from 'ava';

import * as limits from '../ts/limits.js';
import * as version from '../ts/version.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Entry { name: string; value: number | string; unit: string; doc: string }
interface LimitsData { versions: Entry[]; sizes: Entry[]; limits: Entry[]; relations: Array<{ check: string; what: string }> }

interface GenLimits {
  LIMITS_JSON: string;
  LIMITS_TS: string;
  VERSION_TS: string;
  LIMITS_JAVA: string;
  renderLimits(data: unknown): Map<string, string>;
}

const gen = (await import(pathToFileURL(join(root, 'scripts', 'gen-limits.mjs')).href)) as GenLimits;
const data = JSON.parse(readFileSync(join(root, gen.LIMITS_JSON), 'utf8')) as LimitsData;

function withValue(name: string, value: number): LimitsData {
  const copy = structuredClone(data);
  const e = [...copy.versions, ...copy.sizes, ...copy.limits].find((x) => x.name === name);
  if (e === undefined) throw new Error(`no constant ${name}`);
  e.value = value;
  return copy;
}

test('the committed limits.ts, version.ts and ProtocolLimits.java are what limits.json renders to', (t) => {
  for (const [rel, text] of gen.renderLimits(data)) {
    t.is(readFileSync(join(root, rel), 'utf8'), text, `${rel} is stale: run \`npm run gen\``);
  }
});

test('limits.ts and version.ts export every constant of limits.json with its value, and nothing else', (t) => {
  const exported: Record<string, unknown> = { ...limits, ...version };
  const declared = [...data.versions, ...data.sizes, ...data.limits];
  for (const e of declared) t.is(exported[e.name], e.value, e.name);
  t.deepEqual(Object.keys(exported).sort(), declared.map((e) => e.name).sort());
});

test('a relation broken in limits.json is refused by the generator', (t) => {
  const err = t.throws(() => gen.renderLimits(withValue('BLOCKS_PER_MESSAGE_MAX', 200_000)));
  t.regex(err!.message, /relation broken: the block headers .* BLOCKS_PER_MESSAGE_MAX \* BLOCK_HEADER_WIRE_BYTES <= ENVELOPE_BYTES_MAX/);
  t.throws(() => gen.renderLimits(withValue('BLOCK_BYTES_MAX', 16 * 1024 * 1024)), { message: /a block fits in a frame/ });
});

test('a relation expression outside the small language, or naming an unknown constant, is refused', (t) => {
  for (const check of ['BLOCK_BYTES_MAX < FRAME_BYTES_MAX && 1', 'NO_SUCH_MAX < FRAME_BYTES_MAX', 'BLOCK_BYTES_MAX', 'process.exit(1) < 2']) {
    const copy = structuredClone(data);
    copy.relations = [{ check, what: 'x' }];
    t.throws(() => gen.renderLimits(copy), undefined, check);
  }
});

test('limits.ts edited by hand so that a relation breaks throws when it loads', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pegasus-limits-'));
  try {
    const files = gen.renderLimits(data);
    const limitsTs = files.get(gen.LIMITS_TS)!;
    const broken = limitsTs.replace('BLOCKS_PER_MESSAGE_MAX = 65_536;', 'BLOCKS_PER_MESSAGE_MAX = 200_000;');
    t.not(broken, limitsTs);
    // The generated TypeScript is plain JavaScript apart from its import path.
    writeFileSync(join(dir, 'limits.mjs'), broken.replace("'./version.js'", "'./version.mjs'"));
    writeFileSync(join(dir, 'version.mjs'), files.get(gen.VERSION_TS)!);
    await t.throwsAsync(import(pathToFileURL(join(dir, 'limits.mjs')).href), { message: /limits: relation broken: the block headers/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Runs `gen-schemas.mjs --check` on a copy of the schema sources; returns its exit code and stderr. */
function checkCopy(dir: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [join(dir, 'scripts', 'gen-schemas.mjs'), '--check'], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

test('gen-schemas --check fails when limits.ts, version.ts or ProtocolLimits.java is stale, naming the file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pegasus-gen-'));
  try {
    cpSync(join(root, 'schemas'), join(dir, 'schemas'), { recursive: true, filter: (src) => !src.includes(`${join('schemas', 'test')}`) });
    cpSync(join(root, 'scripts', 'gen-schemas.mjs'), join(dir, 'scripts', 'gen-schemas.mjs'));
    cpSync(join(root, 'scripts', 'gen-limits.mjs'), join(dir, 'scripts', 'gen-limits.mjs'));
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    t.is(checkCopy(dir).status, 0, 'a fresh copy is current');

    for (const rel of [gen.LIMITS_TS, gen.VERSION_TS, gen.LIMITS_JAVA]) {
      const p = join(dir, rel);
      const good = readFileSync(p, 'utf8');
      writeFileSync(p, good.replace(/= (\d)/, '= 9$1'));
      const r = checkCopy(dir);
      t.is(r.status, 1, `${rel} edited by hand`);
      t.true(r.stderr.includes(rel), r.stderr);
      writeFileSync(p, good);
    }

    // A value changed in the data, not regenerated: every rendered file is stale.
    const json = join(dir, gen.LIMITS_JSON);
    writeFileSync(json, JSON.stringify(withValue('STRING_BYTES_MAX', 8192), null, 2));
    const r = checkCopy(dir);
    t.is(r.status, 1);
    t.true(r.stderr.includes(gen.LIMITS_TS) && r.stderr.includes(gen.LIMITS_JAVA), r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
