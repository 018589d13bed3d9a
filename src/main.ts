#!/usr/bin/env -S node --max-semi-space-size=1 --optimize-for-size
// V8 flags for a small resident set: a scrape's short-lived garbage would otherwise grow the heap's reserved pages
// to ~120 MB at 4,000 threads, where it stays; with these ~90 MB, for the same CPU (README, Performance).
// npm start and the container image pass the same flags.
import { buildInfo } from './cli/build-info.js';
import { runExplain } from './cli/explain-command.js';
import { serve } from './cli/serve.js';

const build = buildInfo();
const argv = process.argv.slice(2);
// No top-level await: the single executable runs this bundled as CommonJS (Node 20's SEA runs no ES module).
if (argv[0] === 'explain') void runExplain(argv.slice(1), build).then((code) => process.exit(code));
else void serve(argv, build);
