// npm run bench [-- --json] [-- --gib N] [-- --rounds N]
// Measures, in one run on this machine:
//   ingest: concurrent writers pushing pre-built 256 KiB blocks (CRC32C, codec
//           none, so the client's compression is not what is measured) into one
//           server, each map committed; time from first push to last commit ack
//   read:   concurrent readers streaming every partition back (CRC checked),
//           once over WebSocket and once over UCX (one-sided gets; over TCP and
//           shared memory here, RDMA where the hardware has it)
//   pmem:   segment writes through the pmem tier (libpmem2) against plain file
//           writes with fdatasync
//   baselines: sequential disk write with a final fdatasync, the same synced every
//              32 MiB (how a server syncing each group commit could best write), loopback TCP
//   manyPartitions: the same records (~100 bytes, LZ4) written through the real
//           ShuffleWriter into 100 and into 100,000 partitions and read back record by
//           record with the real ShuffleReader by 100 reduce tasks (scripts/bench/many-partitions.ts);
//           half the --gib size each, --rounds times (default 3) alternating, medians
//           reported. `--only many-partitions` runs just this phase.
//   files: one object of --gib GiB written and read through the TypeScript client,
//          and 10,000 objects of 4 KiB created, listed and read, against the same
//          through the local file system on the same disk (scripts/bench/files.ts).
//          `--only files` runs just this phase. Then, when the JVM side is there (the shaded
//          integration/hadoop-fs jar, java and javac), the same through the Hadoop FileSystem
//          API against Hadoop's local file systems (scripts/bench-files-hadoop.sh, a server of
//          its own, after this run's has stopped; scripts/bench/files-hadoop.ts); else one line
//          says why it was skipped.
//   CPU: seconds of CPU the server and this client used per GiB in each phase
//        (/proc/<pid>/stat, process.cpuUsage()), and the server's main thread alone
//        (/proc/<pid>/task/<pid>/stat); peak RSS, anonymous and file-backed
// and prints the ratios. With --json it prints only the JSON object on stdout.
import { spawn } from 'node:child_process';
import { crc32c } from '../native/ts/crc32c.js';
import { randomFillSync } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { Codec, type BlockHeader } from '../schemas/ts/messages.js';
import { Connection } from '../shuffle-client/src/connection.js';
import { registerShuffle } from '../shuffle-client/src/control.js';
import { ShuffleReader, type ReadTransport } from '../shuffle-client/src/reader.js';
import { diskWriteMBps, loopbackMBps } from './bench/baselines.js';
import { benchPmemWrite } from './bench/pmem.js';
import { MANY_FEW, MANY_LOTS, benchManyPartitions, type ManyPartitionsResult } from './bench/many-partitions.js';
import { benchFiles, printFiles, type FilesResult } from './bench/files.js';
import { benchFilesHadoop, filesHadoopJson, printFilesHadoop } from './bench/files-hadoop.js';

const MiB = 1024 * 1024;
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const json = process.argv.includes('--json');
const gibArg = process.argv.indexOf('--gib');
const totalBytes = Math.round((gibArg > 0 ? Number(process.argv[gibArg + 1]) : 2) * 1024 * MiB);
const roundsArg = process.argv.indexOf('--rounds');
/** Rounds of the many-partitions phase: its figures are medians over them. */
const manyRounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 3;
if (!Number.isInteger(manyRounds) || manyRounds < 1) throw new Error(`--rounds ${process.argv[roundsArg + 1]}: a positive integer`);
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg > 0 ? process.argv[onlyArg + 1] : undefined;
if (only !== undefined && only !== 'many-partitions' && only !== 'files') throw new Error(`--only ${only}: the phases that run alone are many-partitions and files`);
/** Record bytes of each shuffle of the many-partitions phase. */
const manyBytes = Math.round(totalBytes / 2);
const WRITERS = 4;
const READERS = 4;
const PARTITIONS = 200;
const BLOCK_BYTES = 256 * 1024;
const BLOCKS_PER_PUSH = 4;
const MEMORY_BUDGET_MB = 512;
/** The synced disk baseline's interval: about what one group-commit flush writes here. */
const DISK_SYNC_EVERY_BYTES = 32 * MiB;

const out = (line: string): void => {
  (json ? process.stderr : process.stdout).write(`${line}\n`);
};

