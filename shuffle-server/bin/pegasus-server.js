#!/usr/bin/env node
// Entry point of `npx pegasus-server`; the server is built by `npm run build` into dist/.
import '../../dist/shuffle-server/src/main.js';
