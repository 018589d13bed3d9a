/**
 * `npm run dist`: dist/qemu-thread-exporter-linux-x64 (one file, Node embedded), and the .deb and .rpm holding it
 * with the unit. Needs strip (binutils), dpkg-deb and dpkg-shlibdeps (dpkg-dev) and rpmbuild (rpm).
 * `--executable-only`: the executable alone (needs strip only).
 */
import { stat } from 'node:fs/promises';
import { buildDeb } from './deb.js';
import { buildExecutable, buildInfo, DIST, EXECUTABLE, ROOT, sh } from './executable.js';
import { buildRpm } from './rpm.js';
import { stage } from './staging.js';

const mb = async (path: string) => `${((await stat(path)).size / 1e6).toFixed(1)} MB`;

const t0 = Date.now();
const info = await buildInfo();
// Dated by the commit, so two builds of one commit say the same.
const date = await sh('git', ['-C', ROOT, 'log', '-1', '--format=%aD']).then(
  (s) => s.trim(),
  () => new Date().toUTCString(),
);
const bundled = await buildExecutable(info);
const t1 = Date.now();
// The container image's build wants the executable alone (its stage has no dpkg-dev or rpm).
if (process.argv.includes('--executable-only')) {
  console.log(`${EXECUTABLE}: ${await mb(EXECUTABLE)} in ${String((t1 - t0) / 1000)} s`);
  process.exit(0);
}
const root = `${DIST}/pkgroot`;
const licences = await stage(root, info, bundled, date);
const deb = await buildDeb(root, info);
const rpm = await buildRpm(root, info, date, licences);
const t2 = Date.now();
console.log(`${EXECUTABLE}: ${await mb(EXECUTABLE)} (${info.version}, revision ${info.revision})`);
console.log(`${deb}: ${await mb(deb)}`);
console.log(`${rpm}: ${await mb(rpm)}`);
console.log(`executable ${String((t1 - t0) / 1000)} s, packages ${String((t2 - t1) / 1000)} s`);
