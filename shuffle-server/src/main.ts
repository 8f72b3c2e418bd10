// pegasus-server: starts one shuffle server.
//   pegasus-server [--port N] [--data-dir DIR] [--config FILE] [--<any-config-key> VALUE]
// Prints one JSON line {"event":"listening","port":N,...} on stdout once it
// accepts work, so scripts and tests can find a port chosen with --port 0.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, loadConfig, renderConfigReference, type ServerConfig } from './config.js';
import { createLogger } from './logger.js';
import { PegasusServer } from './net/server.js';
import { PEGASUS_VERSION } from '../../schemas/ts/version.js';

function usage(): string {
  return [
    'usage: pegasus-server [--port N] [--data-dir DIR] [--config FILE] [--<config-key> VALUE ...]',
    '',
    'Starts a Pegasus shuffle server. Every config key can be given as a flag; see',
    'shuffle-server/CONFIG.md or the table below.',
    '',
    renderConfigReference(),
  ].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  if (argv.includes('--version')) {
    process.stdout.write(`${PEGASUS_VERSION}\n`);
    return;
  }
  let cfg: ServerConfig;
  try {
    cfg = loadConfig({ argv, env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`pegasus-server: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  cfg.dataDir = resolve(cfg.dataDir);
  mkdirSync(cfg.dataDir, { recursive: true });
  const log = createLogger(cfg.logLevel, cfg.logFormat);
  process.on('unhandledRejection', (reason) => {
    log.error('unhandled rejection', { error: reason instanceof Error ? reason.stack : String(reason) });
  });
  const started = Date.now();
  const server = await PegasusServer.start(cfg, log);
  log.info('listening', { host: cfg.host, port: server.port, dataDir: cfg.dataDir, memoryBudgetBytes: cfg.memoryBudgetBytes, startMs: Date.now() - started, version: PEGASUS_VERSION, pid: process.pid });
  process.stdout.write(`${JSON.stringify({ event: "listening", host: cfg.host, port: server.port, ucxPort: server.ucxState.port, dataDir: cfg.dataDir, pid: process.pid })}\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    server.stop().then(
      () => {
        log.info('stopped', { signal });
        process.exit(0);
      },
      (err: unknown) => {
        log.error('stop failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`pegasus-server: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
