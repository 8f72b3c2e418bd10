// Renders the protocol constants of schemas/limits.json as code: the part of
// scripts/gen-schemas.mjs that does not need flatc. Pure functions of the data,
// so tests can render a changed copy without touching the repository.
//
//   schemas/ts/version.ts                                  section "versions"
//   schemas/ts/limits.ts                                   sections "sizes" and "limits", and the relations
//   schemas/generated/java/pegasus/wire/ProtocolLimits.java  everything
//
// Relations are small expressions over the constants (names, integer literals,
// + - * and parentheses, one comparison). They are evaluated here, so data that
// breaks one is never rendered, and emitted into both languages so that the
// generated code asserts them again when it loads.

export const LIMITS_JSON = 'schemas/limits.json';
export const VERSION_TS = 'schemas/ts/version.ts';
export const LIMITS_TS = 'schemas/ts/limits.ts';
export const LIMITS_JAVA = 'schemas/generated/java/pegasus/wire/ProtocolLimits.java';

const SECTIONS = ['versions', 'sizes', 'limits'];
const UNITS = new Set(['bytes', 'count', 'version', 'string']);
const NAME = /^[A-Z][A-Z0-9_]*$/;
const INT32_MAX = 2 ** 31 - 1;

function fail(message) {
  throw new Error(`${LIMITS_JSON}: ${message}`);
}

