// The frame guard (frame-guard.ts) on a thread of its own. Every byte through
// the data port crosses the guard; on the event loop that was about 1 CPU-s
// per GiB of ingest taken from the thread that also runs uWS, the push checks
// and the flushes (measured on the development machine: uWS alone 0.39 CPU-s
// per GiB received, behind the guard 1.35). On a worker thread the guard's
// reads, header checks and writes to uWS's loopback port run on another core,
// and the event loop keeps only uWS's side.
//
// The thread gets what it needs as data: uWS's loopback port, each WebSocket
// route's payload limit (routes are fixed before listen), and this process's
// guard secret, so upgrades it marks pass guardedRemote() here. If the thread
// fails after listening, the process fails with it, as it would with the
// guard on the event loop.
import { Worker } from 'node:worker_threads';

import { GUARD_SECRET } from './frame-guard.js';

/** What the guard's thread is started with (frame-guard-worker.ts). */
export interface GuardThreadData {
  upstreamPort: number;
  routes: Array<[string, number]>;
  secret: string;
  host: string;
  port: number;
}

/** What the thread answers once it listens, or could not. */
export type GuardThreadReady = { type: 'listening'; port: number } | { type: 'error'; message: string };

/** Messages to the thread. */
export interface GuardThreadCommand {
  type: 'close';
}

export class FrameGuardThread {
  private worker: Worker | null = null;
  private boundPort = 0;

  constructor(
    private readonly upstreamPort: number,
    private readonly routes: ReadonlyMap<string, number>,
  ) {}

  /** Starts the thread and its listener on host:port; resolves once it accepts connections. */
  listen(host: string, port: number): Promise<void> {
    const data: GuardThreadData = { upstreamPort: this.upstreamPort, routes: [...this.routes], secret: GUARD_SECRET, host, port };
    const worker = new Worker(new URL('./frame-guard-worker.js', import.meta.url), { workerData: data });
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      const onStartError = (err: Error): void => reject(err);
      const onStartExit = (code: number): void => reject(new Error(`frame guard thread exited with code ${code} before listening`));
      worker.once('error', onStartError);
      worker.once('exit', onStartExit);
      worker.once('message', (m: GuardThreadReady) => {
        worker.off('error', onStartError);
        worker.off('exit', onStartExit);
        if (m.type === 'error') {
          void worker.terminate();
          reject(new Error(m.message));
          return;
        }
        this.boundPort = m.port;
        worker.on('error', (err) => {
          process.nextTick(() => {
            throw err;
          });
        });
        // The data port's connections must not keep a stopping server alive.
        worker.unref();
        resolve();
      });
    });
  }

  get port(): number {
    return this.boundPort;
  }

  /** Stops accepting; open connections go on, as with uWS's own listen socket. */
  close(): void {
    const command: GuardThreadCommand = { type: 'close' };
    this.worker?.postMessage(command);
  }
}
