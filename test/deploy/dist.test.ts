/**
 * `npm run dist`: the single executable, run in a Debian 12 root with no Node.js (--version, the fixture host's
 * golden /metrics, explain), and the .deb and .rpm installed into such a root (files, the unit as systemd judges
 * it, removal), the .deb as lintian judges it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { access, readFile, stat, writeFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runCommand, startCli } from '../support/cli.js';
import { value } from '../support/exporter.js';
import { GOLDEN, HOST1, host1Flags, ourSeries } from '../support/golden.js';
import { requireTool, run } from '../support/require-tool.js';
import { debianRoot, tool, type Root } from './dist-root.js';
import { exposure, systemdAnalyze } from './systemd-analyze.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string };
const EXECUTABLE = `${ROOT}dist/qemu-thread-exporter-linux-x64`;
const DEB = `${ROOT}dist/qemu-thread-exporter_${pkg.version}_amd64.deb`;
const RPM = `${ROOT}dist/qemu-thread-exporter-${pkg.version}-1.x86_64.rpm`;
const UNIT = '/usr/lib/systemd/system/qemu-thread-exporter.service';
/** What both packages install (the .deb adds its lintian overrides). */
const FILES = [
  '/etc/default/qemu-thread-exporter',
  '/usr/bin/qemu-thread-exporter',
  UNIT,
  '/usr/share/doc/qemu-thread-exporter/THIRD-PARTY-NOTICES.gz',
  '/usr/share/doc/qemu-thread-exporter/changelog.gz',
  '/usr/share/doc/qemu-thread-exporter/copyright',
  '/usr/share/man/man1/qemu-thread-exporter.1.gz',
  '/usr/share/qemu-thread-exporter/dashboards/host-overview.json',
  '/usr/share/qemu-thread-exporter/dashboards/vm-detail.json',
  '/usr/share/qemu-thread-exporter/rules/rules.yml',
];
const execFileAsync = promisify(execFile);
const roots: Root[] = [];
let revision: string;

const mb = async (path: string) => `${((await stat(path)).size / 1e6).toFixed(1)} MB`;
const exists = (path: string) => access(path).then(() => true, () => false);

before(async () => {
  // The build's tools, so a missing one fails here with its Debian package's name.
  for (const t of ['strip', 'dpkg-deb', 'dpkg-shlibdeps', 'rpmbuild', 'rpm', 'lintian', 'chroot']) requireTool(t);
  revision = (await run('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']).catch(() => 'unknown')).trim();
  const t0 = Date.now();
  const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', `${ROOT}build/dist.ts`], {
    cwd: ROOT, encoding: 'utf8', timeout: 600_000,
  });
  console.log(`${stdout}npm run dist: ${String((Date.now() - t0) / 1000)} s`);
  console.log(`sizes: executable ${await mb(EXECUTABLE)}, .deb ${await mb(DEB)}, .rpm ${await mb(RPM)}`);
});

after(async () => {
  for (const r of roots) await r.remove();
});

async function root(label: string): Promise<Root> {
  const r = await debianRoot(label);
  roots.push(r);
  return r;
}

/** What `--version` says, built from a clone at HEAD. */
const versionLine = (node: string) => `qemu-thread-exporter ${pkg.version} (revision ${revision}, node ${node})\n`;

test('the executable runs where there is no Node.js: --version, the golden /metrics, explain', async () => {
  const r = await root('exe');
  await assert.rejects(r.exec(['sh', '-c', 'command -v node || command -v nodejs']), 'the root has a node');
  await run('cp', ['-a', EXECUTABLE, `${r.dir}/usr/local/bin/qemu-thread-exporter`]);
  await run('cp', ['-a', HOST1, `${r.dir}/host1`]); // its symlinks as they are, its mtimes too
  assert.equal(await r.exec(['qemu-thread-exporter', '--version']), versionLine(process.version));

  const cli = await startCli(host1Flags('/host1'), { prefix: r.prefix, command: ['/usr/local/bin/qemu-thread-exporter'] });
  try {
    const text = await cli.scrape();
    assert.equal(ourSeries(text), readFileSync(GOLDEN, 'utf8'));
    assert.equal(value(text, 'qemu_exporter_build_info', { version: pkg.version, revision }), 1);
  } finally {
    assert.equal((await cli.terminate()).code, 0);
  }

  // explain reads the host directly for --duration: the same findings as from the sources. 3 s, not 1: on a loaded
  // machine a slower start leaves 1 s too few samples a second apart, and the findings would differ by timing alone.
  const args = ['explain', '--duration=3s', '--output=json', ...host1Flags('/host1')];
  const findings = (json: string) =>
    (JSON.parse(json) as { vms: { domain: string; findings: { id: string }[] }[] }).vms.map(
      (vm) => `${vm.domain}: ${vm.findings.map((f) => f.id).join(' ')}`,
    );
  const fromSources = await runCommand([...args.slice(0, 3), ...host1Flags(HOST1)]);
  assert.equal(fromSources.code, 0, fromSources.stderr);
  assert.deepEqual(findings(await r.exec(['qemu-thread-exporter', ...args])), findings(fromSources.stdout));
});

