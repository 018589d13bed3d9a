/** libvirt writes its status file a moment after QEMU's threads exist: roles follow once it arrives. */
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { copyOfHost1, samples, startExporter, value } from './support/exporter.js';

test('a VM first named from its command line takes its libvirt identity and vCPU roles when the status file lands', async () => {
  const copy = copyOfHost1();
  const status = join(copy.dir, 'run/libvirt/qemu/labvm.xml');
  renameSync(status, `${status}.later`);
  const live = await startExporter(copy.roots);
  try {
    const before = await live.scrape();
    // labvm runs without debug-threads: from its command line alone its vCPUs cannot be told apart.
    assert.equal(value(before, 'qemu_vm_info', { domain: 'labvm', source: 'cmdline' }), 1);
    assert.equal(value(before, 'qemu_threads', { domain: 'labvm', role: 'vcpu' }), 0);

    renameSync(`${status}.later`, status);
    let after = '';
    for (
      let i = 0;
      i < 100 && value(after, 'qemu_vm_info', { domain: 'labvm', source: 'libvirt' }) === undefined;
      i++
    ) {
      await sleep(100);
      after = await live.scrape();
    }
    assert.equal(value(after, 'qemu_vm_info', { domain: 'labvm', source: 'libvirt' }), 1);
    assert.equal(value(after, 'qemu_threads', { domain: 'labvm', role: 'vcpu' }), 2);
    assert.equal(value(after, 'qemu_threads', { domain: 'labvm', role: 'iothread' }), 1);
    assert.equal(value(after, 'qemu_threads', { domain: 'labvm', role: 'worker' }), 1);
    assert.equal(value(after, 'qemu_threads', { domain: 'labvm', role: 'kernel' }), 1);
    // The threads' history stays where it was counted: no counter of the VM went backwards.
    for (const [series, v] of samples(before)) {
      if (!series.includes('_total{') || !series.includes('domain="labvm"')) continue;
      assert.ok((samples(after).get(series) ?? -1) >= v, `${series} went backwards`);
    }
  } finally {
    await live.stop();
    copy.remove();
  }
});
