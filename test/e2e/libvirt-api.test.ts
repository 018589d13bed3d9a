/**
 * End to end, QEMU's own view of a disk through libvirt's API: a real libvirtd runs the lab's guest (direct kernel
 * boot, TCG) while it runs fio, and the exporter reads the domain's block statistics over libvirt's read-only socket.
 * They grow with the guest's reads and match `virsh -r domstats --block`; libvirtd stopped and started again mid-run
 * costs nothing but a stale answer; a suspended domain holds up no scrape.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildGuest, LAB_CACHE } from '../lab/guest-image.js';
import { startCli, type Cli } from '../support/cli.js';
import { value } from '../support/exporter.js';
import { defineFromXml, destroy, ensureLibvirt, stopLibvirt, virsh } from '../support/libvirt.js';
import { createRawImage } from '../support/real-qemu.js';
import { requireTool } from '../support/require-tool.js';

const name = `e2e-api-${String(process.pid)}`;
const disk = `${LAB_CACHE}/${name}.raw`;
const consolePath = `${LAB_CACHE}/${name}.console`;
let cli: Cli;
let serial: Socket | undefined;
const lines: string[] = [];

/** The lab's guest as a libvirt domain: its kernel and initramfs booted directly, fio on a virtio-scsi disk `sda`. */
function guestXml(kernel: string, initrd: string): string {
  return `<domain type='qemu'>
  <name>${name}</name><uuid>${randomUUID()}</uuid>
  <memory unit='MiB'>512</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type><kernel>${kernel}</kernel><initrd>${initrd}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 lab.runtime=25 lab.iodepths=8</cmdline></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>${requireTool('qemu-system-x86_64')}</emulator>
    <controller type='scsi' index='0' model='virtio-scsi'/>
    <disk type='file' device='disk'><driver name='qemu' type='raw' cache='none' io='threads'/>
      <source file='${disk}'/><target dev='sda' bus='scsi'/></disk>
    <serial type='unix'><source mode='bind' path='${consolePath}'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

/** `block.0.rd.reqs` of the domain as `virsh -r domstats --block` says it. */
async function virshReads(): Promise<number> {
  const out = await virsh('-r', 'domstats', '--block', name);
  return Number(/block\.0\.rd\.reqs=(\d+)/.exec(out)?.[1] ?? NaN);
}

const reads = (text: string) => value(text, 'qemu_disk_guest_reads_completed_total', { domain: name, disk: 'sda' });
const apiOk = (text: string) => value(text, 'qemu_exporter_source_success', { source: 'libvirt_api' });

async function until(what: string, ms: number, ok: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; console:\n${lines.slice(-20).join('\n')}`);
    await sleep(200);
  }
}

before(async () => {
  const guest = await buildGuest();
  await createRawImage(disk, 64);
  await ensureLibvirt();
  await destroy(name);
  await rm(consolePath, { force: true });
  await defineFromXml(guestXml(guest.kernel, guest.initrd));
  await virsh('start', name);
  await until('the console socket', 10_000, async () => {
    try {
      serial = await new Promise<Socket>((resolve, reject) => {
        const s = createConnection(consolePath, () => {
          resolve(s);
        }).on('error', reject);
      });
      return true;
    } catch {
      return false;
    }
  });
  const port = serial;
  if (!port) throw new Error('no console socket');
  createInterface({ input: port }).on('line', (l) => lines.push(l.replace(/\r$/, '')));
  await until('the guest to boot', 180_000, () => lines.includes('LAB ready'));
  port.write('go\n');
  await until('fio to start', 30_000, () => lines.includes('LAB iodepth=8 start'));
  cli = await startCli();
});
after(async () => {
  serial?.destroy();
  await (cli as Cli | undefined)?.terminate();
  await destroy(name);
  await rm(disk, { force: true });
  await stopLibvirt();
});

test("the guest's reads, counted by QEMU, through libvirt's API: they grow, and match virsh domstats", async () => {
  await cli.scrape(); // the first may share the read the exporter took at its start
  const before = await virshReads();
  const first = await cli.scrape();
  const after1 = await virshReads();
  assert.equal(apiOk(first), 1);
  const r1 = reads(first);
  assert.ok(
    r1 !== undefined && r1 >= before && r1 <= after1,
    `exporter ${String(r1)} not within virsh's ${String(before)}…${String(after1)}`,
  );
  await sleep(3000);
  const second = await cli.scrape();
  const r2 = reads(second)!;
  // fio at iodepth 8 on an unthrottled raw file: hundreds of reads a second even under TCG.
  assert.ok(r2 - r1 > 100, `only ${String(r2 - r1)} reads in 3 s`);
  const latency = (value(second, 'qemu_disk_guest_read_time_seconds_total', { domain: name, disk: 'sda' }) ?? 0) / r2;
  assert.ok(latency > 0 && latency < 1, `time per read ${String(latency)} s`);
  assert.equal(value(second, 'qemu_disk_guest_stats_age_seconds', { domain: name }), 0);
});

test('libvirtd stopped and started again: a stale answer meanwhile, then fresh ones; no counter goes down', async () => {
  const before = reads(await cli.scrape())!;
  await stopLibvirt();
  const down = await cli.scrape();
  assert.equal(apiOk(down), 0, 'the source says libvirt did not answer');
  assert.ok((reads(down) ?? -1) >= before, 'served from its last answer');
  await sleep(1100);
  assert.ok(
    (value(await cli.scrape(), 'qemu_disk_guest_stats_age_seconds', { domain: name }) ?? 0) >= 1,
    'marked stale by its age',
  );
  await ensureLibvirt();
  let text = '';
  await until(
    'the exporter to reconnect',
    40_000,
    async () => apiOk((text = await cli.scrape())) === 1 && reads(text) !== undefined,
  );
  assert.ok(reads(text)! >= before);
  assert.equal(value(text, 'qemu_disk_guest_stats_age_seconds', { domain: name }), 0);
});

test('a suspended domain holds up no scrape', async () => {
  await virsh('suspend', name);
  try {
    const t0 = Date.now();
    const text = await cli.scrape();
    assert.ok(Date.now() - t0 < 2000, `a scrape took ${String(Date.now() - t0)} ms`);
    assert.ok(reads(text) !== undefined);
  } finally {
    await virsh('resume', name);
  }
});
