// The Hadoop half of the files phase of `npm run bench` (issue 11):
// scripts/bench-files-hadoop.sh (io.pegasus.hadoop.bench.FilesBench) measures pegasus://
// through the Hadoop FileSystem API against Hadoop's LocalFileSystem and RawLocalFileSystem,
// with a server of its own. Run after the TypeScript half, once this run's server has stopped,
// with its work directory under the same directory (so on the same disk). Skipped, with a line
// saying why, when the JVM side is not there: no shaded hadoop-fs jar, no java or javac.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One file system's figures (MB/s are MiB per second, as in files.ts). */
export interface HadoopFsFigures {
  hsyncDurable: boolean;
  largeWriteMBps: number;
  largeReadMBps: number;
  smallCreatesPerSec: number;
  smallListPerSec: number;
  smallReadsPerSec: number;
  parallelCreatesPerSec: number;
  parallelReadsPerSec: number;
}

/** FilesBench's JSON line; ratios are Pegasus / baseline of the same measure. */
export interface FilesHadoopFigures {
  bench: 'files-hadoop';
  hadoopVersion: string;
  /** libhadoop loaded: without it every local create forks chmod. */
  hadoopNative: boolean;
  largeBytes: number;
  smallCount: number;
  threads: number;
  conf: string;
  fileSystems: { pegasus: HadoopFsFigures; local: HadoopFsFigures; rawLocal: HadoopFsFigures };
  ratios: { vsLocal: Record<string, number>; vsRawLocal: Record<string, number> };
}

export type FilesHadoopResult =
  | { status: 'ran'; figures: FilesHadoopFigures; table: string[] }
  | { status: 'skipped' | 'failed'; reason: string };

/** Why the JVM side cannot run here, or null when it can. */
function unavailable(repo: string): string | null {
  const pom = readFileSync(join(repo, 'integration', 'pom.xml'), 'utf8');
  const version = /^ {2}<version>(.*)<\/version>/m.exec(pom)?.[1];
  if (version === undefined) return 'no <version> in integration/pom.xml';
  const jar = join(repo, 'integration', 'hadoop-fs', 'target', `pegasus-hadoop-fs-${version}.jar`);
  if (!existsSync(jar)) return `${jar} is not built (cd integration && mvn -B -pl hadoop-fs -am -DskipTests package)`;
  for (const tool of ['java', 'javac']) {
    if (spawnSync(tool, ['-version'], { stdio: 'ignore' }).error !== undefined) return `${tool} is not on PATH`;
  }
  return null;
}

function isFigures(v: unknown): v is FilesHadoopFigures {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Partial<FilesHadoopFigures>;
  return o.bench === 'files-hadoop' && typeof o.fileSystems === 'object' && typeof o.ratios === 'object';
}

/** Runs scripts/bench-files-hadoop.sh with its work directory under `dir`; its progress goes to stderr. */
export async function benchFilesHadoop(repo: string, dir: string, bytes: number): Promise<FilesHadoopResult> {
  const why = unavailable(repo);
  if (why !== null) return { status: 'skipped', reason: why };
  const gib = bytes / (1024 * 1024 * 1024);
  const proc = spawn('bash', [join(repo, 'scripts', 'bench-files-hadoop.sh'), '--gib', String(gib), '--dir', dir, '--json'],
    { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  proc.stdout.on('data', (c: Buffer) => chunks.push(c));
  const code = await new Promise<number | null>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('close', (c) => resolve(c));
  });
  if (code !== 0) return { status: 'failed', reason: `scripts/bench-files-hadoop.sh exited ${String(code)} (its stderr is above)` };
  const lines = Buffer.concat(chunks).toString('utf8').split('\n');
  const last = lines.filter((l) => l.startsWith('{')).pop();
  const figures: unknown = last === undefined ? undefined : JSON.parse(last);
  if (!isFigures(figures)) return { status: 'failed', reason: 'scripts/bench-files-hadoop.sh printed no files-hadoop JSON line' };
  const table = lines.filter((l) => !l.startsWith('{'));
  while (table.at(-1) === '') table.pop();
  return { status: 'ran', figures, table };
}

export function printFilesHadoop(r: FilesHadoopResult, out: (line: string) => void): void {
  if (r.status === 'ran') {
    for (const line of r.table) out(line);
    return;
  }
  out('');
  out(`files through the Hadoop file system (pegasus://): ${r.status}: ${r.reason}`);
}

/** What goes into the bench's JSON: the figures, or why there are none. */
export function filesHadoopJson(r: FilesHadoopResult): FilesHadoopFigures | { skipped: string } | { failed: string } {
  if (r.status === 'ran') return r.figures;
  return r.status === 'skipped' ? { skipped: r.reason } : { failed: r.reason };
}
