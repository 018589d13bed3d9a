/**
 * A real Prometheus server (Debian's `prometheus`) on a free loopback port, with its TSDB in a temporary
 * directory, scraping the given targets and evaluating the given rule files.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireTool } from './require-tool.js';

export interface PrometheusOptions {
  /** Scrape job name → `host:port` targets. */
  jobs: Record<string, string[]>;
  ruleFiles?: string[];
  /** Scrape and rule evaluation interval. Default `1s`. */
  interval?: string;
}

/** One sample or series of an API answer (`value` for instant vectors, `values` for range queries). */
export interface Series {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

export interface Prometheus {
  readonly url: string;
  /** Every log line so far. */
  readonly logs: string[];
  /** GET `/api/v1/PATH?PARAMS`; resolves with `data`, rejects with Prometheus's error. */
  api<T>(path: string, params?: Record<string, string | string[]>): Promise<T>;
  /** An instant query at now. */
  query(expr: string): Promise<Series[]>;
  /** A range query over the last `seconds`, one point per `stepSeconds`. */
  queryRange(expr: string, seconds: number, stepSeconds: number): Promise<Series[]>;
  /** SIGTERM, wait for the exit, remove the TSDB. Safe to call twice. */
  stop(): Promise<void>;
}

/** A port nobody listens on now (a small race with other processes, retried by the caller). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

export async function startPrometheus(opts: PrometheusOptions): Promise<Prometheus> {
  const interval = opts.interval ?? '1s';
  const dir = await mkdtemp(`${tmpdir()}/qte-prometheus-`);
  // JSON is YAML: no quoting rules to get wrong.
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: opts.ruleFiles ?? [],
    scrape_configs: Object.entries(opts.jobs).map(([job, targets]) => ({
      job_name: job,
      static_configs: [{ targets }],
    })),
  };
  await writeFile(`${dir}/prometheus.yml`, JSON.stringify(config, null, 2));
  const binary = requireTool('prometheus');

  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const address = `127.0.0.1:${String(await freePort())}`;
    const args = [
      '--pdeathsig',
      'KILL',
      '--',
      binary,
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=${address}`,
    ];
    const child = spawn(requireTool('setpriv'), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const logs: string[] = [];
    let partial = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      logs.push(...lines);
    });
    const exited = new Promise<void>((resolve) => {
      child
        .on('exit', () => {
          resolve();
        })
        .on('error', () => {
          resolve();
        });
    });
    const url = `http://${address}`;
    let stopped = false;
    const stop = async () => {
      if (!stopped) {
        stopped = true;
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }
      }
    };

    const api = async <T>(path: string, params: Record<string, string | string[]> = {}): Promise<T> => {
      const search = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) for (const one of [v].flat()) search.append(k, one);
      const res = await fetch(`${url}/api/v1/${path}?${search.toString()}`);
      const json = (await res.json()) as { status: string; data: T; error?: string };
      if (json.status !== 'success')
        throw new Error(`${path} ${JSON.stringify(params)}: ${json.error ?? res.statusText}`);
      return json.data;
    };

    try {
      const deadline = Date.now() + 20_000;
      for (;;) {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`prometheus exited:\n${logs.join('\n')}`);
        const ready = await fetch(`${url}/-/ready`).then(
          (r) => r.ok,
          () => false,
        );
        if (ready) break;
        if (Date.now() > deadline) throw new Error(`prometheus not ready after 20 s:\n${logs.join('\n')}`);
        await sleep(100);
      }
    } catch (err) {
      await stop();
      lastError = err;
      continue;
    }

    return {
      url,
      logs,
      api,
      query: async (expr) => (await api<{ result: Series[] }>('query', { query: expr })).result,
      queryRange: async (expr, seconds, stepSeconds) => {
        const end = Date.now() / 1000;
        return (
          await api<{ result: Series[] }>('query_range', {
            query: expr,
            start: String(end - seconds),
            end: String(end),
            step: String(stepSeconds),
          })
        ).result;
      },
      stop: async () => {
        await stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}
