/**
 * Least privilege, proven against a real libvirt-managed VM: the exporter runs as nobody with exactly
 * CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH and gets everything root gets; with no capability at all it still
 * serves the rest and says what is missing (a counted `denied` error per source, a log line naming the capabilities).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { startCli, type Cli } from '../support/cli.js';
import { value } from '../support/exporter.js';
import { defineAndStart, destroy, stopLibvirt, type Domain } from '../support/libvirt.js';
import { blockDeviceOf } from '../support/real-qemu.js';
import { requireTool } from '../support/require-tool.js';

const NOBODY = 65534;
const CAP_DAC_READ_SEARCH = 2;
const CAP_SYS_PTRACE = 19;

/** setpriv: become nobody, keeping exactly `caps` (permitted, effective, inheritable, ambient and bounding). */
function asNobodyWith(caps: string[]): string[] {
  const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  return [requireTool('setpriv'), `--reuid=${String(NOBODY)}`, `--regid=${String(NOBODY)}`, '--clear-groups',
    `--inh-caps=${set}`, `--ambient-caps=${set}`, `--bounding-set=${set}`, '--'];
}

/** The uid and effective capability mask of a running process. */
function identity(pid: number): { uid: number; capEff: bigint } {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  return { uid: Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]), capEff: BigInt(`0x${/^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1] ?? ''}`) };
}

/** Scrapes until the libvirt watcher has had its say (the first read of the status directory is before `ready`). */
async function scrapeTwice(cli: Cli): Promise<string> {
  await cli.scrape();
  return cli.scrape();
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
  assert.deepEqual(identity(cli.pid), { uid: NOBODY, capEff: (1n << BigInt(CAP_SYS_PTRACE)) | (1n << BigInt(CAP_DAC_READ_SEARCH)) });

  const text = await scrapeTwice(cli);
  assert.equal(value(text, 'qemu_vm_info', { domain: name, uuid: dom.uuid, pid: String(dom.pid), source: 'libvirt' }), 1);
  assert.ok(value(text, 'qemu_process_read_bytes_total', { domain: name }) !== undefined, 'process I/O is read');
  assert.ok(value(text, 'qemu_process_written_bytes_total', { domain: name }) !== undefined);
  assert.equal(value(text, 'qemu_threads', { domain: name, role: 'vcpu' }), 2);
  for (const vcpu of ['0', '1']) assert.ok(value(text, 'qemu_vcpu_cpu_seconds_total', { domain: name, vcpu, mode: 'user' }) !== undefined);
  assert.equal(value(text, 'qemu_threads', { domain: name, role: 'iothread' }), 1);
  assert.equal(value(text, 'qemu_disk_info', { domain: name, disk: 'sdc', host_device: (await blockDeviceOf(dom.diskPath)) ?? '' }), 1);
  for (const source of ['procfs', 'process_io', 'cgroup', 'libvirt', 'disk_resolve']) {
    assert.equal(value(text, 'qemu_exporter_source_success', { source }), 1, `${source} read without problems`);
  }
  assert.equal(value(text, 'qemu_exporter_errors_total', { reason: 'denied' }), undefined, 'nothing denied');
  assert.ok(!cli.logs.some((l) => l.includes('reason=denied')), cli.logs.join('\n'));
});

test('as nobody without capabilities: everything else is served, and what is missing is counted and named', async (t) => {
  const cli = await startCli([], { prefix: asNobodyWith([]) });
  t.after(() => cli.terminate());
  assert.deepEqual(identity(cli.pid), { uid: NOBODY, capEff: 0n });

  const text = await scrapeTwice(cli);
  // Named from its command line (libvirt passes -name guest=NAME,debug-threads=on), so its vCPUs are still told apart.
  assert.equal(value(text, 'qemu_vm_info', { domain: name, pid: String(dom.pid), source: 'cmdline' }), 1);
  assert.equal(value(text, 'qemu_threads', { domain: name, role: 'vcpu' }), 2);
  assert.ok(value(text, 'qemu_thread_context_switches_total', { domain: name, role: 'vcpu', kind: 'voluntary' }) !== undefined);
  assert.equal(value(text, 'qemu_process_read_bytes_total', { domain: name }), undefined, 'no process I/O without the capabilities');

  assert.ok((value(text, 'qemu_exporter_errors_total', { source: 'process_io', reason: 'denied' }) ?? 0) >= 1);
  assert.ok((value(text, 'qemu_exporter_errors_total', { source: 'libvirt', reason: 'denied' }) ?? 0) >= 1);
  assert.equal(value(text, 'qemu_exporter_source_success', { source: 'process_io' }), 0);
  assert.equal(value(text, 'qemu_exporter_source_success', { source: 'libvirt' }), 0);
  assert.equal(value(text, 'qemu_exporter_source_success', { source: 'procfs' }), 1);
  const said = (source: string, cap: RegExp) => cli.logs.some((l) => l.includes(`source=${source}`) && l.includes('reason=denied') && cap.test(l));
  assert.ok(said('process_io', /CAP_SYS_PTRACE.*CAP_DAC_READ_SEARCH/), cli.logs.join('\n'));
  assert.ok(said('libvirt', /CAP_DAC_READ_SEARCH/), cli.logs.join('\n'));
});
