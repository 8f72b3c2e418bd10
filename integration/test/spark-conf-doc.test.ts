// Keeps README.md's table of Spark plugin keys in step with PegasusConf.java, where every
// spark.pegasus.* key is declared once as data (name, default, unit, doc).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const confJava = readFileSync(
  join(root, 'integration/spark/common/src/main/java/org/apache/spark/shuffle/pegasus/PegasusConf.java'),
  'utf8',
);
const readme = readFileSync(join(root, 'README.md'), 'utf8');

const keys = [...confJava.matchAll(/new Key\("(spark\.pegasus\.[A-Za-z.]+)", "([^"]*)"/g)].map((m) => ({
  name: m[1]!,
  defaultValue: m[2]!,
}));

test('PegasusConf declares the keys the plugin reads', (t) => {
  t.true(keys.length >= 10, `found ${keys.length} keys`);
  t.truthy(keys.find((k) => k.name === 'spark.pegasus.servers'));
});

test('README documents every spark.pegasus.* key with its default, and no key that does not exist', (t) => {
  for (const k of keys) {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${k.name}\``));
    t.truthy(row, `README has no table row for ${k.name}`);
    if (row && k.defaultValue !== '') t.true(row.includes(`\`${k.defaultValue}\``), `README row for ${k.name} lacks default ${k.defaultValue}: ${row}`);
  }
  const documented = [...readme.matchAll(/^\| `(spark\.pegasus\.[A-Za-z.]+)`/gm)].map((m) => m[1]!);
  for (const d of documented) t.truthy(keys.find((k) => k.name === d), `README documents ${d}, which PegasusConf does not declare`);
});
