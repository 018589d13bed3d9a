import { parseArgs } from 'node:util';
import type { ExplainConfig } from '../explain/explainer.js';
import type { Thresholds } from '../explain/findings/thresholds.js';
import type { SourcesConfig } from '../model/pipeline.js';

export interface Config {
  readonly listenHost: string;
  readonly listenPort: number;
  readonly telemetryPath: string;
  readonly procfs: string;
  readonly sysfs: string;
  readonly rootfs: string;
  readonly libvirtStatusDir: string;
  readonly processPattern: RegExp;
  readonly censusIntervalMs: number;
  readonly peakWindowMs: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly logFormat: 'json' | 'logfmt';
  readonly webConfigFile: string | undefined;
  readonly maxRequests: number;
  readonly scrapeTimeoutMs: number;
  readonly explain: ExplainConfig;
  readonly sources: SourcesConfig;
}

/** What the caller should do instead of running: print and exit with the code. */
export class ConfigExit extends Error {
  constructor(
    message: string,
    readonly code: 0 | 2,
  ) {
    super(message);
  }
}

const FLAGS = {
  'web.listen-address': { default: ':10077', help: 'Address to listen on for the web interface and telemetry.' },
  'web.telemetry-path': { default: '/metrics', help: 'Path under which to expose metrics.' },
  'web.config.file': {
    default: '',
    help: "Web config (TLS, basic auth, headers) in exporter-toolkit's format; re-read when it changes.",
  },
  'web.max-requests': { default: '40', help: 'Concurrent HTTP requests served at once; more get 503 (0: no limit).' },
  'scrape.timeout': {
    default: '10s',
    help: "Deadline of one scrape; Prometheus's X-Prometheus-Scrape-Timeout-Seconds can shorten it. A late scrape is partial.",
  },
  'path.procfs': { default: '/proc', help: 'procfs mountpoint.' },
  'path.sysfs': { default: '/sys', help: 'sysfs mountpoint.' },
  'path.rootfs': {
    default: '/',
    help: 'Host root filesystem, for resolving disk sources (e.g. /host in a container).',
  },
  'libvirt.status-dir': { default: '/run/libvirt/qemu', help: "libvirt's QEMU status directory (<domain>.xml)." },
  'qemu.process-pattern': {
    default: '^(qemu-kvm|qemu-system-.+|kvm)$',
    help: "Regex matched against the file a process executes (/proc/PID/exe), its comm and the basename of argv[0]; a match by name alone also needs QEMU's options on the command line.",
  },
  'census.interval': {
    default: '1s',
    help: 'How often to list threads, to count spawns, exits and peaks between scrapes.',
  },
  'census.peak-window': {
    default: '30s',
    help: 'qemu_threads_peak is the highest thread count seen over this sliding window.',
  },
  'explain.window': { default: '5m', help: 'How far back /api/v1/explain, the landing page and `explain` look.' },
  'explain.interval': {
    default: '15s',
    help: 'The explain history keeps a sample this often (taken from scrapes, or read itself when none came).',
  },
  'explain.pool-busy': {
    default: '8',
    help: 'Worker threads (peak over the window) from which a block thread pool is explained.',
  },
  'explain.wait-ratio': {
    default: '0.1',
    help: 'Run-queue wait, as a share of wall time per thread, from which threads or vCPUs are short of CPU.',
  },
  'explain.switch-rate': {
    default: '100',
    help: 'Voluntary context switches per second of a role from which its switching is explained.',
  },
  'explain.disk-sleep-ratio': {
    default: '0.5',
    help: 'Share of samples with threads in disk sleep from which the host storage is looked at.',
  },
  'explain.disk-latency': {
    default: '20ms',
    help: 'Average request latency of a host device from which, with threads in disk sleep, it is called slow.',
  },
  'libvirt.socket': {
    default: 'auto',
    help: "libvirt's read-only socket, for QEMU's own disk statistics (virConnectGetAllDomainStats): auto = /run/libvirt/libvirt-sock-ro or /run/libvirt/virtqemud-sock-ro, whichever exists; none = off.",
  },
  'libvirt.timeout': {
    default: '2s',
    help: "Deadline of one libvirt API call (within the scrape's); a late answer is served from the last one, marked stale.",
  },
  'collector.qmp': {
    default: 'false',
    help: "Ask each QEMU without libvirt for its disk statistics on the QMP socket its command line names. Off by default: a QMP socket serves one client at a time, and its owner (Proxmox VE's tools, an operator's scripts) may need it.",
  },
  'qmp.timeout': {
    default: '1s',
    help: 'Deadline of one QMP exchange; a late answer is served from the last one, marked stale.',
  },
  'qmp.latency-histogram': {
    default: '',
    help: "With --collector.qmp: latency boundaries (e.g. 1ms,5ms,20ms,100ms) for QEMU's per-disk latency histograms, set with block-latency-histogram-set. Changes the VM's settings; off by default.",
  },
  'log.level': { default: 'info', help: 'One of: debug, info, warn, error.' },
  'log.format': { default: 'logfmt', help: 'One of: logfmt, json.' },
} as const;
type FlagName = keyof typeof FLAGS;
/** Every flag's name (the explain command passes them through). */
export const FLAG_NAMES = Object.keys(FLAGS) as FlagName[];