/** Validates the data; returns its entries in file order, each with its section. */
function entriesOf(data) {
  const entries = [];
  const seen = new Set();
  for (const section of SECTIONS) {
    const list = data[section];
    if (!Array.isArray(list)) fail(`section "${section}" is missing or not an array`);
    for (const e of list) {
      const where = `${section}/${e?.name ?? '?'}`;
      if (typeof e?.name !== 'string' || !NAME.test(e.name)) fail(`${where}: name must be UPPER_SNAKE_CASE`);
      if (seen.has(e.name)) fail(`${where}: declared twice`);
      seen.add(e.name);
      if (!UNITS.has(e.unit)) fail(`${where}: unit ${JSON.stringify(e.unit)} is not one of ${[...UNITS].join(', ')}`);
      if (typeof e.doc !== 'string' || e.doc.trim() === '' || e.doc.includes('*/')) fail(`${where}: doc must be a non-empty sentence without "*/"`);
      if (e.unit === 'string') {
        if (typeof e.value !== 'string' || /["\\\n]/.test(e.value)) fail(`${where}: value must be a plain string`);
      } else if (!Number.isSafeInteger(e.value) || e.value < 0) {
        fail(`${where}: value must be a non-negative safe integer`);
      }
      const extra = Object.keys(e).filter((k) => !['name', 'value', 'unit', 'doc'].includes(k));
      if (extra.length > 0) fail(`${where}: unknown fields ${extra.join(', ')}`);
      entries.push({ ...e, section });
    }
  }
  return entries;
}

const TOKEN = /\s*(?:([A-Z][A-Z0-9_]*)|(\d+)|(<=|>=|==|<|>)|([-+*()]))/y;

/** Splits a relation into tokens; throws on anything outside the small language. */
function tokenize(check, numeric) {
  const tokens = [];
  TOKEN.lastIndex = 0;
  let comparisons = 0;
  while (TOKEN.lastIndex < check.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(check);
    if (m === null) {
      if (check.slice(at).trim() === '') break;
      fail(`relation "${check}": cannot read "${check.slice(at)}"`);
    }
    if (m[1] !== undefined) {
      if (!numeric.has(m[1])) fail(`relation "${check}": ${m[1]} is not a numeric constant of this file`);
      tokens.push({ kind: 'name', text: m[1] });
    } else if (m[2] !== undefined) {
      tokens.push({ kind: 'int', text: m[2] });
    } else if (m[3] !== undefined) {
      comparisons++;
      tokens.push({ kind: 'cmp', text: m[3] });
    } else {
      tokens.push({ kind: 'op', text: m[4] });
    }
  }
  if (comparisons !== 1) fail(`relation "${check}": needs exactly one comparison`);
  return tokens;
}

function relationsOf(data, entries) {
  const numeric = new Map(entries.filter((e) => e.unit !== 'string').map((e) => [e.name, e.value]));
  const relations = data.relations ?? [];
  if (!Array.isArray(relations)) fail('"relations" must be an array');
  return relations.map((r) => {
    if (typeof r?.check !== 'string' || typeof r.what !== 'string' || r.what.includes('*/') || /["\\\n]/.test(r.what)) {
      fail(`relation ${JSON.stringify(r)}: needs "check" and a plain "what"`);
    }
    const tokens = tokenize(r.check, numeric);
    // Safe to evaluate: tokenize() admitted only known names, integers and operators.
    const js = tokens.map((t) => (t.kind === 'name' ? String(numeric.get(t.text)) : t.text === '==' ? '===' : t.text)).join(' ');
    let holds;
    try {
      holds = Function(`"use strict"; return (${js});`)();
    } catch (err) {
      fail(`relation "${r.check}" does not evaluate: ${err.message}`);
    }
    if (holds !== true) fail(`relation broken: ${r.what}: ${r.check}, i.e. ${js}`);
    return { ...r, tokens, names: [...new Set(tokens.filter((t) => t.kind === 'name').map((t) => t.text))] };
  });
}

/** 16777216 -> "16 * 1024 * 1024", 65536 (a count) -> "65_536". */
function tsNumber(e) {
  const v = e.value;
  if (e.unit === 'bytes' && v >= 1024 * 1024 && v % (1024 * 1024) === 0) return `${v / (1024 * 1024)} * 1024 * 1024`;
  if (e.unit === 'bytes' && v >= 1024 && v % 1024 === 0) return `${v / 1024} * 1024`;
  return v >= 10_000 ? String(v).replace(/\B(?=(\d{3})+(?!\d))/g, '_') : String(v);
}

function literal(e) {
  return e.unit === 'string' ? `'${e.value}'` : tsNumber(e);
}

function javaLiteral(e) {
  if (e.unit === 'string') return `"${e.value}"`;
  return e.value > INT32_MAX ? `${String(e.value).replace(/\B(?=(\d{3})+(?!\d))/g, '_')}L` : tsNumber(e);
}

function javaType(e) {
  return e.unit === 'string' ? 'String' : e.value > INT32_MAX ? 'long' : 'int';
}

const TS_BANNER = [
  `// GENERATED by scripts/gen-schemas.mjs from ${LIMITS_JSON}: do not edit.`,
  '// Change the JSON, run `npm run gen`; `npm run gen:check` fails while this file is stale.',
];

function renderVersionTs(entries) {
  const lines = [...TS_BANNER, ''];
  for (const e of entries.filter((x) => x.section === 'versions')) lines.push(`/** ${e.doc} */`, `export const ${e.name} = ${literal(e)};`);
  return `${lines.join('\n')}\n`;
}

function renderLimitsTs(entries, relations) {
  const versionNames = new Set(entries.filter((e) => e.section === 'versions').map((e) => e.name));
  const imports = [...new Set(relations.flatMap((r) => r.names).filter((n) => versionNames.has(n)))].sort();
  const lines = [
    ...TS_BANNER,
    '//',
    '// Protocol-wide sizes and limits: every peer (server, TypeScript client, JVM client)',
    '// obeys these. Server operational limits live in shuffle-server/src/limits.ts and are',
    '// checked against these at start.',
  ];
  if (imports.length > 0) lines.push(`import { ${imports.join(', ')} } from './version.js';`);
  for (const section of ['sizes', 'limits']) {
    lines.push('', `// ---- ${section} ----`, '');
    for (const e of entries.filter((x) => x.section === section)) lines.push(`/** ${e.doc} */`, `export const ${e.name} = ${literal(e)};`);
  }
  lines.push('', '// ---- relations, asserted at load: a bad edit fails every test at once ----', '');
  for (const r of relations) {
    const expr = r.tokens.map((t) => (t.text === '==' ? '===' : t.text)).join(' ').replace(/\( /g, '(').replace(/ \)/g, ')');
    lines.push(`if (!(${expr})) {`, `  throw new Error('limits: relation broken: ${r.what.replace(/'/g, "\\'")}: ${r.check}');`, '}');
  }
  return `${lines.join('\n')}\n`;
}

function renderJava(entries, relations) {
  const lines = [
    `// GENERATED by scripts/gen-schemas.mjs from ${LIMITS_JSON}: do not edit.`,
    '// Change the JSON, run `npm run gen`; `npm run gen:check` fails while this file is stale.',
    '',
    'package pegasus.wire;',
    '',
    '/**',
    ' * The protocol\'s versions, sizes and limits; every peer obeys them. The TypeScript',
    ' * twins are schemas/ts/version.ts and schemas/ts/limits.ts, generated from the same data.',
    ' */',
    'public final class ProtocolLimits {',
    '  private ProtocolLimits() {}',
  ];
  for (const section of SECTIONS) {
    lines.push('', `  // ---- ${section} ----`);
    for (const e of entries.filter((x) => x.section === section)) {
      lines.push('', `  /** ${e.doc} */`, `  public static final ${javaType(e)} ${e.name} = ${javaLiteral(e)};`);
    }
  }
  lines.push(
    '',
    '  static {',
    '    checkRelations();',
    '  }',
    '',
    '  /**',
    '   * Throws IllegalStateException naming the first relation between the constants that',
    '   * does not hold. javac copies the constants into the classes that use them, so this',
    '   * class may never be loaded at run time: the generator checks the relations too, and',
    '   * the client\'s tests call this.',
    '   */',
    '  public static void checkRelations() {',
  );
  for (const r of relations) {
    // long arithmetic: a product of two int limits may pass 2^31.
    const expr = r.tokens
      .map((t) => (t.kind === 'name' ? `(long) ${t.text}` : t.kind === 'int' ? `${t.text}L` : t.text))
      .join(' ').replace(/\( /g, '(').replace(/ \)/g, ')');
    lines.push(`    check(${expr},`, `        "${r.what}: ${r.check}");`);
  }
  lines.push(
    '  }',
    '',
    '  private static void check(boolean holds, String what) {',
    '    if (!holds) throw new IllegalStateException("protocol limits: relation broken: " + what);',
    '  }',
    '}',
  );
  return `${lines.join('\n')}\n`;
}

/**
 * Renders every file generated from the limits data.
 * @param {unknown} data the parsed schemas/limits.json
 * @returns {Map<string, string>} path relative to the repository root -> contents
 */
export function renderLimits(data) {
  const entries = entriesOf(data);
  const relations = relationsOf(data, entries);
  return new Map([
    [VERSION_TS, renderVersionTs(entries)],
    [LIMITS_TS, renderLimitsTs(entries, relations)],
    [LIMITS_JAVA, renderJava(entries, relations)],
  ]);
}
