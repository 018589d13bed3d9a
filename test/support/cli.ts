import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface Cli {
  pid: number;
  url: string;
  /** Every log line so far. */
  logs: string[];
  scrape(path?: string): Promise<string>;
  /** CPU seconds (user + system) the exporter process has used so far. */
  cpuSeconds(): number;
  /** SIGTERM; resolves with the exit code and how long the exit took. */
  terminate(): Promise<{ code: number | null; ms: number }>;
}

/** Runs `qemu-thread-exporter ARGS…` (src/main.ts) to its end, e.g. the explain command. */
export async function runCommand(
  args: string[],
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** Runs the real command line (src/main.ts) on a free loopback port and waits for its `ready` log line. */
export async function startCli(
  flags: string[] = [],
  opts: { prefix?: string[]; command?: string[] } = {},
): Promise<Cli> {
  // `prefix` runs it under another command, e.g. setpriv to drop privileges; `command` replaces src/main.ts,
  // e.g. with an installed qemu-thread-exporter.
  const command = opts.command ?? [process.execPath, '--import', 'tsx', MAIN];
  const argv = [...(opts.prefix ?? []), ...command, '--web.listen-address=127.0.0.1:0', ...flags];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = once(child, 'exit');
  const logs: string[] = [];
  const ready = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr }).on('line', (line) => {
      logs.push(line);
      const m = /msg=ready .*addresses=([\d.]+:\d+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    void exited.then(([code]) => {
      reject(new Error(`exporter exited (${String(code)}) before ready:\n${logs.join('\n')}`));
    });
  });
  const address = await ready;
  const url = `http://${address}`;
  return {
    pid: child.pid!,
    url,
    logs,
    async scrape(path = '/metrics') {
      const res = await fetch(url + path);
      if (!res.ok) throw new Error(`GET ${path}: ${String(res.status)}`);
      return res.text();
    },
    cpuSeconds() {
      const stat = readFileSync(`/proc/${String(child.pid)}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    },
    async terminate() {
      const t0 = Date.now();
      if (child.exitCode !== null) return { code: child.exitCode, ms: 0 };
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return { code, ms: Date.now() - t0 };
    },
  };
}
