// Loads uWebSockets.js and refuses its pure-JS fallback. The republished package
// ships native binaries for a few Node ABIs only; on any other Node it quietly
// falls back to a slow JS server with just a console warning. Pegasus pins
// Node 20 and would rather not start than run an order of magnitude slower.
import { createRequire } from 'node:module';
import type * as UwsTypes from 'uWebSockets.js';

const require = createRequire(import.meta.url);

export type Uws = typeof UwsTypes;

export function loadUws(): Uws {
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
