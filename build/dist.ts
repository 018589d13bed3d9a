/** `npm run dist`: dist/qemu-thread-exporter-linux-x64, one file with Node embedded. Needs strip (binutils). */
import { stat } from 'node:fs/promises';
import { buildExecutable, buildInfo, EXECUTABLE } from './executable.js';

const t0 = Date.now();
const info = await buildInfo();
await buildExecutable(info);
console.log(
  `${EXECUTABLE}: ${((await stat(EXECUTABLE)).size / 1e6).toFixed(1)} MB (${info.version}, revision ${info.revision})`,
);
console.log(`executable ${String((Date.now() - t0) / 1000)} s`);
