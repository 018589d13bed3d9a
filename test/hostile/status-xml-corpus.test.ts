/**
 * A corpus of hostile libvirt status files — entity expansion, external entities, a 100 MB file, a file cut
 * mid-element, a wrong root, a FIFO, a link to /dev/zero — against the parser and against the running exporter's
 * status-directory watcher: each is refused with a clear log line and a counted error, without reading a huge file,
 * and the other domains keep their libvirt identity.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  cpSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ParseError } from '../../src/host/parse-error.js';
import { parseLibvirtStatus } from '../../src/host/libvirt/status-xml.js';
import { startCli, type Cli } from '../support/cli.js';
import { value } from '../support/exporter.js';
import { run } from '../support/require-tool.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/host1', import.meta.url));
const GOOD = readFileSync(join(FIXTURE, 'run/libvirt/qemu/labvm.xml'), 'utf8');
const withDoctype = (doctype: string, body: string) => `<?xml version="1.0"?>\n${doctype}\n${body}`;
const domain = (name: string) =>
  `<domstatus state='running' pid='1'><domain type='kvm'><name>${name}</name><uuid>u</uuid></domain></domstatus>`;

/** File name → contents; every one is refused. */
const CORPUS: Record<string, string> = {
  'billion-laughs': withDoctype(
    `<!DOCTYPE domstatus [<!ENTITY lol "lol">${Array.from(
      { length: 9 },
      (_, i) => `<!ENTITY lol${String(i + 1)} "${`&lol${i === 0 ? '' : String(i)};`.repeat(10)}">`,
    ).join('')}]>`,
    domain('&lol9;'),
  ),
  'quadratic-blowup': withDoctype(
    `<!DOCTYPE domstatus [<!ENTITY a "${'a'.repeat(50_000)}">]>`,
    domain('&a;'.repeat(50_000)),
  ),
  'external-entity': withDoctype('<!DOCTYPE domstatus [<!ENTITY xxe SYSTEM "file:///etc/shadow">]>', domain('&xxe;')),
  'external-dtd': withDoctype('<!DOCTYPE domstatus SYSTEM "http://127.0.0.1:9/evil.dtd">', domain('x')),
  'parameter-entity': withDoctype('<!DOCTYPE domstatus [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>', domain('x')),
  'cut-mid-element': GOOD.slice(0, GOOD.indexOf("<vcpu id='1'") + 8),
  'cut-mid-attribute': GOOD.slice(0, GOOD.indexOf("pid='") + 7),
  'wrong-root': '<network><name>default</name><uuid>u</uuid></network>',
  'two-roots': domain('a') + domain('b'),
  empty: '',
  'deeply-nested': `<domstatus pid='1'><domain><name>x</name><uuid>u</uuid>${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}</domain></domstatus>`,
  'absurd-iothreads': '<domain><name>x</name><uuid>u</uuid><iothreads>999999999999</iothreads></domain>',
  'nul-byte': domain('a\0b'),
  'nul-reference': domain('a&#0;b'),
  'negative-pid': GOOD.replace("pid='18551'", "pid='-1'"),
  'giant-pid': GOOD.replace("pid='18551'", "pid='18446744073709551616'"),
};

describe('hostile status XML: the parser', () => {
  for (const [name, xml] of Object.entries(CORPUS)) {
    test(`${name}: a ParseError`, () => {
      const t0 = performance.now();
      assert.throws(() => parseLibvirtStatus(xml), ParseError);
      const ms = performance.now() - t0;
      if (ms > 100) console.log(`${name}: refused in ${ms.toFixed(0)} ms`);
    });
  }
});

/** Bytes the process has read through read(2) so far (page cache and sparse files included). */
function bytesRead(pid: number): number {
  return Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${String(pid)}/io`, 'utf8'))?.[1]);
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('hostile status XML: the running exporter', () => {
  test('every hostile file is refused, logged and counted; a 100 MB file is not read; labvm keeps its libvirt identity', async (t) => {
    const host = mkdtempSync(join(tmpdir(), 'qte-hostile-xml-'));
    chmodSync(host, 0o755);
    cpSync(FIXTURE, host, { recursive: true, verbatimSymlinks: true });
    const dir = join(host, 'run/libvirt/qemu');
    const removeHost = () => {
      rmSync(host, { recursive: true, force: true });
    };
    const cli: Cli = await startCli([
      `--path.procfs=${host}/proc`,
      `--path.sysfs=${host}/sys`,
      `--path.rootfs=${host}/rootfs`,
      `--libvirt.status-dir=${dir}`,
    ]).catch((err: unknown) => {
      removeHost();
      throw err;
    });
    t.after(async () => {
      await cli.terminate(); // before its directory goes
      removeHost();
    });
    const before = await cli.scrape();
    assert.equal(value(before, 'qemu_vm_info', { domain: 'labvm', source: 'libvirt' }), 1);
    assert.equal(value(before, 'qemu_exporter_source_success', { source: 'libvirt' }), 1);
    const read0 = bytesRead(cli.pid);

    const files = Object.keys(CORPUS).map((name) => `${name}.xml`);
    for (const [name, xml] of Object.entries(CORPUS)) writeFileSync(join(dir, `${name}.xml`), xml);
    writeFileSync(join(dir, 'hundred-mb.xml'), '<domstatus>');
    truncateSync(join(dir, 'hundred-mb.xml'), 100 << 20); // sparse: 100 MB that cost nothing to make
    await run('mkfifo', [join(dir, 'fifo.xml')]);
    symlinkSync('/dev/zero', join(dir, 'zero.xml'));
    files.push('hundred-mb.xml', 'fifo.xml', 'zero.xml');

    const logged = (file: string) => cli.logs.some((l) => l.includes('source=libvirt') && l.includes(`/${file}`));
    await until('a log line for every hostile file', () => files.every(logged));
    const text = await cli.scrape();
    const errors = ['parse', 'io'].reduce(
      (sum, reason) => sum + (value(text, 'qemu_exporter_errors_total', { source: 'libvirt', reason }) ?? 0),
      0,
    );
    assert.ok(
      errors >= files.length,
      `${String(errors)} libvirt errors counted for ${String(files.length)} hostile files`,
    );
    assert.equal(value(text, 'qemu_exporter_source_success', { source: 'libvirt' }), 0);
    assert.equal(
      value(text, 'qemu_vm_info', { domain: 'labvm', source: 'libvirt', pid: '18551' }),
      1,
      'the good domain keeps its identity',
    );
    assert.equal(value(text, 'qemu_threads', { domain: 'labvm', role: 'vcpu' }), 2);
    assert.ok(
      cli.logs.some((l) => l.includes('/hundred-mb.xml') && l.includes('larger than')),
      'the 100 MB file is named as too big',
    );
    const read = bytesRead(cli.pid) - read0;
    assert.ok(read < 16 << 20, `read ${String(read)} bytes: the 100 MB file must be refused without reading it`);

    for (const file of files) unlinkSync(join(dir, file));
    await until(
      'libvirt healthy again once the hostile files are gone',
      async () => value(await cli.scrape(), 'qemu_exporter_source_success', { source: 'libvirt' }) === 1,
    );
  });
});
