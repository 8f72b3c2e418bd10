#!/usr/bin/env node
// Entry point of `npx shufflectl`; built by `npm run build` into dist/.
import '../../dist/shuffle-client/src/cli/main.js';
