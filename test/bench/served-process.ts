/** An exporter run as its own process on a loopback port, scraped over HTTP like Prometheus would. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Served {
  readonly pid: number;
  readonly url: string;
  /** GET the metrics path; rejects on a non-200 answer. */
  scrape(): Promise<string>;
  /** SIGTERM and wait for the exit (a --cpu-prof profile is written then). */
  stop(): Promise<void>;
}

/** A port that was free a moment ago (the exporters under test take their port as a flag). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/**
 * Starts `argv` (which must listen on 127.0.0.1:port) and waits until `readyPath` answers 200. Its stderr is
 * kept, to explain an early exit.
 */
export async function startServed(
  argv: string[],
  port: number,
  opts: { metricsPath?: string; readyPath?: string; timeoutMs?: number } = {},
): Promise<Served> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${String(port)}`;
  const metricsPath = opts.metricsPath ?? '/metrics';
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };

  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${argv.join(' ')} exited early:\n${stderr}`);
    try {
      const res = await fetch(url + (opts.readyPath ?? metricsPath));
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${argv.join(' ')} not ready after ${String(opts.timeoutMs ?? 30_000)} ms:\n${stderr}`);
    }
    await sleep(100);
  }

  return {
    pid: child.pid!,
    url,
    async scrape() {
      // Uncompressed, so both exporters are measured on collecting and rendering (process-exporter gzips on request).
      const res = await fetch(url + metricsPath, { headers: { 'accept-encoding': 'identity' } });
      const text = await res.text();
      if (!res.ok) throw new Error(`GET ${url}${metricsPath}: ${String(res.status)} ${text.slice(0, 200)}`);
      return text;
    },
    stop,
  };
}
