/**
 * `npm run lab`: runs the lab, prints the iodepth-vs-workers table, and writes the files the README shows
 * (docs/lab-results.md, docs/lab-workers.svg) plus every sample (test/.cache/lab/result.json).
 * Options: --runtime=SECONDS (per iodepth, default 5), --iodepths=1,8,32,64, --read-iops=N (0: no limit),
 * --replot (redraw the files from the last result.json without running anything).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LAB_CACHE } from './guest-image.js';
import { describeSetup, LAB_DEFAULTS, runLab, type LabResult } from './lab.js';
import { latencyTable, resultsTable } from './results-table.js';
import { workersChart } from './workers-chart.js';

const DOCS = fileURLToPath(new URL('../../docs', import.meta.url));

const { values } = parseArgs({
  options: {
    runtime: { type: 'string' },
    iodepths: { type: 'string' },
    'read-iops': { type: 'string' },
    replot: { type: 'boolean' },
  },
});
const runtimeS = Number(values.runtime ?? LAB_DEFAULTS.runtimeS);
const iodepths = values.iodepths?.split(',').map(Number) ?? LAB_DEFAULTS.iodepths;
const readIops = Number(values['read-iops'] ?? LAB_DEFAULTS.readIops);
if (!(runtimeS > 0) || iodepths.some((d) => !Number.isInteger(d) || d < 1) || !(readIops >= 0)) {
  console.error('usage: npm run lab -- [--runtime=SECONDS] [--iodepths=1,8,32,64] [--read-iops=N (0: no limit)]');
  process.exit(2);
}

const RESULT = `${LAB_CACHE}/result.json`;
const result = values.replot
  ? (JSON.parse(await readFile(RESULT, 'utf8')) as LabResult)
  : await runLab({ runtimeS, iodepths, readIops });
const table = `${resultsTable(result.runs)}\n${latencyTable(result.runs)}`;
const seconds = (result.totalMs / 1000).toFixed(0);
const explained = result.runs
  .filter((r) => r.explained)
  .map((r) => `explain ${r.domain} (asked at iodepth ${String(r.explained!.iodepth)}):\n\n${r.explained!.text}`)
  .join('\n');
console.log(`\n${table}\nlab took ${seconds} s\n\n${explained}`);

await mkdir(DOCS, { recursive: true });
const setup = describeSetup(result.options);
const kernelAndTools = result.guest.packages
  .filter((deb) => /^(linux-image|fio|busybox)/.test(deb))
  .map((deb) =>
    decodeURIComponent(deb)
      .replace(/_[^_]+\.deb$/, '')
      .replace('_', ' '),
  ) // NAME_VERSION_ARCH.deb, %3a for the epoch's ':'
  .join(', ');
const explainMd = result.runs
  .filter((r) => r.explained)
  .map(
    (r) =>
      `\n\`qemu-thread-exporter explain ${r.domain}\` at iodepth ${String(r.explained!.iodepth)}:\n\n\`\`\`\n${r.explained!.text.trimEnd()}\n\`\`\`\n`,
  )
  .join('');
await writeFile(`${DOCS}/lab-results.md`, `${setup}.\nGuest built from ${kernelAndTools}.\n\n${table}${explainMd}`);
await writeFile(`${DOCS}/lab-workers.svg`, workersChart(result.runs, setup));
await mkdir(LAB_CACHE, { recursive: true });
await writeFile(RESULT, JSON.stringify(result, null, 1));
console.log(`wrote ${DOCS}/lab-results.md, ${DOCS}/lab-workers.svg and ${RESULT}`);
