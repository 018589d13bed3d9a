/**
 * process-exporter (Debian's prometheus-process-exporter), the only peer that reads per-thread data, with
 * per-thread metrics on and one group per VM, named from QEMU's `-name guest=…`. Its smaps gathering is off
 * (`-gather-smaps=false`; on by default): it reads every process's /proc/PID/smaps_rollup for proportional memory,
 * a file we do not read, and the comparison is of the same work.
 */
import { writeFile } from 'node:fs/promises';
import { requireTool } from '../support/require-tool.js';
import type { Contender } from './contender.js';
import { sumBy } from './exposition.js';
import { freePort, startServed } from './served-process.js';
import type { SyntheticHost } from './synthetic-host.js';

/** Writes its config into `dir` and starts it. */
export async function startProcessExporter(host: SyntheticHost, dir: string): Promise<Contender> {
  const binary = requireTool('prometheus-process-exporter');
  const config = `${dir}/process-exporter.yml`;
  await writeFile(
    config,
    [
      'process_names:',
      '  - name: "{{.Matches.guest}}"',
      '    cmdline:',
      `      - 'guest=(?P<guest>${host.domainPattern})'`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const served = await startServed(
    [
      binary,
      `-config.path=${config}`,
      '-threads=true',
      '-gather-smaps=false',
      `-web.listen-address=127.0.0.1:${String(port)}`,
    ],
    port,
  );
  return {
    label: 'process-exporter',
    pid: served.pid,
    exposes: true,
    scrape: () => served.scrape(),
    // num_threads comes from each process's stat; thread_count from reading every thread: both must agree (unless
    // threads start and end while it reads them).
    threadsSeen(answer, churning) {
      const perThread = sumBy(answer, 'namedprocess_namegroup_thread_count', 'groupname');
      if (churning) return perThread;
      const perProcess = sumBy(answer, 'namedprocess_namegroup_num_threads', 'groupname');
      for (const [group, n] of perProcess) if (perThread.get(group) !== n) perThread.set(group, NaN);
      return perThread;
    },
    stop: () => served.stop(),
  };
}
