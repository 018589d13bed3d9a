/** blocking_io, cpu_contention, vcpu_starved: what context switches and run-queue wait say. */
import type { Role } from '../../host/qemu/thread-roles.js';
import { zeroCounters } from '../../model/thread-ledger.js';
import type { Point } from '../history.js';
import type { Evidence, Finding } from './finding.js';
import { capital, fmt, list, pct, threadsWord } from './format.js';
import { roleSnapshot, totalsOf, type Span } from './points.js';
import type { Thresholds } from './thresholds.js';
import { latencySentence, qemuHurts, qemuMs } from './io-latency.js';

/** Voluntary vs involuntary switches and run-queue wait: CPU contention, a starved guest, or just blocking I/O. */
export function switching(points: Point[], span: Span, th: Thresholds): Finding[] {
  const { first, last, dt, slowest } = span;
  const out: Finding[] = [];
  const contended: { role: Role; share: number; inv: number }[] = [];

  for (const r of last.vm.roles) {
    if (r.role === 'vcpu' || r.role === 'kernel') continue;
    const a = totalsOf(first.vm, r.role);
    const b = r.totals;
    const avg = Math.max(1, points.reduce((s, p) => s + (roleSnapshot(p.vm, r.role)?.threads ?? 0), 0) / points.length);
    const vol = (b.voluntary - a.voluntary) / dt;
    const inv = (b.involuntary - a.involuntary) / dt;
    const waitS = (b.waitNs - a.waitNs) / 1e9;
    const share = waitS / dt / avg;
    const switches = b.voluntary - a.voluntary + b.involuntary - a.involuntary;
    const perWakeUs = switches > 0 ? (waitS * 1e6) / switches : 0;
    if (share >= th.waitRatio) contended.push({ role: r.role, share, inv });
    else if (vol >= th.switchRate) {
      const evidence: Evidence[] = [
        { what: 'voluntary context switches', value: vol, unit: '/s' },
        { what: 'involuntary context switches', value: inv, unit: '/s' },
        { what: 'run-queue wait per switch', value: perWakeUs, unit: 'µs' },
        { what: 'run-queue wait, share of wall time per thread', value: pct(share), unit: '%' },
      ];
      let against = '';
      let verdict = 'The switching is the normal cost of blocking I/O, not a problem.';
      const io = r.role === 'worker' || r.role === 'iothread';
      // QEMU's own accounting answers directly whether the switching costs the guest anything; else compare the wait with the storage.
      const measured = io ? [...span.latencies].sort((x, y) => (qemuMs(y) ?? 0) - (qemuMs(x) ?? 0))[0] : undefined;
      if (measured) {
        against = `; ${latencySentence(measured)}`;
        evidence.push({
          what: `time per request on disk ${measured.disk}, as the guest saw it`,
          value: measured.guestMs,
          unit: 'ms',
        });
        verdict = qemuHurts(measured)
          ? "QEMU's own part is a large share of the guest's latency: see io_latency."
          : "The guest's requests wait for the storage, not for these threads: the switching is the normal cost of blocking I/O, not a problem.";
      } else if (slowest && io) {
        evidence.push({ what: `average request latency on ${slowest.dev}`, value: slowest.latencyMs, unit: 'ms' });
        against = ` — small next to the ${fmt(slowest.latencyMs)} ms a request takes on ${slowest.dev}`;
      }
      out.push({
        id: 'blocking_io',
        severity: 'info',
        subject: threadsWord(r.role),
        summary: `${capital(threadsWord(r.role))}: ${fmt(vol)} voluntary context switches a second (a thread blocks, then is woken when work arrives) against ${fmt(inv)} involuntary; each switch cost ${fmt(perWakeUs)} µs of run-queue wait${against}. ${verdict}`,
        evidence,
        advice: '',
      });
    }
  }
  if (contended.length > 0) {
    const inv = contended.reduce((s, c) => s + c.inv, 0);
    out.push({
      id: 'cpu_contention',
      severity: 'warning',
      subject: list(contended.map((c) => threadsWord(c.role))),
      summary: `The ${list(contended.map((c) => threadsWord(c.role)))} waited for a CPU ${list(contended.map((c) => `${fmt(pct(c.share))}%`))} of the time, with ${fmt(inv)} involuntary context switches a second: CPU contention — the VM's threads compete with each other or with other work for too few host CPUs.`,
      evidence: contended.flatMap((c) => [
        {
          what: `${threadsWord(c.role)}: run-queue wait, share of wall time per thread`,
          value: pct(c.share),
          unit: '%',
        },
        { what: `${threadsWord(c.role)}: involuntary context switches`, value: c.inv, unit: '/s' },
      ]),
      advice:
        "Keep the emulator and iothreads off the vCPUs' host CPUs (libvirt <emulatorpin>, <iothreadpin>, <vcpupin>), give the VM fewer vCPUs, or move other load off these CPUs.",
    });
  }

  const starved = last.vm.vcpus
    .map((v) => {
      const a = first.vm.vcpus.find((x) => x.vcpu === v.vcpu)?.totals ?? zeroCounters();
      return {
        vcpu: v.vcpu,
        share: (v.totals.waitNs - a.waitNs) / 1e9 / dt,
        inv: (v.totals.involuntary - a.involuntary) / dt,
      };
    })
    .filter((v) => v.share >= th.waitRatio);
  if (starved.length > 0) {
    out.push({
      id: 'vcpu_starved',
      severity: 'warning',
      subject: 'vCPUs',
      summary: `${starved.length === 1 ? 'vCPU' : 'vCPUs'} ${list(starved.map((v) => String(v.vcpu)))} waited on the host's run queue ${list(starved.map((v) => `${fmt(pct(v.share))}%`))} of the time: the guest is starved of host CPU (it sees this as steal time).`,
      evidence: starved.flatMap((v) => [
        { what: `vCPU ${String(v.vcpu)}: run-queue wait, share of wall time`, value: pct(v.share), unit: '%' },
        { what: `vCPU ${String(v.vcpu)}: involuntary context switches`, value: v.inv, unit: '/s' },
      ]),
      advice:
        'Give the vCPUs host CPUs of their own (<vcpupin>, a dedicated cpuset), fewer vCPUs, or less CPU overcommit on this host.',
    });
  }
  return out;
}
