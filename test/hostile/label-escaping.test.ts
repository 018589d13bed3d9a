/**
 * Domain names with quotes, backslashes, newlines and bytes that are not UTF-8 — from a QEMU argv (any local user can
 * start one) and from a libvirt status file — reach /metrics escaped exactly as the text format says, and the body
 * stays valid UTF-8: checked by a strict reader of the format and by `promtool check metrics`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { startCli } from '../support/cli.js';
import { parseExposition, promtoolComplaint } from '../support/exposition.js';
import { fakeQemuBinary } from '../support/fake-qemu.js';
import { requireTool } from '../support/require-tool.js';

/**
 * A fake QEMU whose `-name` argument is the bytes printf(1) makes of `format` (`\377` is byte 0xFF: no JS string can
 * carry it into argv). Resolves once it is ready; `stop()` kills it.
 */
async function fakeQemuNamed(format: string): Promise<{ pid: number; stop: () => Promise<void> }> {
  const child = spawn(
    requireTool('sh'),
    ['-c', 'exec "$0" -name "$(printf "$1")" -smp 1', await fakeQemuBinary(), format],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const exited = once(child, 'exit');
  const [first] = (await Promise.race([
    once(createInterface({ input: child.stdout }), 'line'),
    exited.then(() => ['exited']),
  ])) as [string];
  assert.equal(first, 'ready');
  return {
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

const xmlEscape = (s: string): string => s.replace(/[&<>'"\n]/g, (c) => `&#${String(c.charCodeAt(0))};`);

test('hostile domain names are escaped in /metrics, and the body stays valid UTF-8', async (t) => {
  const statusDir = mkdtempSync(join(tmpdir(), 'qte-labels-'));
  const stops: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const stop of stops.reverse()) await stop(); // the exporter first, then the VMs, then their status files
    rmSync(statusDir, { recursive: true, force: true });
  });
  // guest=q"b\s<newline>nl<0xFF>x}={,y : every character the text format must escape, and one invalid UTF-8 byte.
  const fromArgv = await fakeQemuNamed('guest=q"b\\\\s\\nnl\\377x}={,,y,debug-threads=on');
  stops.push(fromArgv.stop);
  const fromLibvirt = await fakeQemuNamed('guest=plain-name');
  stops.push(fromLibvirt.stop);

  const libvirtName = 'lv "quoted" \\back\\slash\nnew line \u202e\u00e9';
  writeFileSync(
    join(statusDir, 'lv.xml'),
    `<domstatus state='running' pid='${String(fromLibvirt.pid)}'>
  <domain type='kvm'><name>${xmlEscape(libvirtName)}</name><uuid>5a1b0e7e-1ab0-4a11-b0c5-00000000e5c0</uuid></domain>
</domstatus>
`,
  );

  const cli = await startCli([`--libvirt.status-dir=${statusDir}`]);
  stops.push(() => cli.terminate());
  const res = await fetch(`${cli.url}/metrics`);
  assert.equal(res.status, 200);
  const body = new Uint8Array(await res.arrayBuffer());

  const samples = parseExposition(body);
  const info = (pid: number) =>
    samples.find((s) => s.name === 'qemu_vm_info' && s.labels['pid'] === String(pid))?.labels;
  // The invalid byte reads as U+FFFD, as everywhere else the exporter decodes /proc text.
  const none = {
    vmid: '',
    nova_name: '',
    nova_project: '',
    nova_flavor: '',
    kubevirt_namespace: '',
    kubevirt_name: '',
  };
  assert.deepEqual(info(fromArgv.pid), {
    domain: 'q"b\\s\nnl\uFFFDx}={,y',
    uuid: '',
    pid: String(fromArgv.pid),
    source: 'cmdline',
    ...none,
  });
  assert.deepEqual(info(fromLibvirt.pid), {
    domain: libvirtName,
    uuid: '5a1b0e7e-1ab0-4a11-b0c5-00000000e5c0',
    pid: String(fromLibvirt.pid),
    source: 'libvirt',
    ...none,
  });
  assert.ok(
    samples.some((s) => s.name === 'qemu_threads' && s.labels['domain'] === libvirtName && s.labels['role'] === 'vcpu'),
  );
  assert.equal(promtoolComplaint(body), '');
});

test('the strict reader refuses what the format forbids (so the check above means something)', () => {
  const bad = [
    Buffer.from('a{x="\\q"} 1\n'), // unknown escape
    Buffer.from('a{x="a\nb"} 1\n'), // raw newline in a value
    Buffer.from('a{x="a"b"} 1\n'), // raw quote
    Buffer.from([0x61, 0x7b, 0x78, 0x3d, 0x22, 0xff, 0x22, 0x7d, 0x20, 0x31, 0x0a]), // a{x="<FF>"} 1: not UTF-8
    Buffer.from('a 1\na 2\n'), // the same series twice
    Buffer.from('a 1\n# TYPE a gauge\n'), // TYPE after the samples
    Buffer.from('a{x="1",x="2"} 1\n'), // a label twice
    Buffer.from('a one\n'),
    Buffer.from('a 1'), // no final newline
  ];
  for (const body of bad) {
    assert.throws(() => parseExposition(body), Error, JSON.stringify(body.toString('latin1')));
    assert.notEqual(promtoolComplaint(body), '', JSON.stringify(body.toString('latin1')));
  }
  assert.deepEqual(parseExposition(Buffer.from('# HELP a h\\\\x\\n\n# TYPE a gauge\na{x="q\\"b\\\\s\\nn"} 1\n\n')), [
    { name: 'a', labels: { x: 'q"b\\s\nn' }, value: 1 },
  ]);
});
