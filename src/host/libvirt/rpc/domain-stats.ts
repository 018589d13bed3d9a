/**
 * virConnectGetAllDomainStats' typed params → per-domain block and vCPU statistics. The keys are libvirt's
 * (src/qemu/qemu_driver.c, qemuDomainGetStatsBlock* and qemuDomainGetStatsVcpu; documented with
 * virConnectGetAllDomainStats): `block.N.name` (the target, `sdc`), `block.N.path`, `block.N.{rd,wr}.{reqs,bytes,times}`,
 * `block.N.fl.{reqs,times}`, `vcpu.N.delay` and `vcpu.N.wait` (ns). A counter libvirt did not send is left out, never
 * 0: with NOWAIT a domain busy with another job still gets its block names and paths, but none of QEMU's counters.
 */
import { ParseError } from '../../parse-error.js';
import type { DomainStatsRecord } from './protocol.js';

export interface BlockStats {
  /** libvirt's target name (`block.N.name`: `sdc`, `vda`). */
  name: string;
  path?: string;
  rdReqs?: number;
  rdBytes?: number;
  rdTimesNs?: number;
  wrReqs?: number;
  wrBytes?: number;
  wrTimesNs?: number;
  flReqs?: number;
  flTimesNs?: number;
}

export interface VcpuStats {
  vcpu: number;
  /** `vcpu.N.delay`: time spent waiting on a run queue (schedstat), ns. */
  delayNs?: number;
  /** `vcpu.N.wait`: time spent waiting for I/O, ns. */
  waitNs?: number;
}

export interface DomainStats {
  name: string;
  uuid: string;
  blocks: BlockStats[];
  vcpus: VcpuStats[];
}

type Counter = Exclude<keyof BlockStats, 'name' | 'path'>;

const BLOCK_COUNTERS: Record<string, Counter> = {
  'rd.reqs': 'rdReqs',
  'rd.bytes': 'rdBytes',
  'rd.times': 'rdTimesNs',
  'wr.reqs': 'wrReqs',
  'wr.bytes': 'wrBytes',
  'wr.times': 'wrTimesNs',
  'fl.reqs': 'flReqs',
  'fl.times': 'flTimesNs',
};

const VCPU_COUNTERS: Record<string, 'delayNs' | 'waitNs'> = { delay: 'delayNs', wait: 'waitNs' };

/** `block.N.rest` / `vcpu.N.rest`, N a decimal without leading zeros (libvirt formats it with %zu / %u). */
const INDEXED = /^(block|vcpu)\.(0|[1-9]\d{0,8})\.(.+)$/s;

/**
 * A whole, non-negative value (libvirt sends its counters as ULLONG: an exact bigint here) as a Number: beyond 2^53
 * it is the nearest double, the value Prometheus would store from the exact decimal, so nothing is lost that the
 * exposition keeps.
 */
function counter(field: string, value: unknown): number {
  if (typeof value === 'bigint' && value >= 0n) return Number(value);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
    throw new ParseError(`libvirt stats: ${field} is ${show(value)}, not a counter`);
  return value;
}

/** A value for an error message: a bigint (which JSON.stringify refuses) as digits, a peer's 4 MiB string cut short. */
const show = (value: unknown): string =>
  (typeof value === 'bigint' ? String(value) : JSON.stringify(value)).slice(0, 80);

function text(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new ParseError(`libvirt stats: ${field} is ${show(value)}, not a string`);
  return value;
}

function set<T extends object>(o: T, key: keyof T, value: T[keyof T], field: string): void {
  if (o[key] !== undefined) throw new ParseError(`libvirt stats: ${field} appears twice`);
  o[key] = value;
}

function domainStats(rec: DomainStatsRecord): DomainStats {
  const blocks = new Map<number, Partial<BlockStats>>();
  const vcpus = new Map<number, VcpuStats>();
  for (const { field, value } of rec.params) {
    const m = INDEXED.exec(field);
    if (!m) continue;
    const [, kind, n, rest] = m as unknown as [string, string, string, string];
    const i = Number(n);
    if (kind === 'block') {
      let b = blocks.get(i);
      if (!b) blocks.set(i, (b = {}));
      if (rest === 'name') set(b, 'name', text(field, value), field);
      else if (rest === 'path') set(b, 'path', text(field, value), field);
      else if (Object.hasOwn(BLOCK_COUNTERS, rest)) set(b, BLOCK_COUNTERS[rest]!, counter(field, value), field);
    } else {
      let v = vcpus.get(i);
      if (!v) vcpus.set(i, (v = { vcpu: i }));
      if (Object.hasOwn(VCPU_COUNTERS, rest)) set(v, VCPU_COUNTERS[rest]!, counter(field, value), field);
    }
  }
  const byIndex = <T>(m: Map<number, T>): T[] => [...m].sort(([a], [b]) => a - b).map(([, v]) => v);
  return {
    name: rec.name,
    uuid: rec.uuid,
    blocks: byIndex(blocks).map((b) => {
      // libvirt writes a disk's name first (qemuDomainGetStatsBlockExportHeader), whatever else is missing.
      if (b.name === undefined) throw new ParseError(`libvirt stats: domain ${rec.name}: a block without a name`);
      return b as BlockStats;
    }),
    vcpus: byIndex(vcpus),
  };
}

/** Each record's blocks and vCPUs, by index; keys of other groups (state, cpu, balloon, …) and unknown keys ignored. */
export function parseDomainStats(records: readonly DomainStatsRecord[]): DomainStats[] {
  return records.map(domainStats);
}
