// What shufflectl does on a terminal: the progress bar of verify and
// decommission --wait is drawn on stderr only when stderr is a TTY, and
// metrics --watch runs until SIGINT (Ctrl-C) and then exits 0. run() is
// called in-process here so stderr can claim to be a TTY.
import test from 'ava';
import { spawn } from 'node:child_process';
import { run } from '../../../shuffle-client/src/cli/shufflectl.js';
import { removeDir, startServer, stopServer, type ServerProcess } from '../helpers/server-process.js';
import { CLI, pushShuffle } from './ctl.js';

let server: ServerProcess;

test.before(async () => {
  server = await startServer();
  await pushShuffle(server.address, { appId: 'tty', shuffleId: 1 });
  await pushShuffle(server.address, { appId: 'tty', shuffleId: 2 });
});

test.after.always(async () => {
  await stopServer(server);
  await removeDir(server.dataDir);
});

function sink(isTTY: boolean): { isTTY: boolean; columns: number; text: string; write(s: string): boolean } {
  return { isTTY, columns: 120, text: '', write(s: string) { this.text += s; return true; } };
}

test.serial('verify draws a progress bar on stderr when it is a terminal, and nothing when it is not', async (t) => {
  const out = sink(true);
  const tty = sink(true);
  t.is(await run(['--server', server.address, 'verify'], { stdout: out, stderr: tty, env: {} }), 0, tty.text);
  t.regex(tty.text, /\r\x1b\[2K\[#+-*\] 2\/2 shuffles verified/);
  t.true(tty.text.endsWith('\r\x1b[2K'), 'the line is cleared at the end');
  t.regex(out.text, /verified 2 shuffles/);
  const pipe = sink(false);
  t.is(await run(['--server', server.address, 'verify'], { stdout: sink(false), stderr: pipe, env: {} }), 0);
  t.is(pipe.text, '');
});

test.serial('decommission --wait shows servers drained on a terminal', async (t) => {
  const conn = sink(true);
  t.is(await run(['--server', server.address, 'cleanup', '--app', 'tty'], { stdout: sink(false), stderr: sink(false), env: {} }), 0);
  t.is(await run(['--server', server.address, 'decommission', '--wait', '--interval', '0.1'], { stdout: sink(false), stderr: conn, env: {} }), 0, conn.text);
  t.regex(conn.text, /1\/1 servers drained, 0 shuffles left/);
  t.is(await run(['--server', server.address, 'decommission', '--cancel'], { stdout: sink(false), stderr: sink(false), env: {} }), 0);
});

test.serial('metrics --watch redraws until SIGINT and then exits 0', async (t) => {
  const child = spawn(process.execPath, [CLI, '--server', server.address, 'metrics', '--watch', '--interval', '0.2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if ((stdout.match(/round \d+/g) ?? []).length >= 3) resolve();
    });
  });
  child.kill('SIGINT');
  t.is(await exited, 0);
  t.true((stdout.match(/^SERVER\s+IN\s+OUT/gm) ?? []).length >= 3);
});
