/**
 * Least privilege, proven against a real libvirt-managed VM: the exporter runs as nobody with exactly
 * CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH and gets everything root gets; with no capability at all it still
 * serves the rest and says what is missing (a counted `denied` error per source, a log line naming the capabilities).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { startCli } from '../support/cli.js';
import { value } from '../support/exporter.js';
import { defineAndStart, destroy, stopLibvirt, type Domain } from '../support/libvirt.js';
import { assertBetween, processIo, statusVcpuTids, taskCpuSeconds, taskStatus } from '../support/proc-read.js';
import { blockDeviceOf } from '../support/real-qemu.js';
import { requireTool } from '../support/require-tool.js';

const NOBODY = 65534;
const CAP_DAC_READ_SEARCH = 2;
const CAP_SYS_PTRACE = 19;

/** setpriv: become nobody, keeping exactly `caps` (permitted, effective, inheritable, ambient and bounding). */
function asNobodyWith(caps: string[]): string[] {
  const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  return [
    requireTool('setpriv'),
    `--reuid=${String(NOBODY)}`,
    `--regid=${String(NOBODY)}`,
    '--clear-groups',
    `--inh-caps=${set}`,
    `--ambient-caps=${set}`,
    `--bounding-set=${set}`,
    '--',
  ];
}

/** The uid and effective capability mask of a running process. */
function identity(pid: number): { uid: number; capEff: bigint } {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  return {
    uid: Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]),
    capEff: BigInt(`0x${/^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1] ?? ''}`),
  };
}

let dom: Domain;
const name = `e2e-leastpriv-${String(process.pid)}`;

before(async () => {
  // Paused: its vCPU threads exist without burning a CPU.
  dom = await defineAndStart({ name, paused: true });
});
after(async () => {
  await destroy(name);
  await stopLibvirt();
});

test('as nobody with exactly CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: libvirt identity, process I/O, vCPU roles, no denial', async (t) => {
  const cli = await startCli([], { prefix: asNobodyWith(['sys_ptrace', 'dac_read_search']) });
  t.after(() => cli.terminate());
  assert.deepEqual(identity(cli.pid), {
    uid: NOBODY,
    capEff: (1n << BigInt(CAP_SYS_PTRACE)) | (1n << BigInt(CAP_DAC_READ_SEARCH)),
  });

  await cli.scrape(); // the first read of the status directory is before `ready`: let the watcher have its say
  const tids = statusVcpuTids(dom.statusPath);
  const direct = () => ({
    read: processIo(dom.pid, 'read_bytes'),
    written: processIo(dom.pid, 'write_bytes'),
    user: [0, 1].map((v) => taskCpuSeconds(dom.pid, tids.get(v)!).user),
  });
  const before = direct();
  const text = await cli.scrape();
  const after = direct();
  assert.equal(
    value(text, 'qemu_vm_info', { domain: name, uuid: dom.uuid, pid: String(dom.pid), source: 'libvirt' }),
    1,
  );
  assertBetween(
    before.read,
    value(text, 'qemu_process_read_bytes_total', { domain: name }),
    after.read,
    'process read bytes',
  );
  assertBetween(
    before.written,
    value(text, 'qemu_process_written_bytes_total', { domain: name }),
    after.written,
    'process written bytes',
  );
  assert.equal(value(text, 'qemu_threads', { domain: name, role: 'vcpu' }), 2);
  for (const vcpu of [0, 1])
    assertBetween(
      before.user[vcpu]!,
      value(text, 'qemu_vcpu_cpu_seconds_total', { domain: name, vcpu: String(vcpu), mode: 'user' }),
      after.user[vcpu]!,
      `vCPU ${String(vcpu)} user CPU`,
    );
  assert.equal(value(text, 'qemu_threads', { domain: name, role: 'iothread' }), 1);
  const dev = await blockDeviceOf(dom.diskPath);
  assert.ok(dev, 'the test image must live on a block-device-backed filesystem');
  assert.equal(value(text, 'qemu_disk_info', { domain: name, disk: 'sdc', host_device: dev }), 1);
  for (const source of ['procfs', 'process_io', 'cgroup', 'libvirt', 'disk_resolve', 'syscall']) {
    assert.equal(value(text, 'qemu_exporter_source_success', { source }), 1, `${source} read without problems`);
  }
  assert.equal(value(text, 'qemu_exporter_errors_total', { reason: 'denied' }), undefined, 'nothing denied');
  assert.ok(!cli.logs.some((l) => l.includes('reason=denied')), cli.logs.join('\n'));
});

test('as nobody without capabilities: everything else is served, and what is missing is counted and named', async (t) => {
  const cli = await startCli([], { prefix: asNobodyWith([]) });
  t.after(() => cli.terminate());
  assert.deepEqual(identity(cli.pid), { uid: NOBODY, capEff: 0n });

  await cli.scrape();
  const tids = [...statusVcpuTids(dom.statusPath).values()];
  const vcpuSwitches = () => tids.reduce((sum, tid) => sum + taskStatus(dom.pid, tid, 'voluntary_ctxt_switches'), 0);
  const before = vcpuSwitches();
  const text = await cli.scrape();
  const after = vcpuSwitches();
  // Named from its command line (libvirt passes -name guest=NAME,debug-threads=on), so its vCPUs are still told apart.
  assert.equal(value(text, 'qemu_vm_info', { domain: name, pid: String(dom.pid), source: 'cmdline' }), 1);
  assert.equal(value(text, 'qemu_threads', { domain: name, role: 'vcpu' }), 2);
  assertBetween(
    before,
    value(text, 'qemu_thread_context_switches_total', { domain: name, role: 'vcpu', kind: 'voluntary' }),
    after,
    'vCPU voluntary switches',
  );
  assert.equal(
    value(text, 'qemu_process_read_bytes_total', { domain: name }),
    undefined,
    'no process I/O without the capabilities',
  );

  assert.ok((value(text, 'qemu_exporter_errors_total', { source: 'process_io', reason: 'denied' }) ?? 0) >= 1);
  assert.ok((value(text, 'qemu_exporter_errors_total', { source: 'libvirt', reason: 'denied' }) ?? 0) >= 1);
  assert.equal(value(text, 'qemu_exporter_source_success', { source: 'process_io' }), 0);
  assert.equal(value(text, 'qemu_exporter_source_success', { source: 'libvirt' }), 0);
  assert.equal(value(text, 'qemu_exporter_source_success', { source: 'procfs' }), 1);
  // The system calls of QEMU's threads need ptrace access: explain falls back to what the configuration predicts.
  assert.equal(value(text, 'qemu_exporter_source_success', { source: 'syscall' }), 0);
  const said = (source: string, cap: RegExp) =>
    cli.logs.some((l) => l.includes(`source=${source}`) && l.includes('reason=denied') && cap.test(l));
  assert.ok(said('process_io', /CAP_SYS_PTRACE.*CAP_DAC_READ_SEARCH/), cli.logs.join('\n'));
  assert.ok(said('libvirt', /CAP_DAC_READ_SEARCH/), cli.logs.join('\n'));
  assert.ok(said('syscall', /CAP_SYS_PTRACE/), cli.logs.join('\n'));
});
