import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pack, unpack } from '../../src/explain/packed.js';

const identity = { domain: 'vm1', vcpuTids: new Map([[1, 0]]) };
const spec = { name: 'vda' };
const sample = (n: number, domain = 'sda') => ({
  t: n,
  vm: {
    identity,
    pid: 42,
    roles: [
      { role: 'worker', threads: n, states: { running: 1, sleeping: -0 }, totals: { waitNs: 2 ** 53 - n } },
      { role: 'vcpu', threads: 0.5, states: { running: NaN, sleeping: 3 }, totals: { waitNs: 1e21 } },
    ],
    disks: [{ spec, hostDevice: domain, stat: undefined }],
    rssBytes: undefined,
    namedThreads: true,
    pools: [],
  },
  peak: { worker: n },
});

test('packed: unpacking gives back the same value, numbers exact, shared objects by reference', () => {
  const v = sample(7);
  const back = unpack(pack(v)) as typeof v;
  assert.deepStrictEqual(back, v);
  assert.ok(Object.is(back.vm.roles[0]!.states.sleeping, -0));
  assert.equal(back.vm.identity, identity, 'the identity is the same object');
  assert.equal(back.vm.disks[0]!.spec, spec, "a disk's spec is the same object");
  assert.notEqual(back.vm, v.vm, 'the rest is rebuilt');
  assert.deepStrictEqual(Object.keys(back.vm), Object.keys(v.vm), 'keys in the same order, undefined ones too');
});

test('packed: values of one structure share a shape, their own references kept; a changed string does not', () => {
  const a = pack(sample(1));
  const b = pack(sample(2), a.shape);
  assert.equal(b.shape, a.shape);
  assert.deepStrictEqual(unpack(b), sample(2));
  const c = pack(sample(3, 'sdb'), a.shape);
  assert.notEqual(c.shape, a.shape);
  assert.deepStrictEqual(unpack(c), sample(3, 'sdb'));
  const other = sample(4);
  other.vm.disks[0]!.spec = { name: 'vda' };
  other.vm.identity = { ...identity };
  const d = pack(other, a.shape);
  assert.equal(d.shape, a.shape, 'other objects by reference: the same shape');
  const back = unpack(d) as typeof other;
  assert.equal(back.vm.disks[0]!.spec, other.vm.disks[0]!.spec, 'its own spec object');
  assert.equal(back.vm.identity, other.vm.identity, 'its own identity object');
  assert.equal((unpack(b) as typeof other).vm.identity, identity);
});
