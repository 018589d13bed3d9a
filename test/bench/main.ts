/**
 * `npm run bench`: our exporter, process-exporter and a C floor, side by side on a synthetic host of fake QEMU
 * processes, at 1,000, 4,000 and 16,000 threads, and at 4,000 again while the host churns threads. Prints the
 * tables and writes them to --out. It reports; it never fails on a time.
 *
 *   npm run bench -- --sizes 50x80 --scrapes 10 --cpu-prof
 *   npm run bench -- --sizes 10x80 --churn all --churn-rate 50
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runBench } from './run-bench.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '50x20,50x80,50x320' },
    churn: { type: 'string' },
    'churn-rate': { type: 'string', default: '200' },
    'churn-lifetime-ms': { type: 'string', default: '1000' },
    scrapes: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    'idle-seconds': { type: 'string', default: '10' },
    'tick-ms': { type: 'string' },
    vcpus: { type: 'string', default: '4' },
    entry: { type: 'string', default: `${ROOT}dist/src/main.js` },
    out: { type: 'string', default: `${ROOT}test/bench/results.md` },
    'cpu-prof': { type: 'boolean', default: false },
    'node-flags': { type: 'string', default: '' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(`usage: npm run bench -- [flags]
  --sizes VMSxTHREADS,...   host sizes (default 50x20,50x80,50x320: 1,000, 4,000 and 16,000 threads)
  --churn VMSxTHREADS,...   sizes among --sizes measured a second time while the host churns threads, all, or
                            none (default 50x80, if among --sizes)
  --churn-rate N            churn: worker threads started a second across the host (default 200)
  --churn-lifetime-ms N     churn: how long each lives (default 1000)
  --scrapes N               measured scrapes of each exporter per size (default 20)
  --warmup N                scrapes before measuring (default 2)
  --idle-seconds N          how long to measure the census without scrapes (default 10)
  --tick-ms N               how often the fake threads wake (default: max(100, threads / 10))
  --vcpus N                 vCPU threads per fake VM (default 4)
  --entry PATH              our CLI (default dist/src/main.js: run npm run build first)
  --out FILE                where to write the tables (default test/bench/results.md)
  --cpu-prof                profile our exporter (node --cpu-prof) and summarize where its time went
  --node-flags="FLAGS"      more flags for the node running our exporter, e.g. --node-flags="--max-semi-space-size=4"
`);
  process.exit(0);
}

const count = (name: string, v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: not a count: ${v}`);
  return n;
};
const parseSizes = (flag: string, v: string): { vms: number; threadsPerVm: number }[] =>
  v.split(',').map((s) => {
    const m = /^(\d+)x(\d+)$/.exec(s.trim());
    if (!m) throw new Error(`--${flag}: expected VMSxTHREADS, got ${s}`);
    return { vms: Number(m[1]), threadsPerVm: Number(m[2]) };
  });
const sizes: { vms: number; threadsPerVm: number; churn?: boolean }[] = parseSizes('sizes', values.sizes);
const sameSize = (a: { vms: number; threadsPerVm: number }, b: { vms: number; threadsPerVm: number }): boolean =>
  a.vms === b.vms && a.threadsPerVm === b.threadsPerVm;
if (values.churn === 'all') {
  for (const s of sizes) s.churn = true;
} else if (values.churn !== 'none') {
  // The default churns the 4,000-thread size when it is measured; a size asked for must be among --sizes.
  for (const c of parseSizes('churn', values.churn ?? '50x80')) {
    const size = sizes.find((s) => sameSize(s, c));
    if (size) size.churn = true;
    else if (values.churn !== undefined)
      throw new Error(`--churn: ${String(c.vms)}x${String(c.threadsPerVm)} is not among --sizes`);
  }
}
if (!existsSync(values.entry)) throw new Error(`${values.entry} does not exist: run npm run build first`);

const { lines } = await runBench({
  sizes,
  scrapes: Math.max(1, count('scrapes', values.scrapes)),
  warmup: count('warmup', values.warmup),
  idleSeconds: count('idle-seconds', values['idle-seconds']),
  tickMs: values['tick-ms'] === undefined ? undefined : count('tick-ms', values['tick-ms']),
  vcpus: count('vcpus', values.vcpus),
  churn: {
    ratePerSecond: count('churn-rate', values['churn-rate']),
    lifetimeMs: Math.max(1, count('churn-lifetime-ms', values['churn-lifetime-ms'])),
  },
  entry: values.entry,
  cpuProf: values['cpu-prof'],
  nodeFlags: values['node-flags'].split(' ').filter(Boolean),
  command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
  workDir: `${ROOT}test/.cache/bench/run-${new Date().toISOString().replace(/[:.]/g, '-')}`,
  log: (line) => {
    process.stderr.write(`bench: ${line}\n`);
  },
});
const text = `${lines.join('\n')}\n`;
process.stdout.write(text);
await writeFile(values.out, text);
process.stderr.write(`bench: wrote ${values.out}\n`);