test('lintian finds no error in the .deb, and no warning it was not told the reason for', async () => {
  // One run (lintian takes half a minute); O: are the overrides, each with its reason in deploy/package/.
  const out = await tool('lintian', ['--fail-on', 'none', '--show-overrides', DEB], 300_000);
  console.log(`lintian:\n${out.trim()}`);
  const tags = out.split('\n').filter((l) => /^[EWO]: /.test(l));
  assert.deepEqual(tags.filter((l) => !l.startsWith('O: ')), []);
});

test('the .deb installs into Debian 12 with dpkg: files, conffile, the unit systemd accepts, a clean purge', async () => {
  const r = await root('deb');
  const dpkg = (...args: string[]) => tool('dpkg', [`--root=${r.dir}`, ...args]);
  await dpkg('-i', DEB);
  for (const f of FILES) assert.ok(await exists(`${r.dir}${f}`), `${f} not installed`);
  assert.equal((await stat(`${r.dir}/usr/bin/qemu-thread-exporter`)).mode & 0o777, 0o755);
  const status = await tool('dpkg-query', [`--admindir=${r.dir}/var/lib/dpkg`, '-W', '-f=${Status} ${Conffiles}', 'qemu-thread-exporter']);
  assert.match(status, /^install ok installed\s+\/etc\/default\/qemu-thread-exporter [0-9a-f]{32}/);
  assert.equal(await r.exec(['qemu-thread-exporter', '--version']), versionLine(process.version));
  // The maintainer scripts enabled nothing.
  assert.equal(await tool('find', [`${r.dir}/etc`, '-name', 'qemu-thread-exporter.service']), '');

  // systemd-analyze looks for ExecStart's program on this machine: a copy of the installed unit, with the same
  // program's path inside the root (and nothing else changed), is what it checks.
  const unit = await readFile(`${r.dir}${UNIT}`, 'utf8');
  assert.match(unit, /^ExecStart=\/usr\/bin\/qemu-thread-exporter \$ARGS$/m);
  const copy = `${r.dir}/tmp/qemu-thread-exporter.service`;
  await writeFile(copy, unit.replace('ExecStart=/usr/bin/', `ExecStart=${r.dir}/usr/bin/`));
  assert.deepEqual(await systemdAnalyze(['verify', copy]), { out: '', code: 0 });
  const score = await exposure(copy);
  console.log(`installed unit: systemd-analyze security exposure ${String(score)}`);
  assert.ok(score <= 2.2, `exposure ${String(score)}, above today's 2.2`);

  await dpkg('--purge', 'qemu-thread-exporter');
  for (const f of FILES) assert.equal(await exists(`${r.dir}${f}`), false, `${f} left after purge`);
});

test('the .rpm lists the same files, installs with rpm --root and erases cleanly', async () => {
  const listed = (await tool('rpm', ['-qlp', RPM])).split('\n').filter(Boolean);
  for (const f of FILES) assert.ok(listed.includes(f), `${f} not in the .rpm:\n${listed.join('\n')}`);
  const scripts = (await tool('rpm', ['-qp', '--scripts', RPM])).replace(/^\s*#.*$/gm, '');
  assert.doesNotMatch(scripts, /systemctl (enable|start|preset)/);
  assert.match(await tool('rpm', ['-qp', '--configfiles', RPM]), /^\/etc\/default\/qemu-thread-exporter$/m);

  // Its own database in a Debian root; --nodeps: that database knows none of the root's (dpkg's) libraries.
  const r = await root('rpm');
  await tool('rpm', [`--root=${r.dir}`, '--initdb']);
  await tool('rpm', [`--root=${r.dir}`, '-i', '--nodeps', RPM]);
  for (const f of FILES) assert.ok(await exists(`${r.dir}${f}`), `${f} not installed`);
  assert.equal(await r.exec(['qemu-thread-exporter', '--version']), versionLine(process.version));
  await tool('rpm', [`--root=${r.dir}`, '-e', 'qemu-thread-exporter']);
  assert.equal(await exists(`${r.dir}/usr/bin/qemu-thread-exporter`), false);
});
