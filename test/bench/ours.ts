/** Our exporter, the built CLI (dist/src/main.js), as its own process: the way it runs on a host. */
import { readFileSync } from 'node:fs';
import type { Contender } from './contender.js';
import { sumBy } from './exposition.js';
import { freePort, startServed } from './served-process.js';
import { PROCESS_PATTERN, type SyntheticHost } from './synthetic-host.js';

export interface OursOptions {
  /** The CLI's entry point, e.g. dist/src/main.js. */
  entry: string;
  /** Run under `node --cpu-prof`, writing the profile into this directory on exit. */
  cpuProfDir?: string;
  /** More flags for node itself, e.g. --max-semi-space-size=4. */
  nodeFlags?: string[];
  /** More flags for the exporter, e.g. --explain.window=10m. */
  args?: string[];
}

/** The node flags the entry point's shebang (`#!/usr/bin/env -S node FLAGS`) gives it: the bench runs what users run. */
function shebangFlags(entry: string): string[] {
  const first = readFileSync(entry, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!.*\bnode\b(.*)$/.exec(first);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

export async function startOurs(host: SyntheticHost, opts: OursOptions): Promise<Contender & { url: string }> {
  const port = await freePort();
  const node = [
    process.execPath,
    ...shebangFlags(opts.entry),
    ...(opts.nodeFlags ?? []),
    ...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : []),
  ];
  const served = await startServed(
    [
      ...node,
      opts.entry,
      `--web.listen-address=127.0.0.1:${String(port)}`,
      `--qemu.process-pattern=${PROCESS_PATTERN}`,
      '--log.level=warn',
      ...(opts.args ?? []),
    ],
    port,
    { readyPath: '/-/ready' },
  );
  const domain = new RegExp(`^${host.domainPattern}$`);
  return {
    label: 'qemu-thread-exporter',
    pid: served.pid,
    url: served.url,
    exposes: true,
    scrape: () => served.scrape(),
    threadsSeen(answer) {
      const byDomain = sumBy(answer, 'qemu_threads', 'domain');
      for (const d of byDomain.keys()) if (!domain.test(d)) byDomain.delete(d);
      return byDomain;
    },
    spawnsCounted(answer) {
      let n = 0;
      for (const [d, spawns] of sumBy(answer, 'qemu_thread_spawns_total', 'domain')) if (domain.test(d)) n += spawns;
      return n;
    },
    stop: () => served.stop(),
  };
}
