/** How findings write numbers, lists and roles in their sentences. */
import type { Role } from '../../host/qemu/thread-roles.js';
import type { Evidence } from './finding.js';

/** `1,234`, `12.3`, `0.42`: enough digits to read, no more. */
export function fmt(n: number): string {
  const a = Math.abs(n);
  if (a >= 100 || Number.isInteger(n)) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(a >= 10 ? 1 : a >= 1 ? 2 : a >= 0.01 ? 2 : 3);
}

/** `64`, `12,000/s`, `23.5%`, `2.1 ms`. */
export const evidenceValue = (e: Evidence): string =>
  `${fmt(e.value)}${e.unit === '' ? '' : e.unit === '%' || e.unit === '/s' ? e.unit : ` ${e.unit}`}`;

/** `a`, `a and b`, `a, b and c`. */
export const list = (xs: string[]): string =>
  xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)!}`;

/** A share (0.123) as a percentage with one decimal (12.3). */
export const pct = (share: number): number => Math.round(share * 1000) / 10;
/** How a sentence names a role's threads. */
const NOUNS: Record<Role, string> = {
  vcpu: 'vCPU threads',
  iothread: 'iothreads',
  worker: 'worker threads',
  main: 'main loop',
  rcu: 'call_rcu thread',
  monitor: 'monitor iothread',
  vnc: 'VNC threads',
  spice: 'SPICE threads',
  vhost: 'vhost threads',
  io_uring: 'io_uring workers',
  migration: 'migration threads',
  kernel: 'kernel threads',
  other: "threads of role 'other'",
};
export const threadsWord = (role: Role): string => NOUNS[role];
export const capital = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
