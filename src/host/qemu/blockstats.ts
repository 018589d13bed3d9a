/**
 * QEMU's own counters of its disks: the return of QMP `query-blockstats` (qapi/block-core.json: BlockStats,
 * BlockDeviceStats, BlockLatencyHistogramInfo), one entry per BlockBackend, as block/qapi.c's qmp_query_blockstats
 * fills it. Pure; anything not in that shape is a ParseError. Members this does not read are ignored, as the QMP
 * spec asks of clients (newer QEMUs add some).
 */
import { ParseError } from '../parse-error.js';
import { isProps, own, type Props } from './option-syntax.js';

export interface LatencyHistogram {
  /** Bin edges in ns, ascending and > 0: bins are [0, b0), [b0, b1), …, [b(n-1), +inf). */
  boundaries: number[];
  /** Request counts per bin: one more than there are boundaries. */
  bins: number[];
}

/** Operations that a `block-latency-histogram-set` histogram can count (zone append is left out: no disk here has it). */
export type HistogramOp = 'rd' | 'wr' | 'flush';

export interface BlockStats {
  /** The BlockBackend's name: a legacy `-drive`'s id (`drive0`, `ide0-hd0`); '' for one a `-device drive=NODE` made. */
  device: string;
  /** The id of the device the drive is attached to, else its QOM path; '' when none is attached (see deviceIdOfQdev). */
  qdev: string;
  /** The root node's name (`-blockdev node-name=`, or QEMU's own `#blockNNN` for a `-drive`); '' with no medium. */
  nodeName: string;
  rdOperations: number;
  wrOperations: number;
  flushOperations: number;
  rdBytes: number;
  wrBytes: number;
  rdTotalTimeNs: number;
  wrTotalTimeNs: number;
  flushTotalTimeNs: number;
  /** Only those set with `block-latency-histogram-set` (QEMU ≥ 4.0); gone again when QEMU restarts. */
  histograms: Partial<Record<HistogramOp, LatencyHistogram>>;
}

const COUNTERS = {
  rdOperations: 'rd_operations',
  wrOperations: 'wr_operations',
  flushOperations: 'flush_operations',
  rdBytes: 'rd_bytes',
  wrBytes: 'wr_bytes',
  rdTotalTimeNs: 'rd_total_time_ns',
  wrTotalTimeNs: 'wr_total_time_ns',
  flushTotalTimeNs: 'flush_total_time_ns',
} as const;

const HISTOGRAM_OPS: readonly HistogramOp[] = ['rd', 'wr', 'flush'];

/** QEMU's counters are uint64_t: 2^64 - 1 is the largest, which JSON.parse rounds to 2^64 itself. */
const UINT64_MAX = 2 ** 64;

/**
 * A counter: a whole, non-negative JSON number. One past 2^53 arrives rounded by JSON.parse (a total time passes
 * it after 104 days of summed latency, which a busy disk reaches in weeks); it is kept, rounded as Prometheus would
 * store it anyway, and rounding never makes a counter go down. Refusing it would drop that disk for good.
 */
function counter(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > UINT64_MAX)
    throw new ParseError(`${what} is ${describe(v)}, not a non-negative integer`);
  return v;
}

function optionalString(p: Props, key: string, what: string): string {
  const v = own(p, key);
  if (v === undefined) return '';
  if (typeof v !== 'string') throw new ParseError(`${what}.${key} is ${describe(v)}, not a string`);
  return v;
}

function counters(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) throw new ParseError(`${what} is ${describe(v)}, not an array`);
  return v.map((n, i) => counter(n, `${what}[${String(i)}]`));
}

function histogram(v: unknown, what: string): LatencyHistogram {
  if (!isProps(v)) throw new ParseError(`${what} is ${describe(v)}, not an object`);
  const boundaries = counters(own(v, 'boundaries'), `${what}.boundaries`);
  const bins = counters(own(v, 'bins'), `${what}.bins`);
  // QEMU refuses edges that are not ascending from > 0 (block/accounting.c, block_latency_histogram_set).
  for (let i = 0; i < boundaries.length; i++) {
    if (boundaries[i]! <= (i === 0 ? 0 : boundaries[i - 1]!))
      throw new ParseError(`${what}.boundaries are not ascending from > 0: ${boundaries.join(', ')}`);
  }
  if (bins.length !== boundaries.length + 1)
    throw new ParseError(`${what}: ${String(bins.length)} bins for ${String(boundaries.length)} boundaries`);
  return { boundaries, bins };
}

