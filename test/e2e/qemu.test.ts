/** End to end: the real command line against a real qemu-system-x86_64 (no guest OS). */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startCli, type Cli } from '../support/cli.js';
import { value } from '../support/exporter.js';
import { assertBetween, taskStatus } from '../support/proc-read.js';
import { blockDeviceOf, startRealQemu, threadNames, type RealQemu } from '../support/real-qemu.js';

let qemu: RealQemu;
let cli: Cli;
const domain = `e2e-qemu-${String(process.pid)}`;

before(async () => {
  qemu = await startRealQemu({ name: domain });
  cli = await startCli();
});
after(async () => {
  await qemu.stop();
  await cli.terminate();
});

test('a real QEMU: vcpu 2, iothread 1, main 1, and its disk mapped to the host device', async () => {
  const vcpu1 = [...(await threadNames(qemu.pid))].find(([, name]) => /^CPU 1\//.test(name))![0];
  const switches0 = taskStatus(qemu.pid, vcpu1, 'voluntary_ctxt_switches');
  const text = await cli.scrape();
  const switches1 = taskStatus(qemu.pid, vcpu1, 'voluntary_ctxt_switches');
  assert.equal(value(text, 'qemu_vm_info', { domain, uuid: qemu.uuid, pid: String(qemu.pid), source: 'cmdline' }), 1);
  assert.equal(value(text, 'qemu_threads', { domain, role: 'vcpu' }), 2);
  assert.equal(value(text, 'qemu_threads', { domain, role: 'iothread' }), 1);
  assert.equal(value(text, 'qemu_threads', { domain, role: 'main' }), 1);
  assert.equal(value(text, 'qemu_threads', { domain, role: 'monitor' }), 1);
  const dev = await blockDeviceOf(qemu.diskPath);
  assert.ok(dev);
  assert.equal(
    value(text, 'qemu_disk_info', {
      domain,
      disk: 'scsi0-0-0-0',
      bus: 'scsi',
      device_type: 'disk',
      source: qemu.diskPath,
      host_device: dev,
      cache: 'none',
      io: 'threads',
      iothread: 'iothread1',
    }),
    1,
  );
  assert.ok((value(text, 'qemu_process_resident_memory_bytes', { domain }) ?? 0) > 1e6);
  assertBetween(
    switches0,
    value(text, 'qemu_vcpu_context_switches_total', { domain, vcpu: '1', kind: 'voluntary' }),
    switches1,
    'vCPU 1 voluntary switches',
  );
  assert.equal(value(text, 'qemu_exporter_source_success', { source: 'procfs' }), 1);

  // What one scrape costs, for the record (never asserted: a test does not fail on time).
  await cli.scrape();
  const cpu0 = cli.cpuSeconds();
  const t0 = process.hrtime.bigint();
  const n = 20;
  for (let i = 0; i < n; i++) await cli.scrape();
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6 / n;
  console.log(
    `one scrape of ${domain} (${qemu.accel}): ${(((cli.cpuSeconds() - cpu0) / n) * 1000).toFixed(2)} ms CPU, ${wallMs.toFixed(2)} ms wall`,
  );
  console.log(
    text
      .split('\n')
      .filter((l) => l.includes(`domain="${domain}"`))
      .join('\n'),
  );
});

test('the landing page, health and readiness', async () => {
  assert.match(await cli.scrape('/'), /<a href="\/metrics">/);
  assert.equal(await cli.scrape('/-/healthy'), 'Healthy.\n');
  assert.equal(await cli.scrape('/-/ready'), 'Ready.\n');
});

test('SIGTERM stops the exporter within 5 s with exit code 0', async () => {
  const { code, ms } = await cli.terminate();
  assert.equal(code, 0);
  assert.ok(ms < 5000, `took ${String(ms)} ms`);
});
