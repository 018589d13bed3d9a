/**
 * The kernel's own numbers, read straight from /proc and /sys, to check the exporter's values against: a value
 * read before a scrape and one read after bound what the scrape may say.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const text = (path: string): string => readFileSync(path, 'utf8');

/** A `key: value` line of /proc/PID/task/TID/status (e.g. voluntary_ctxt_switches). */
export function taskStatus(pid: number, tid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text(`/proc/${String(pid)}/task/${String(tid)}/status`));
  assert.ok(m, `no ${key} for thread ${String(tid)}`);
  return Number(m[1]);
}

/** utime and stime of /proc/PID/task/TID/stat, in seconds. */
export function taskCpuSeconds(pid: number, tid: number): { user: number; system: number } {
  const stat = text(`/proc/${String(pid)}/task/${String(tid)}/stat`);
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) / 100, system: Number(f[12]) / 100 };
}

/** Run-queue wait (schedstat's second field) of a thread, in seconds. */
export function taskWaitSeconds(pid: number, tid: number): number {
  return Number(text(`/proc/${String(pid)}/task/${String(tid)}/schedstat`).split(' ')[1]) / 1e9;
}

/** A line of /proc/PID/io (read_bytes, write_bytes, …). */
export function processIo(pid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text(`/proc/${String(pid)}/io`));
  assert.ok(m, `no ${key} in /proc/${String(pid)}/io`);
  return Number(m[1]);
}

/** Reads completed by a block device (/sys/class/block/DEV/stat, field 1). */
export function blockReadsCompleted(dev: string): number {
  return Number(text(`/sys/class/block/${dev}/stat`).trim().split(/\s+/)[0]);
}

/** vCPU index → TID from a libvirt status file (`<vcpu id='0' pid='TID'/>`). */
export function statusVcpuTids(statusPath: string): Map<number, number> {
  return new Map(
    [...text(statusPath).matchAll(/<vcpu id='(\d+)' pid='(\d+)'\/>/g)].map((m) => [Number(m[1]), Number(m[2])]),
  );
}

/** Asserts lo ≤ v ≤ hi: the exporter's value lies between two direct reads taken around its scrape. */
export function assertBetween(lo: number, v: number | undefined, hi: number, what: string): void {
  assert.ok(v !== undefined, `${what}: missing`);
  assert.ok(
    lo <= v + 1e-9 && v <= hi + 1e-9,
    `${what}: ${String(v)} not within [${String(lo)}, ${String(hi)}] read from the kernel around the scrape`,
  );
}
