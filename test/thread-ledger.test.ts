import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ThreadLedger, zeroCounters, type Counters, type TrackedThread } from '../src/model/thread-ledger.js';

const thread = (
  tid: number,
  role: TrackedThread['role'],
  last: Partial<Counters> = {},
  vcpu?: number,
): TrackedThread => ({
  tid,
  role,
  vcpu,
  starttime: 1,
  comm: role,
  kernelThread: false,
  files: { stat: '', status: '', schedstat: '' },
  listedAt: 0,
  cgroupLeaf: undefined,
  base: zeroCounters(),
  last: { ...zeroCounters(), ...last },
});

test('exited threads keep their contribution: role totals never go backwards', () => {
  const l = new ThreadLedger();
  l.add(thread(1, 'worker', { voluntary: 100, userTicks: 5 }), false);
  l.add(thread(2, 'worker', { voluntary: 50 }), true);
  assert.equal(l.totalsByRole().get('worker')?.voluntary, 150);
  l.remove(1);
  assert.equal(l.totalsByRole().get('worker')?.voluntary, 150);
  assert.equal(l.totalsByRole().get('worker')?.userTicks, 5);
  assert.equal(l.spawns.get('worker'), 1);
  assert.equal(l.exits.get('worker'), 1);
  assert.equal(l.countsByRole().get('worker'), 1);
});

test('a renamed thread freezes its old role and counts on in the new one', () => {
  const l = new ThreadLedger();
  const t = thread(7, 'rcu', { voluntary: 10 });
  l.add(t, true);
  l.changeRole(t, { role: 'worker' });
  t.last.voluntary = 25;
  const totals = l.totalsByRole();
  assert.equal(totals.get('rcu')?.voluntary, 10);
  assert.equal(totals.get('worker')?.voluntary, 15);
  assert.ok(l.rolesSeen.has('rcu') && l.rolesSeen.has('worker'));
});

test('per-vCPU totals survive a vCPU thread being replaced', () => {
  const l = new ThreadLedger();
  l.add(thread(3, 'vcpu', { waitNs: 1000 }, 0), false);
  l.remove(3);
  l.add(thread(9, 'vcpu', { waitNs: 10 }, 0), true);
  assert.equal(l.totalsByVcpu().get(0)?.waitNs, 1010);
});

test('the peak is the highest count within the window', () => {
  const l = new ThreadLedger();
  l.notePeak(1000, new Map([['worker', 64]]), 30_000);
  l.notePeak(2000, new Map([['worker', 3]]), 30_000);
  assert.equal(l.peak('worker'), 64);
  l.notePeak(40_000, new Map([['worker', 1]]), 30_000);
  assert.equal(l.peak('worker'), 1);
});
