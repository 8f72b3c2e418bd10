// Loads uWebSockets.js as Pegasus runs it: the native binary only, and, with
// config frameGuard on, every TCP connection fronted by the frame guard
// (frame-guard.ts says why uWS needs one and what it costs), which runs on a
// thread of its own (frame-guard-thread.ts): App().listen then listens through
// the guard, and uWS itself on a free loopback port.
import { createRequire } from 'node:module';
import type * as UwsTypes from 'uWebSockets.js';

import { UPSTREAM_HOST } from './frame-guard.js';
import { FrameGuardThread } from './frame-guard-thread.js';

export { guardedRemote } from './frame-guard.js';

const require = createRequire(import.meta.url);

export type Uws = typeof UwsTypes;

/** uWS's maxPayloadLength when a route does not set one. */
const UWS_PAYLOAD_BYTES_DEFAULT = 16 * 1024;

/** uWS, fronted by the frame guard when `frameGuard` (App().listen(host, port, cb) then listens through it). */
export function loadUws(frameGuard: boolean): Uws {
  const uws = loadNative();
  return frameGuard ? guarded(uws) : uws;
}

// The package ships native binaries for a few Node ABIs only; on any other
// Node it quietly falls back to a slow JS server with just a console warning.
// Pegasus pins Node 20 and would rather not start than run an order of
// magnitude slower.
function loadNative(): Uws {
  const binary = `uWebSockets.js/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  try {
    require.resolve(binary);
  } catch {
    throw new Error(
      `uWebSockets.js has no native binary for ${process.platform}-${process.arch} Node ABI ${process.versions.modules} (Node ${process.versions.node}); ` +
      'Pegasus needs Node 20 and will not run on the slow fallback',
    );
  }
  return require('uWebSockets.js') as Uws;
}

// ---------------------------------------------------------------------------
// The uWS facade: App() records each WebSocket route's maxPayloadLength and
// listens through a guard; the listen-socket functions know the guard's token.

interface Listening {
  guard: FrameGuardThread;
  inner: UwsTypes.us_listen_socket;
}

function guarded(uws: Uws): Uws {
  const listening = new WeakMap<object, Listening>();
  const App = (options?: UwsTypes.AppOptions): UwsTypes.TemplatedApp => {
    // The native App() aborts the process when given an explicit undefined.
    const app = options === undefined ? uws.App() : uws.App(options);
    const payloadBytesMax = new Map<string, number>();
    const nativeWs = app.ws.bind(app);
    const nativeListen = app.listen.bind(app) as (host: string, port: number, cb: (s: UwsTypes.us_listen_socket | false) => void) => void;
    let listened = false;
    app.ws = <UserData>(pattern: UwsTypes.RecognizedString, behavior: UwsTypes.WebSocketBehavior<UserData>): UwsTypes.TemplatedApp => {
      if (listened) throw new Error('the frame guard needs every WebSocket route registered before listen()');
      if (typeof pattern !== 'string' || /[:*]/.test(pattern)) throw new Error(`the frame guard needs WebSocket routes without parameters or wildcards, got ${String(pattern)}`);
      payloadBytesMax.set(pattern, behavior.maxPayloadLength ?? UWS_PAYLOAD_BYTES_DEFAULT);
      nativeWs(pattern, behavior);
      return app;
    };
    app.listen = ((host: unknown, port: unknown, cb: unknown): UwsTypes.TemplatedApp => {
      if (typeof host !== 'string' || typeof port !== 'number' || typeof cb !== 'function') {
        throw new Error('the frame guard supports listen(host, port, cb) only');
      }
      const done = cb as (socket: UwsTypes.us_listen_socket | false) => void;
      listened = true;
      nativeListen(UPSTREAM_HOST, 0, (inner) => {
        if (inner === false) {
          done(false);
          return;
        }
        const upstreamPort = uws.us_socket_local_port(inner as unknown as UwsTypes.us_socket);
        const guard = new FrameGuardThread(upstreamPort, payloadBytesMax);
        guard.listen(host, port).then(
          () => {
            const token = {} as UwsTypes.us_listen_socket;
            listening.set(token, { guard, inner });
            done(token);
          },
          () => {
            uws.us_listen_socket_close(inner);
            done(false);
          },
        );
      });
      return app;
    }) as UwsTypes.TemplatedApp['listen'];
    return app;
  };
  return {
    ...uws,
    App,
    us_listen_socket_close: (socket: UwsTypes.us_listen_socket): void => {
      const l = listening.get(socket);
      if (l === undefined) {
        uws.us_listen_socket_close(socket);
        return;
      }
      listening.delete(socket);
      l.guard.close();
      uws.us_listen_socket_close(l.inner);
    },
    us_socket_local_port: (socket: UwsTypes.us_socket): number => {
      const l = listening.get(socket);
      return l === undefined ? uws.us_socket_local_port(socket) : l.guard.port;
    },
  };
}
