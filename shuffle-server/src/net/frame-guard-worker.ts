// Entry point of the frame guard's thread (frame-guard-thread.ts): runs one
// FrameGuard with the data it was started with and answers once it listens.
import { parentPort, workerData } from 'node:worker_threads';

import { FrameGuard } from './frame-guard.js';
import type { GuardThreadCommand, GuardThreadData, GuardThreadReady } from './frame-guard-thread.js';

const data = workerData as GuardThreadData;
const port = parentPort!;
const routes = new Map(data.routes);
const guard = new FrameGuard(data.upstreamPort, (urlPath) => routes.get(urlPath) ?? null, data.secret);

const answer = (m: GuardThreadReady): void => port.postMessage(m);
guard.listen(data.host, data.port).then(
  () => answer({ type: 'listening', port: guard.port }),
  (err: unknown) => answer({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
);
port.on('message', (m: GuardThreadCommand) => {
  if (m.type === 'close') guard.close();
});