function entry(v: unknown, index: number): BlockStats {
  let what = `query-blockstats[${String(index)}]`;
  if (!isProps(v)) throw new ParseError(`${what} is ${describe(v)}, not an object`);
  const device = optionalString(v, 'device', what);
  const qdev = optionalString(v, 'qdev', what);
  const nodeName = optionalString(v, 'node-name', what);
  what += ` (${short(device || qdev || nodeName || 'unnamed')})`;
  const stats = own(v, 'stats');
  if (!isProps(stats)) throw new ParseError(`${what}.stats is ${describe(stats)}, not an object`);
  const out: BlockStats = {
    device,
    qdev,
    nodeName,
    rdOperations: 0,
    wrOperations: 0,
    flushOperations: 0,
    rdBytes: 0,
    wrBytes: 0,
    rdTotalTimeNs: 0,
    wrTotalTimeNs: 0,
    flushTotalTimeNs: 0,
    histograms: {},
  };
  for (const [field, key] of Object.entries(COUNTERS) as [keyof typeof COUNTERS, string][])
    out[field] = counter(own(stats, key), `${what}.stats.${key}`);
  for (const op of HISTOGRAM_OPS) {
    const key = `${op}_latency_histogram`;
    const h = own(stats, key);
    if (h !== undefined) out.histograms[op] = histogram(h, `${what}.stats.${key}`);
  }
  return out;
}

/**
 * Reads `query-blockstats`' return (without `query-nodes`: one entry per drive, top level only; the `parent` and
 * `backing` children carry no counters of their own at that level, only `wr_highest_offset`, and are not read).
 */
export function parseBlockstats(json: unknown): BlockStats[] {
  if (!Array.isArray(json)) throw new ParseError(`query-blockstats returned ${describe(json)}, not an array`);
  return json.map(entry);
}

/**
 * The `-device` id a `qdev` names, or undefined. QEMU reports the id of the device the drive is attached to, else
 * that device's canonical QOM path (block/block-backend.c, blk_get_attached_dev_id_or_path). A device given an id
 * is the child ID of /machine/peripheral (system/qdev-monitor.c, qdev_set_id), so a path under it names the
 * device the drive sits in even when the attached device is an inner one: virtio-blk attaches its drive to the
 * proxy's `virtio-backend` child (hw/virtio/virtio.c, virtio_instance_init_common), usb-storage to a `scsi-hd` on
 * its own bus (`/machine/peripheral/ID/BUS/legacy[0]`). A device without an id is under /machine/peripheral-anon
 * (`device[N]`) and an on-board one (`-drive if=ide`) under /machine/unattached: neither has an id.
 * key=value ids start with a letter (util/id.c, id_wellformed), so one starting with '/' is a path.
 */
export function deviceIdOfQdev(qdev: string): string | undefined {
  if (qdev === '') return undefined;
  if (!qdev.startsWith('/')) return qdev;
  return /^\/machine\/peripheral\/([^/]+)(?:\/|$)/.exec(qdev)?.[1];
}

/**
 * The name the exporter gives this disk on a bare QEMU (src/host/qemu/disks.ts): its device's id, else the drive
 * the device refers to: a legacy drive's id (`device`), or the `-blockdev` node (`nodeName`; QEMU's own `#block…`
 * names are never on a command line). Undefined when none applies.
 */
export function diskNameOf(s: BlockStats): string | undefined {
  const id = deviceIdOfQdev(s.qdev);
  if (id !== undefined) return id;
  if (s.device !== '') return s.device;
  if (s.nodeName !== '' && !s.nodeName.startsWith('#')) return s.nodeName;
  return undefined;
}

const short = (s: string): string => (s.length > 40 ? `${s.slice(0, 40)}…` : s);

/** A value for an error message, short: a hostile peer's 1 MiB string must not become a 1 MiB log line. */
function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null || typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(short(v));
  return Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v;
}