async function startServer(dataDir: string): Promise<{ port: number; pid: number; stop: () => Promise<void> }> {
  const proc = spawn(process.execPath, [...(process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter(Boolean), join(repo, 'dist', 'shuffle-server', 'src', 'main.js'), '--port', '0', '--data-dir', dataDir,
    '--memory-budget-bytes', `${MEMORY_BUDGET_MB}MiB`, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      const m = JSON.parse(l) as { event?: string; port?: number };
      if (m.event === 'listening') resolve(m.port!);
    });
    proc.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return {
    port,
    pid: proc.pid!,
    stop: () => new Promise((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    }),
  };
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat
 * (utime and stime, in clock ticks of 1/100 s: USER_HZ is 100 on Linux x86-64).
 */
function processCpuSeconds(pid: number, tid?: number): number {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Runs `phase` and returns its result with the CPU seconds the server and this
 * client used meanwhile; `serverMainCpuS` is the server's main thread alone (its
 * event loop: uWS, push checks, flush planning), the thread that bounds one
 * server's throughput however many cores it has.
 */
async function measured<T>(serverPid: number, phase: () => Promise<T>): Promise<{ value: T; serverCpuS: number; serverMainCpuS: number; clientCpuS: number }> {
  const server0 = processCpuSeconds(serverPid);
  const main0 = processCpuSeconds(serverPid, serverPid);
  const client0 = process.cpuUsage();
  const value = await phase();
  const client = process.cpuUsage(client0);
  return {
    value, serverCpuS: processCpuSeconds(serverPid) - server0, serverMainCpuS: processCpuSeconds(serverPid, serverPid) - main0,
    clientCpuS: (client.user + client.system) / 1e6,
  };
}

function peakRssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

async function ingest(address: string, appId: string): Promise<number> {
  const pool = Array.from({ length: 32 }, () => {
    const data = randomFillSync(Buffer.allocUnsafe(BLOCK_BYTES));
    return { data, crc: crc32c(data) };
  });
  const perWriter = Math.floor(totalBytes / WRITERS);
  const pushesPerWriter = Math.ceil(perWriter / (BLOCK_BYTES * BLOCKS_PER_PUSH));
  const conns = await Promise.all(Array.from({ length: WRITERS }, () => Connection.connect(address)));
  await registerShuffle(conns[0]!, { appId, shuffleId: 0, numMaps: WRITERS, numPartitions: PARTITIONS });
  const start = process.hrtime.bigint();
  await Promise.all(conns.map(async (conn, mapId) => {
    const inflight = new Set<Promise<unknown>>();
    let k = mapId * 7;
    for (let batch = 0; batch < pushesPerWriter; batch++) {
      const blocks: BlockHeader[] = [];
      const body: Buffer[] = [];
      for (let seq = 0; seq < BLOCKS_PER_PUSH; seq++) {
        const b = pool[k++ % pool.length]!;
        blocks.push({ attempt: 0, mapId, partition: (batch * BLOCKS_PER_PUSH + seq + mapId * 13) % PARTITIONS, batch, seq, rawLength: BLOCK_BYTES, storedLength: BLOCK_BYTES, crc32c: b.crc, codec: Codec.NONE });
        body.push(b.data);
      }
      const p = conn.request({ type: 'PushBlocks', appId, shuffleId: 0, blocks }, body);
      inflight.add(p);
      void p.finally(() => inflight.delete(p)).catch(() => undefined);
      if (inflight.size >= conn.pushWindow) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    const ack = await conn.request({ type: 'CommitMap', appId, shuffleId: 0, mapId, attempt: 0, batchCount: pushesPerWriter });
    if (!ack.message.won) throw new Error('commit lost');
  }));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await Promise.all(conns.map((c) => c.close()));
  return (pushesPerWriter * WRITERS * BLOCKS_PER_PUSH * BLOCK_BYTES) / 1e6 / seconds;
}

async function read(address: string, appId: string, transport: ReadTransport): Promise<{ mbps: number; bytes: number }> {
  const conns = await Promise.all(Array.from({ length: READERS }, () => Connection.connect(address)));
  const per = Math.ceil(PARTITIONS / READERS);
  let bytes = 0;
  const start = process.hrtime.bigint();
  await Promise.all(conns.map(async (connection, i) => {
    const reader = new ShuffleReader({
      connection, appId, shuffleId: 0, partitionStart: Math.min(i * per, PARTITIONS), partitionEnd: Math.min((i + 1) * per, PARTITIONS),
      mapStart: 0, mapEnd: WRITERS, options: { creditBytes: 16 * MiB, transport },
    });
    for await (const b of reader.readBlocks()) bytes += b.data.length;
  }));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await Promise.all(conns.map((c) => c.close()));
  return { mbps: bytes / 1e6 / seconds, bytes };
}

function manyPartitionsPhase(address: string, pid: number): Promise<ManyPartitionsResult> {
  return benchManyPartitions(address, manyBytes, manyRounds, (phase) => measured(pid, phase), out);
}

function printManyPartitions(m: ManyPartitionsResult): void {
  const k = MANY_LOTS / 1000;
  out('');
  out(`| many partitions: ${(m.bytes / MiB).toFixed(0)} MiB of 100-byte records, writer defaults, median of ${m.rounds} rounds | ${MANY_FEW} partitions | ${k}k partitions | ratio |`);
  out('| --- | ---: | ---: | ---: |');
  out(`| ingest through ShuffleWriter, MB/s | ${m.ingestMBps100} | ${m.ingestMBps100k} | ${m.ingestRatio} |`);
  out(`| read through ShuffleReader.records(), MB/s | ${m.readMBps100} | ${m.readMBps100k} | ${m.readRatio} |`);
  out(`| ingest CPU s/GiB, client / server | ${m.clientCpuSecPerGiBIngest100} / ${m.serverCpuSecPerGiBIngest100} | ${m.clientCpuSecPerGiBIngest100k} / ${m.serverCpuSecPerGiBIngest100k} | |`);
  out(`| read CPU s/GiB, client / server | ${m.clientCpuSecPerGiBRead100} / ${m.serverCpuSecPerGiBRead100} | ${m.clientCpuSecPerGiBRead100k} / ${m.serverCpuSecPerGiBRead100k} | |`);
  out(`| blocks per partition (all maps) | ${m.blocksPerPartition100} | ${m.blocksPerPartition100k} | |`);
  out(`| records per block | ${m.recordsPerBlock100} | ${m.recordsPerBlock100k} | |`);
  out(`| pushes (batches) | ${m.batches100} | ${m.batches100k} | |`);
}

/** Objects of 4 KiB in the files phase. */
const SMALL_OBJECTS = 10_000;

function filesPhase(address: string, pid: number, dir: string): Promise<FilesResult> {
  return benchFiles(address, dir, totalBytes, SMALL_OBJECTS, (phase) => measured(pid, phase));
}

/** `--only files`: a server of its own, this phase, nothing else. */
async function mainFiles(dir: string): Promise<void> {
  const server = await startServer(join(dir, 'data'));
  const f = await filesPhase(`127.0.0.1:${server.port}`, server.pid, dir);
  await server.stop();
  const hadoop = await benchFilesHadoop(repo, dir, totalBytes);
  rmSync(dir, { recursive: true, force: true });
  printFiles(f, out);
  printFilesHadoop(hadoop, out);
  if (json) process.stdout.write(`${JSON.stringify({ files: f, filesHadoop: filesHadoopJson(hadoop) })}\n`);
}

/** `--only many-partitions`: a server of its own, this phase, nothing else. */
async function mainManyPartitions(dir: string): Promise<void> {
  const server = await startServer(join(dir, 'data'));
  const m = await manyPartitionsPhase(`127.0.0.1:${server.port}`, server.pid);
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
  printManyPartitions(m);
  if (json) process.stdout.write(`${JSON.stringify({ manyPartitions: m })}\n`);
}

async function main(): Promise<void> {
  const dir = join(repo, '.bench');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (only === 'many-partitions') return mainManyPartitions(dir);
  if (only === 'files') return mainFiles(dir);
  out(`pegasus bench: ${(totalBytes / 1024 / MiB).toFixed(1)} GiB, ${WRITERS} writers, ${READERS} readers, ${PARTITIONS} partitions, memory budget ${MEMORY_BUDGET_MB} MiB`);
  const disk = diskWriteMBps(dir, 1024 * MiB);
  const diskSynced = diskWriteMBps(dir, 1024 * MiB, DISK_SYNC_EVERY_BYTES);
  const pmem = await benchPmemWrite(join(dir, 'pmem'), 1024 * MiB);
  const loopback = await loopbackMBps(4096 * MiB);
  const server = await startServer(join(dir, 'data'));
  const address = `127.0.0.1:${server.port}`;
  const appId = 'bench';
  // RSS by phase, and its anonymous part: pages of segment files mapped for UCX
  // (file-backed, page cache) count in RSS too, but are not memory the server holds.
  type Phase = 'ingest' | 'read' | 'ucxRead';
  const rss = { phase: 'ingest' as Phase, total: { ingest: 0, read: 0, ucxRead: 0 }, anon: { ingest: 0, read: 0, ucxRead: 0 } };
  const sampler = setInterval(() => {
    const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
    rss.total[rss.phase] = Math.max(rss.total[rss.phase], kb('VmRSS'));
    rss.anon[rss.phase] = Math.max(rss.anon[rss.phase], kb('RssAnon'));
    if (process.env['BENCH_TRACE']) {
      void fetch(`http://${address}/metrics`).then((res) => res.text()).then((t) => {
        const pick = (n: string): string => ((new RegExp(`^${n} (\\S+)`, 'm').exec(t)?.[1]) ?? '?');
        const mb = (n: string): string => (Number(pick(n)) / 1048576).toFixed(0);
        process.stderr.write(`rss ${mb('process_resident_memory_bytes')} used ${mb('pegasus_memory_used_bytes')} waiting ${mb('pegasus_memory_waiting_bytes')} external ${mb('nodejs_external_memory_bytes')} heap ${mb('nodejs_heap_used_bytes')}\n`);
      });
    }
  }, 50);
  const ingested = await measured(server.pid, () => ingest(address, appId));
  const ingestMBps = ingested.value;
  rss.phase = 'read';
  const wsRead = await measured(server.pid, () => read(address, appId, 'websocket'));
  const r = wsRead.value;
  const probe = await Connection.connect(address);
  const ucxAvailable = probe.ucxPort > 0;
  await probe.close();
  rss.phase = 'ucxRead';
  const ucxRead = ucxAvailable ? await measured(server.pid, () => read(address, appId, 'ucx')) : null;
  const u = ucxRead === null ? null : ucxRead.value;
  if (u !== null && u.bytes !== r.bytes) throw new Error(`UCX read ${u.bytes} bytes, WebSocket read ${r.bytes}`);
  clearInterval(sampler);
  const phases: Phase[] = ['ingest', 'read', 'ucxRead'];
  out(`sampled peak RSS (anonymous part): ${phases.map((p) => `${p} ${rss.total[p].toFixed(0)} MB (${rss.anon[p].toFixed(0)} MB)`).join(', ')}`);
  const peakAnon = Math.max(...phases.map((p) => rss.anon[p]));
  // File-backed resident pages: segment files mapped for UCX reads (page cache), sampled per phase.
  const peakFile = Math.max(...phases.map((p) => rss.total[p] - rss.anon[p]));
  const gib = r.bytes / (1024 * MiB);
  const perGiB = (cpuS: number): number => round(cpuS / gib, 2);
  const peak = peakRssMB(server.pid);
  // After the RSS figures were taken: they are about the 256 KiB-block phases and the budget.
  const manyPartitions = await manyPartitionsPhase(address, server.pid);
  const files = await filesPhase(address, server.pid, dir);
  await server.stop();
  const filesHadoop = await benchFilesHadoop(repo, dir, totalBytes);
  rmSync(dir, { recursive: true, force: true });
  const floor = Math.min(disk, loopback);
  const result = {
    ingestMBps: round(ingestMBps), readMBps: round(r.mbps), diskWriteMBps: round(disk), loopbackMBps: round(loopback),
    diskWriteSyncedMBps: round(diskSynced), ingestToSyncedDiskRatio: round(ingestMBps / diskSynced, 3),
    ingestRatio: round(ingestMBps / floor, 3), readRatio: round(r.mbps / floor, 3), peakRssMB: round(peak), peakAnonRssMB: round(peakAnon), memoryBudgetMB: MEMORY_BUDGET_MB,
    pmemWriteMBps: round(pmem.pmemWriteMBps), fileSegmentWriteMBps: round(pmem.fileWriteMBps),
    pmemToFileRatio: round(pmem.pmemWriteMBps / pmem.fileWriteMBps, 3), pmemGranularity: pmem.granularity,
    wsReadMBps: round(r.mbps), ucxReadMBps: u === null ? null : round(u.mbps), ucxToWsRatio: u === null ? null : round(u.mbps / r.mbps, 3),
    peakRssAnonMB: round(peakAnon), peakRssFileMB: round(peakFile),
    serverCpuSecPerGiBIngest: perGiB(ingested.serverCpuS), serverCpuSecPerGiBWsRead: perGiB(wsRead.serverCpuS),
    serverCpuSecPerGiBUcxRead: ucxRead === null ? null : perGiB(ucxRead.serverCpuS),
    clientCpuSecPerGiBIngest: perGiB(ingested.clientCpuS), clientCpuSecPerGiBWsRead: perGiB(wsRead.clientCpuS),
    clientCpuSecPerGiBUcxRead: ucxRead === null ? null : perGiB(ucxRead.clientCpuS),
    serverMainThreadCpuSecPerGiBIngest: perGiB(ingested.serverMainCpuS), serverMainThreadCpuSecPerGiBWsRead: perGiB(wsRead.serverMainCpuS),
    /** Ingest the server's event loop could take if nothing else were short: 1 GiB / its CPU-s per GiB. */
    ingestMainThreadBoundMBps: round(1024 / Math.max(0.01, ingested.serverMainCpuS / gib)),
    manyPartitions,
    files,
    filesHadoop: filesHadoopJson(filesHadoop),
  };
  out('');
  out('| measure | MB/s | ratio to min(disk, loopback) |');
  out('| --- | ---: | ---: |');
  out(`| disk write + fdatasync (baseline) | ${result.diskWriteMBps} | ${round(disk / floor, 3)} |`);
  out(`| disk write + fdatasync every ${DISK_SYNC_EVERY_BYTES / MiB} MiB (baseline) | ${result.diskWriteSyncedMBps} | ${round(diskSynced / floor, 3)} |`);
  out(`| loopback TCP (baseline) | ${result.loopbackMBps} | ${round(loopback / floor, 3)} |`);
  out(`| Pegasus ingest, ${WRITERS} writers, committed | ${result.ingestMBps} | ${result.ingestRatio} |`);
  out(`| Pegasus read over WebSocket, ${READERS} readers, CRC checked | ${result.readMBps} | ${result.readRatio} |`);
  if (u !== null) out(`| Pegasus read over UCX, ${READERS} readers, CRC checked | ${result.ucxReadMBps} | ${round(u.mbps / floor, 3)} |`);
  else out('| Pegasus read over UCX | (UCX unavailable: native module not loaded or UCX off) | |');
  if (u !== null) out(`UCX read / WebSocket read: ${result.ucxToWsRatio}`);
  out(`| segment writes through the pmem tier (libpmem2, ${pmem.granularity} granularity) | ${result.pmemWriteMBps} | ${round(pmem.pmemWriteMBps / floor, 3)} |`);
  out(`| the same segment writes, writev + fdatasync (baseline) | ${result.fileSegmentWriteMBps} | ${round(pmem.fileWriteMBps / floor, 3)} |`);
  out(`pmem tier / file writes: ${result.pmemToFileRatio}${pmem.granularity === 'PAGE' ? ' (PAGE granularity: an ordinary file, persisted with msync; no PMem here)' : ''}`);
  out('');
  out(`CPU seconds per GiB (server / client): ingest ${result.serverCpuSecPerGiBIngest} / ${result.clientCpuSecPerGiBIngest}, ` +
    `WebSocket read ${result.serverCpuSecPerGiBWsRead} / ${result.clientCpuSecPerGiBWsRead}` +
    (ucxRead === null ? '' : `, UCX read ${result.serverCpuSecPerGiBUcxRead} / ${result.clientCpuSecPerGiBUcxRead}`));
  out(`server main thread (event loop) CPU seconds per GiB: ingest ${result.serverMainThreadCpuSecPerGiBIngest} (bounds ingest at ${result.ingestMainThreadBoundMBps} MB/s), ` +
    `WebSocket read ${result.serverMainThreadCpuSecPerGiBWsRead}`);
  out(`server peak RSS ${result.peakRssMB} MB, of it at most ${result.peakAnonRssMB} MB anonymous and ${result.peakRssFileMB} MB file-backed, with a ${MEMORY_BUDGET_MB} MB budget (target: anonymous at most budget + 150 MB; ` +
    `the rest is page cache of segments mapped for UCX reads); read back ${(r.bytes / MiB).toFixed(0)} MiB per transport`);
  printManyPartitions(manyPartitions);
  printFiles(files, out);
  printFilesHadoop(filesHadoop, out);
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
