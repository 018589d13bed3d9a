import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { HostFs } from '../../src/host/host-fs.js';
import { LibvirtStatusDir } from '../../src/host/libvirt/status-dir.js';
import { Problems } from '../../src/host/problems.js';

const sample = readFileSync(
  new URL('../fixtures/samples/libvirt-9.0-kvm/run-libvirt-qemu-labvm.status.xml', import.meta.url),
  'utf8',
);
const withPid = (pid: number) => sample.replace("pid='18551'", `pid='${String(pid)}'`);

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function setup(dir: string, rescanMs = 200) {
  const problems = new Problems(pino({ level: process.env.TEST_LOG ?? 'silent' }));
  const fs = new HostFs({ procfs: '/proc', sysfs: '/sys', rootfs: '/', libvirtStatusDir: dir });
  return { problems, watcher: new LibvirtStatusDir(fs, problems, rescanMs) };
}

/** libvirt writes a new file and renames it over the old one. */
function write(dir: string, name: string, text: string): void {
  writeFileSync(join(dir, `.${name}.new`), text);
  renameSync(join(dir, `.${name}.new`), join(dir, name));
}

const errors = (p: Problems, reason: string) =>
  [...p.totals()].find((e) => e.source === 'libvirt' && e.reason === reason)?.n ?? 0;

test('status files: add, change, half-written (keeps the last good), unlink', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qte-status-'));
  write(dir, 'labvm.xml', withPid(100));
  writeFileSync(join(dir, 'labvm.pid'), '100');
  const { problems, watcher } = setup(dir);
  try {
    await watcher.start();
    assert.equal(watcher.domainsByPid().get(100)?.name, 'labvm');
    assert.deepEqual(
      [...watcher.domainsByPid().get(100)!.vcpuTids],
      [
        [18558, 0],
        [18559, 1],
      ],
    );

    write(dir, 'labvm.xml', withPid(200));
    await until('the change', () => watcher.domainsByPid().has(200));

    writeFileSync(join(dir, 'labvm.xml'), withPid(300).slice(0, 4000)); // cut mid-element
    await until('the parse error', () => errors(problems, 'parse') > 0);
    await watcher.settled();
    assert.equal(watcher.domainsByPid().get(200)?.name, 'labvm', 'the last good version is kept');
    assert.equal(watcher.healthy(), false);

    write(dir, 'labvm.xml', withPid(300));
    await until('the repaired file', () => watcher.domainsByPid().has(300));
    assert.equal(watcher.healthy(), true);

    rmSync(join(dir, 'labvm.xml'));
    await until('the unlink', () => watcher.domainsByPid().size === 0);
  } finally {
    await watcher.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a status directory that appears after the exporter started (libvirtd started later) is watched', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'qte-status-'));
  const dir = join(parent, 'qemu');
  const { watcher } = setup(dir);
  try {
    await watcher.start();
    assert.equal(watcher.domainsByPid().size, 0);
    mkdirSync(dir);
    await sleep(300);
    write(dir, 'labvm.xml', withPid(100));
    await until('the domain in the new directory', () => watcher.domainsByPid().has(100));
  } finally {
    await watcher.stop();
    rmSync(parent, { recursive: true, force: true });
  }
});