export function usage(): string {
  const lines = ['usage: qemu-thread-exporter [flags]', '', 'Flags:'];
  for (const [name, f] of Object.entries(FLAGS))
    lines.push(`  --${name}=${JSON.stringify(f.default)}`, `      ${f.help}`);
  lines.push('  --help', '      Show this help.', '  --version', '      Show the version.');
  return lines.join('\n');
}

/** Parses `1s`, `500ms`, `2m`, `1h` (Prometheus-style durations, one unit). */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) return undefined;
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * scale;
}

function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

/** Flags → frozen Config. Throws ConfigExit for --help/--version (code 0) and for any bad flag (code 2). */
export function parseConfig(argv: readonly string[], version: string, revision?: string): Config {
  const options = Object.fromEntries(Object.keys(FLAGS).map((name) => [name, { type: 'string' as const }])) as Record<
    FlagName,
    { type: 'string' }
  >;
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new ConfigExit((err as Error).message.split('\n')[0] ?? 'bad arguments', 2);
  }
  const v = parsed.values;
  if (v.help) throw new ConfigExit(usage(), 0);
  if (v.version) {
    const rev = revision === undefined ? '' : `revision ${revision}, `;
    throw new ConfigExit(`qemu-thread-exporter ${version} (${rev}node ${process.version})`, 0);
  }
  const get = (name: FlagName): string => v[name] ?? FLAGS[name].default;
  const bad = (name: FlagName, why: string): ConfigExit =>
    new ConfigExit(`invalid value ${JSON.stringify(get(name))} for --${name}: ${why}`, 2);

  const listen = parseListen(get('web.listen-address'));
  if (!listen) throw bad('web.listen-address', 'want [host]:port');
  const telemetryPath = get('web.telemetry-path');
  if (!telemetryPath.startsWith('/') || telemetryPath === '/' || telemetryPath.startsWith('/-/'))
    throw bad('web.telemetry-path', 'want an absolute path other than / and /-/…');
  let processPattern: RegExp;
  try {
    processPattern = new RegExp(get('qemu.process-pattern'));
  } catch (err) {
    throw bad('qemu.process-pattern', (err as Error).message);
  }
  const censusIntervalMs = parseDuration(get('census.interval'));
  if (censusIntervalMs === undefined || censusIntervalMs < 10)
    throw bad('census.interval', 'want a duration ≥ 10ms, e.g. 1s');
  const peakWindowMs = parseDuration(get('census.peak-window'));
  if (peakWindowMs === undefined || peakWindowMs < censusIntervalMs)
    throw bad('census.peak-window', 'want a duration ≥ --census.interval, e.g. 30s');
  const maxRequests = Number(get('web.max-requests'));
  if (!Number.isInteger(maxRequests) || maxRequests < 0) throw bad('web.max-requests', 'want a whole number ≥ 0');
  const scrapeTimeoutMs = parseDuration(get('scrape.timeout'));
  if (scrapeTimeoutMs === undefined || scrapeTimeoutMs <= 0) throw bad('scrape.timeout', 'want a duration, e.g. 10s');
  const windowMs = parseDuration(get('explain.window'));
  if (windowMs === undefined || windowMs < 1000) throw bad('explain.window', 'want a duration ≥ 1s, e.g. 5m');
  const intervalMs = parseDuration(get('explain.interval'));
  if (intervalMs === undefined || intervalMs < 100 || intervalMs > windowMs)
    throw bad('explain.interval', 'want a duration from 100ms to --explain.window, e.g. 15s');
  const number = (name: FlagName, min: number, max: number): number => {
    const n = Number(get(name));
    if (get(name).trim() === '' || !Number.isFinite(n) || n < min || n > max)
      throw bad(name, `want a number from ${String(min)} to ${String(max)}`);
    return n;
  };
  const diskLatencyMs = parseDuration(get('explain.disk-latency'));
  if (diskLatencyMs === undefined) throw bad('explain.disk-latency', 'want a duration, e.g. 20ms');
  const thresholds: Thresholds = {
    poolBusy: number('explain.pool-busy', 1, 1e6),
    waitRatio: number('explain.wait-ratio', 0, 1),
    switchRate: number('explain.switch-rate', 0, 1e9),
    diskSleepRatio: number('explain.disk-sleep-ratio', 0, 1),
    diskLatencyMs,
  };
  const libvirtTimeoutMs = parseDuration(get('libvirt.timeout'));
  if (libvirtTimeoutMs === undefined || libvirtTimeoutMs <= 0) throw bad('libvirt.timeout', 'want a duration, e.g. 2s');
  const qmpTimeoutMs = parseDuration(get('qmp.timeout'));
  if (qmpTimeoutMs === undefined || qmpTimeoutMs <= 0) throw bad('qmp.timeout', 'want a duration, e.g. 1s');
  const qmp = get('collector.qmp');
  if (qmp !== 'true' && qmp !== 'false') throw bad('collector.qmp', 'want true or false');
  const histogram = get('qmp.latency-histogram');
  const boundariesNs = histogram === '' ? [] : histogram.split(',').map((b) => (parseDuration(b.trim()) ?? NaN) * 1e6);
  if (boundariesNs.some((b, i) => !Number.isFinite(b) || b <= 0 || (i > 0 && b <= boundariesNs[i - 1]!)))
    throw bad('qmp.latency-histogram', 'want rising durations, e.g. 1ms,5ms,20ms');
  if (boundariesNs.length > 0 && qmp !== 'true') throw bad('qmp.latency-histogram', 'needs --collector.qmp=true');
  const socket = get('libvirt.socket');
  const sources: SourcesConfig = Object.freeze({
    libvirtSocket: socket === 'none' ? undefined : socket === 'auto' ? 'auto' : socket,
    libvirtTimeoutMs,
    qmp: qmp === 'true',
    qmpTimeoutMs,
    latencyHistogramNs: boundariesNs.map(Math.round),
  });
  const logLevel = get('log.level');
  if (logLevel !== 'debug' && logLevel !== 'info' && logLevel !== 'warn' && logLevel !== 'error')
    throw bad('log.level', 'want debug, info, warn or error');
  const logFormat = get('log.format');
  if (logFormat !== 'json' && logFormat !== 'logfmt') throw bad('log.format', 'want logfmt or json');

  return Object.freeze({
    listenHost: listen.host,
    listenPort: listen.port,
    telemetryPath,
    procfs: get('path.procfs'),
    sysfs: get('path.sysfs'),
    rootfs: get('path.rootfs'),
    libvirtStatusDir: get('libvirt.status-dir'),
    processPattern,
    censusIntervalMs,
    peakWindowMs,
    logLevel,
    logFormat,
    webConfigFile: get('web.config.file') || undefined,
    maxRequests,
    scrapeTimeoutMs,
    explain: Object.freeze({ windowMs, intervalMs, thresholds: Object.freeze(thresholds) }),
    sources,
  });
}
