/**
 * The syscall observer on the real /proc: a QEMU-like process (fake-qemu.c) whose pool workers block in known
 * system calls on its disks: read on a FIFO, and pread, ioctl(SG_IO) and fsync on files of a FUSE filesystem
 * that stopped answering (bindfs, SIGSTOP). (pread on a FIFO fails at once with ESPIPE: the FUSE file is what
 * makes a pread wait.) Each worker must be counted under its system call and its disk; the idle ones wait for
 * work in futex. Needs root (a FUSE mount).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fuseDir, type FuseDir } from './lab/fuse-disk.js';
import { HOST_ROOTS, startExporter, value } from './support/exporter.js';
import { startFakeQemu, type FakeQemu } from './support/fake-qemu.js';
import { run } from './support/require-tool.js';

const domain = `live-syscalls-${String(process.pid)}`;
const IDLE_WORKERS = 8;
/** Disk name → what its workers do on it, and how many. */
const BLOCKED = { fifo0: ['read', 2], pread0: ['pread', 3], lun0: ['ioctl', 1], flush0: ['fsync', 2] } as const;

let dir: string;
let fuse: FuseDir | undefined;
let vm: FakeQemu | undefined;
let live: Awaited<ReturnType<typeof startExporter>> | undefined;
const paths: Record<keyof typeof BLOCKED, string> = { fifo0: '', pread0: '', lun0: '', flush0: '' };

before(async () => {
  assert.equal(process.getuid?.(), 0, 'this test needs root: a FUSE mount');
  dir = await mkdtemp(`${tmpdir()}/qte-syscalls-`);
  fuse = await fuseDir(dir);
  paths.fifo0 = `${dir}/fifo`;
  await run('mkfifo', [paths.fifo0]);
  for (const disk of ['pread0', 'lun0', 'flush0'] as const) {
    // Written behind bindfs's back: FUSE's page cache has none of it, so a read must ask bindfs.
    await writeFile(`${fuse.back}/${disk}.raw`, Buffer.alloc(1 << 20, 1));
    paths[disk] = `${fuse.mnt}/${disk}.raw`;
  }
  const drives = Object.entries(paths).flatMap(([disk, file]) => [
    '-drive',
    `file=${file},format=raw,if=none,id=drive-${disk}`,
    '-device',
    `virtio-blk-pci,drive=drive-${disk},id=${disk}`,
  ]);
  vm = await startFakeQemu({ name: domain, workers: IDLE_WORKERS, tickMs: 600_000, extraArgs: drives });
  const fds = new Map<string, string>();
  for (const [disk, file] of Object.entries(paths)) {
    const answer = await vm.send(`open ${file}`);
    assert.match(answer, /^ok \d+$/, `open ${file}`);
    fds.set(disk, answer.slice(3));
  }
  live = await startExporter(HOST_ROOTS, ['--explain.interval=100ms', '--explain.window=10s']);
  await live.scrape();
  await fuse.freeze();
  for (const [disk, [call, n]] of Object.entries(BLOCKED))
    assert.equal(await vm.send(`block ${call} ${fds.get(disk)!} ${String(n)}`), `ok ${String(n)}`);
});

after(async () => {
  await live?.stop();
  fuse?.thaw(); // the FUSE calls return, so the fake can end
  await vm?.stop();
  await fuse?.remove();
  await rm(dir, { recursive: true, force: true });
});

const inSyscall = (text: string, syscall: string, disk: string) =>
  value(text, 'qemu_threads_in_syscall', { domain, role: 'worker', syscall, disk });

test('pool workers blocked in read, pread, ioctl(SG_IO) and fsync are each counted under their system call and disk', async () => {
  const want: [string, string, number][] = [
    ['read', 'fifo0', 2],
    ['read', 'pread0', 3],
    ['ioctl_sg_io', 'lun0', 1],
    ['flush', 'flush0', 2],
  ];
  let text = '';
  for (let tries = 0; tries < 50; tries++) {
    text = await live!.scrape();
    if (want.every(([s, d, n]) => inSyscall(text, s, d) === n)) break;
    await sleep(100);
  }
  for (const [syscall, disk, n] of want) assert.equal(inSyscall(text, syscall, disk), n, `${syscall} on ${disk}`);
  // The pool's idle workers wait for work on their condition variable: futex, on no disk.
  assert.equal(inSyscall(text, 'futex', ''), IDLE_WORKERS);
  assert.equal(value(text, 'qemu_exporter_source_success', { source: 'syscall' }), 1);
  // Only the busy VM's workers are looked at: its vCPUs and main loop are not in disk sleep, so they have no series.
  assert.equal(value(text, 'qemu_threads_in_syscall', { domain, role: 'vcpu' }), undefined);

  const report = live!.exporter.explainer.report(domain);
  const pool = report.vms[0]?.findings.find((f) => f.id === 'worker_pool');
  assert.ok(pool, JSON.stringify(report.vms[0]?.findings.map((f) => f.id)));
  console.log(pool.summary);
  assert.match(pool.summary, /1 in ioctl\(SG_IO\) on \S+lun0\.raw \(disk lun0\)/);
});
