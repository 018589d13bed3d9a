/** Bad input gets a clear log line and a metric that says so: never a crash, a lost scrape or a wrong number. */
import assert from 'node:assert/strict';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { startCli } from './support/cli.js';
import { copyOfHost1, samples, startExporter, value } from './support/exporter.js';
import { requireTool } from './support/require-tool.js';

let copy: ReturnType<typeof copyOfHost1>;
let host: string;
const roots = () => copy.roots;

// Each test breaks its own copy of the fixture host.
beforeEach(() => {
  copy = copyOfHost1();
  host = copy.dir;
});
afterEach(() => {
  copy.remove();
});

test('a malformed thread file is counted and logged; the scrape goes on with the last good numbers', async () => {
  const live = await startExporter(roots());
  try {
    const good = await live.scrape();
    writeFileSync(join(host, 'proc/4242/task/4244/status'), 'Name:\tIO iothread1\nvoluntary_ctxt_switches:\tgarbage\n');
    // It ran since (schedstat moved), so its status is read again (a thread that did not run has the same one).
    writeFileSync(join(host, 'proc/4242/task/4244/schedstat'), '999999999999 1 999999\n');
    writeFileSync(join(host, 'proc/4242/task/5000/stat'), '5000 (worker S 1 2');
    const text = await live.scrape();
    assert.ok((value(text, 'qemu_exporter_errors_total', { source: 'procfs', reason: 'parse' }) ?? 0) >= 2);
    assert.equal(value(text, 'qemu_exporter_source_success', { source: 'procfs' }), 0);
    // Still counted, and no counter moved: the last good values stand.
    assert.equal(value(text, 'qemu_threads', { domain: 'vm1', role: 'worker' }), 6);
    assert.equal(value(text, 'qemu_thread_states', { domain: 'vm1', role: 'worker', state: 'other' }), 1);
    for (const [series, v] of samples(good)) {
      if (series.includes('_total{') && series.includes('domain="vm1"'))
        assert.equal(samples(text).get(series), v, series);
    }
  } finally {
    await live.stop();
  }
});

test('a thread that vanished between listing and reading is not an error', async () => {
  const live = await startExporter(roots());
  try {
    await live.scrape();
    rmSync(join(host, 'proc/4242/task/5005'), { recursive: true });
    const text = await live.scrape();
    assert.equal(value(text, 'qemu_threads', { domain: 'vm1', role: 'worker' }), 5);
    assert.equal(value(text, 'qemu_thread_exits_total', { domain: 'vm1', role: 'worker' }), 1);
  } finally {
    await live.stop();
  }
});

test('a VM whose process vanished mid-scrape disappears, the others stay', async () => {
  const live = await startExporter(roots());
  try {
    await live.scrape();
    rmSync(join(host, 'proc/18551'), { recursive: true });
    const text = await live.scrape();
    assert.ok(!text.includes('domain="labvm"'));
    assert.equal(value(text, 'qemu_threads', { domain: 'vm1', role: 'vcpu' }), 4);
  } finally {
    await live.stop();
  }
});

test('without privileges (nobody): EACCES on /proc/PID/io and the status file is logged once and counted; the rest is served', async () => {
  const unprivileged = host;
  for (const io of ['proc/4242/io', 'proc/18551/io', 'run/libvirt/qemu/labvm.xml'])
    chmodSync(join(unprivileged, io), 0o400);
  const cli = await startCli(
    [
      `--path.procfs=${unprivileged}/proc`,
      `--path.sysfs=${unprivileged}/sys`,
      `--path.rootfs=${unprivileged}/rootfs`,
      `--libvirt.status-dir=${unprivileged}/run/libvirt/qemu`,
    ],
    { prefix: [requireTool('setpriv'), '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--'] },
  );
  try {
    const text = await cli.scrape();
    await cli.scrape();
    const again = await cli.scrape();
    assert.equal(value(text, 'qemu_threads', { domain: 'vm1', role: 'worker' }), 6);
    assert.equal(value(text, 'qemu_process_read_bytes_total', { domain: 'vm1' }), undefined);
    assert.equal(value(again, 'qemu_exporter_source_success', { source: 'process_io' }), 0);
    assert.ok((value(again, 'qemu_exporter_errors_total', { source: 'process_io', reason: 'denied' }) ?? 0) >= 6);
    assert.ok((value(again, 'qemu_exporter_errors_total', { source: 'libvirt', reason: 'denied' }) ?? 0) >= 1);
    // labvm is still there, named from its command line.
    assert.equal(value(again, 'qemu_vm_info', { domain: 'labvm', source: 'cmdline' }), 1);
    const ioLines = cli.logs.filter((l) => l.includes('source=process_io'));
    assert.equal(ioLines.length, 1, `logged ${String(ioLines.length)} times:\n${ioLines.join('\n')}`);
    assert.match(ioLines[0]!, /CAP_SYS_PTRACE/);
  } finally {
    await cli.terminate();
  }
});
