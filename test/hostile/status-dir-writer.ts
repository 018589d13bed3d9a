/**
 * The writer of status-dir-churn.test.ts, run as its own process so it really races the watcher:
 * `status-dir-writer.ts DIR DOMAINS MS FIRST_PID`. For MS milliseconds it renames new versions of status files
 * in, rewrites them in place in two writes, moves and unlinks them, then prints what the directory holds (JSON).
 */
import { closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { statusXml, writeStatusFile } from '../support/status-files.js';

const [dir = '', domains, ms, firstPid] = [
  process.argv[2],
  Number(process.argv[3]),
  Number(process.argv[4]),
  Number(process.argv[5]),
];
const files = new Map<string, { pid: number; name: string }>();
for (let i = 0; i < domains; i++)
  files.set(`dom-${String(i)}.xml`, { pid: 100_000 + 10 * i, name: `dom-${String(i)}` });

let pid = firstPid;
let ops = 0;
const counts = { rename: 0, inPlace: 0, move: 0, unlink: 0, create: 0 };
const end = Date.now() + ms;
while (Date.now() < end) {
  const i = Math.floor(Math.random() * domains * 1.2); // some files do not exist yet
  const file = `dom-${String(i)}.xml`;
  const name = `dom-${String(i)}`;
  const roll = Math.random();
  if (!files.has(file) || roll < 0.4) {
    writeStatusFile(dir, file, statusXml(name, (pid += 10)));
    counts[files.has(file) ? 'rename' : 'create']++;
    files.set(file, { pid, name });
  } else if (roll < 0.7) {
    // In place, in two writes: a reader in between sees half a file.
    const xml = statusXml(name, (pid += 10));
    const fd = openSync(join(dir, file), 'w');
    writeSync(fd, xml.slice(0, xml.length >> 1));
    writeSync(fd, xml.slice(xml.length >> 1));
    closeSync(fd);
    files.set(file, { pid, name });
    counts.inPlace++;
  } else if (roll < 0.85) {
    const to = `dom-${String(i)}-moved-${String(ops)}.xml`;
    renameSync(join(dir, file), join(dir, to));
    files.set(to, files.get(file)!);
    files.delete(file);
    counts.move++;
  } else {
    unlinkSync(join(dir, file));
    files.delete(file);
    counts.unlink++;
  }
  ops++;
}
process.stdout.write(JSON.stringify({ files: [...files], ops, counts }));
