/**
 * `qemu-thread-exporter explain [DOMAIN] [--url URL] [--output text|json]`: the findings of a running exporter
 * (its /api/v1/explain), or, without --url, of this host read directly for --duration.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Explainer } from '../explain/explainer.js';
import type { ExplainReport } from '../explain/report.js';
import { explainText } from '../explain/text.js';
import type { BuildInfo } from '../exposition/exposition.js';
import { ReadPipeline } from '../model/pipeline.js';
import { createLogger } from '../util/log.js';
import { ConfigExit, FLAG_NAMES, parseConfig, parseDuration } from './flags.js';

const USAGE = `usage: qemu-thread-exporter explain [DOMAIN] [flags]

Says, per VM, what its threads are doing and whether to worry: findings with a severity, the evidence and
what to change.

  --url=URL         Ask a running exporter (e.g. http://host:10077; user:password@ for basic auth).
                    Without it, this host is read directly for --duration.
  --output=FORMAT   text (default) or json (the exporter's /api/v1/explain).
  --duration=10s    Without --url: how long to watch this host before explaining.
  Any exporter flag (--path.procfs, --libvirt.status-dir, --explain.*, …) applies without --url.`;

/** Runs the command; returns the exit code (0 found, 1 failed or no such VM, 2 bad usage). */
export async function runExplain(argv: string[], build: BuildInfo): Promise<number> {
  const out = (s: string) => process.stdout.write(s);
  const fail = (code: 1 | 2, msg: string): number => {
    process.stderr.write(`qemu-thread-exporter explain: ${msg}\n`);
    return code;
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        output: { type: 'string', default: 'text' },
        duration: { type: 'string', default: '10s' },
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(FLAG_NAMES.map((n) => [n, { type: 'string' as const }])),
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    return fail(2, (err as Error).message.split('\n')[0]!);
  }
  const { url, output, duration, help, ...flags } = parsed.values;
  if (help) {
    out(`${USAGE}\n`);
    return 0;
  }
  if (parsed.positionals.length > 1) return fail(2, 'at most one DOMAIN');
  if (output !== 'text' && output !== 'json')
    return fail(2, `invalid value ${JSON.stringify(output)} for --output: want text or json`);
  const domain = parsed.positionals[0];

  let report: ExplainReport;
  try {
    if (url !== undefined) report = await fetchReport(url, domain);
    else {
      const ms = parseDuration(duration);
      if (ms === undefined || ms < 1000)
        return fail(2, `invalid value ${JSON.stringify(duration)} for --duration: want a duration ≥ 1s`);
      report = await watchHost(
        Object.entries(flags).map(([k, v]) => `--${k}=${String(v)}`),
        ms,
        build,
        domain,
      );
    }
  } catch (err) {
    if (err instanceof ConfigExit) return fail(err.code === 0 ? 2 : err.code, err.message);
    return fail(1, (err as Error).message);
  }
  if (domain !== undefined && report.vms.length === 0) return fail(1, `no QEMU VM named ${JSON.stringify(domain)}`);
  out(output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : explainText(report));
  return 0;
}

async function fetchReport(base: string, domain: string | undefined): Promise<ExplainReport> {
  let url: URL;
  try {
    url = new URL('/api/v1/explain', base);
  } catch {
    throw new ConfigExit(`invalid value ${JSON.stringify(base)} for --url: want http(s)://host:port`, 2);
  }
  if (domain !== undefined) url.searchParams.set('domain', domain);
  // fetch refuses credentials in a URL: send them as basic auth.
  const headers: Record<string, string> = {};
  if (url.username !== '' || url.password !== '') {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  const res = await fetch(url, { headers }).catch((err: unknown) => {
    throw new Error(
      `cannot reach ${url.origin}: ${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message}`,
    );
  });
  if (res.status === 404 && domain !== undefined) return (await res.json()) as ExplainReport;
  if (!res.ok)
    throw new Error(
      `${url.origin} answered ${String(res.status)} ${res.statusText}${res.status === 401 ? ' (give user:password@ in --url)' : ''}`,
    );
  return (await res.json()) as ExplainReport;
}

/** Reads this host once a second for `ms` (census every 100 ms for peaks) and explains what it saw. */
async function watchHost(
  flags: string[],
  ms: number,
  build: BuildInfo,
  domain: string | undefined,
): Promise<ExplainReport> {
  const cfg = parseConfig(
    ['--census.interval=100ms', '--explain.interval=1s', `--explain.window=${String(ms + 2000)}ms`, ...flags],
    build.version,
  );
  const log = createLogger(cfg.logLevel === 'debug' ? 'debug' : 'warn', cfg.logFormat);
  const roots = { procfs: cfg.procfs, sysfs: cfg.sysfs, rootfs: cfg.rootfs, libvirtStatusDir: cfg.libvirtStatusDir };
  const pipeline = new ReadPipeline({
    roots,
    processPattern: cfg.processPattern,
    peakWindowMs: cfg.peakWindowMs,
    log,
    sources: cfg.sources,
    syscalls: { everyMs: cfg.explain.intervalMs, poolBusy: cfg.explain.thresholds.poolBusy },
  });
  const explainer = new Explainer(pipeline, cfg.explain, { scrapeTimeoutMs: cfg.scrapeTimeoutMs, log });
  try {
    await pipeline.open();
    pipeline.startCensus(cfg.censusIntervalMs);
    const end = Date.now() + ms;
    for (;;) {
      await pipeline.snapshot(Date.now() + cfg.scrapeTimeoutMs);
      if (Date.now() >= end) break;
      await sleep(Math.min(cfg.explain.intervalMs, end - Date.now()));
    }
    return explainer.report(domain);
  } finally {
    await pipeline.stop();
  }
}
