/**
 * `qemu-thread-exporter explain` and /api/v1/explain as an operator uses them: against a running exporter
 * (with basic auth), or reading the host directly; text and JSON; one domain or all; bad usage.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';
import type { ExplainReport } from '../../src/explain/report.js';
import { runCommand, startCli } from '../support/cli.js';
import { startExporter } from '../support/exporter.js';

const host1 = fileURLToPath(new URL('../fixtures/host1', import.meta.url));
const roots = {
  procfs: join(host1, 'proc'),
  sysfs: join(host1, 'sys'),
  rootfs: join(host1, 'rootfs'),
  libvirtStatusDir: join(host1, 'run/libvirt/qemu'),
};
const fixtureFlags = [
  `--path.procfs=${roots.procfs}`,
  `--path.sysfs=${roots.sysfs}`,
  `--path.rootfs=${roots.rootfs}`,
  `--libvirt.status-dir=${roots.libvirtStatusDir}`,
];

test('/api/v1/explain: every VM, or one domain; 404 for a domain that is not here', async () => {
  const { exporter, scrape, stop } = await startExporter(roots);
  try {
    await scrape();
    const all = await exporter.app.inject('/api/v1/explain');
    assert.equal(all.statusCode, 200);
    assert.match(all.headers['content-type'] as string, /^application\/json/);
    const report = all.json<ExplainReport>();
    assert.deepEqual(
      report.vms.map((v) => v.domain),
      ['labvm', 'vm1'],
    );
    assert.equal(report.windowSeconds, 300);
    assert.deepEqual(report.thresholds, {
      poolBusy: 8,
      waitRatio: 0.1,
      switchRate: 100,
      diskSleepRatio: 0.5,
      diskLatencyMs: 20,
    });
    const vm1 = report.vms[1]!;
    assert.equal(vm1.source, 'cmdline');
    assert.equal(vm1.threads.roles.worker?.at(-1), 6);
    assert.equal(vm1.threads.roles.vcpu?.at(-1), 4);

    const one = await exporter.app.inject('/api/v1/explain?domain=vm1');
    assert.deepEqual(
      one.json<ExplainReport>().vms.map((v) => v.domain),
      ['vm1'],
    );
    const none = await exporter.app.inject('/api/v1/explain?domain=nope');
    assert.equal(none.statusCode, 404);
    assert.deepEqual(none.json<ExplainReport>().vms, []);
    assert.equal((await exporter.app.inject('/api/v1/explain?domain=a&domain=b')).statusCode, 400);
    assert.equal((await exporter.app.inject({ method: 'POST', url: '/api/v1/explain' })).statusCode, 405);
  } finally {
    await stop();
  }
});

test('without scrapes, the exporter samples for explain on its own every --explain.interval', async () => {
  const { exporter, stop } = await startExporter(roots, ['--explain.interval=200ms']);
  try {
    await sleep(1100);
    const report = exporter.explainer.report();
    for (const vm of report.vms) assert.ok(vm.samples >= 3, `${vm.domain}: ${String(vm.samples)} samples after 1.1 s`);
    assert.ok(report.vms[0]!.seconds >= 0.3);
  } finally {
    await stop();
  }
});

test('explain --url asks a running exporter (basic auth from the URL), as text or JSON, for one VM or all', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'explain-'));
  const config = join(dir, 'web.yml');
  await writeFile(config, `basic_auth_users:\n  ops: ${bcrypt.hashSync('s3cret', 4)}\n`);
  const cli = await startCli([...fixtureFlags, `--web.config.file=${config}`, '--explain.interval=200ms']);
  try {
    await sleep(700);
    const url = cli.url.replace('http://', 'http://ops:s3cret@');
    const text = await runCommand(['explain', `--url=${url}`]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^labvm \(pid 18551, named by libvirt's status file; \d+ samples over [\d.]+ s\)$/m);
    assert.match(text.stdout, /^vm1 \(pid 4242, named by its command line;/m);
    assert.match(text.stdout, /INFO \[roles_inferred\] debug-threads is off/);

    const json = await runCommand(['explain', 'vm1', '--url', url, '--output=json']);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as ExplainReport;
    assert.deepEqual(
      report.vms.map((v) => v.domain),
      ['vm1'],
    );

    const missing = await runCommand(['explain', 'nope', `--url=${url}`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no QEMU VM named "nope"/);
    const unauthorized = await runCommand(['explain', `--url=${cli.url}`]);
    assert.equal(unauthorized.code, 1);
    assert.match(unauthorized.stderr, /401.*user:password@/);
  } finally {
    await cli.terminate();
    await rm(dir, { recursive: true, force: true });
  }
  const down = await runCommand(['explain', `--url=${cli.url}`]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+/);
});

test('explain without --url watches this host (here: the fixture tree) for --duration', async () => {
  const t0 = Date.now();
  const r = await runCommand(['explain', 'vm1', '--duration=2s', '--output=json', ...fixtureFlags]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Date.now() - t0 >= 2000);
  const vm = (JSON.parse(r.stdout) as ExplainReport).vms[0]!;
  assert.equal(vm.domain, 'vm1');
  assert.ok(vm.samples >= 3 && vm.seconds >= 1.9, `${String(vm.samples)} samples over ${String(vm.seconds)} s`);
});

test('explain: bad usage exits 2 with one line', async () => {
  for (const args of [
    ['--output=yaml'],
    ['a', 'b'],
    ['--duration=0s'],
    ['--nope'],
    ['--url=not a url'],
    ['--explain.wait-ratio=2'],
  ]) {
    const r = await runCommand(['explain', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const help = await runCommand(['explain', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--url=URL/);
});
