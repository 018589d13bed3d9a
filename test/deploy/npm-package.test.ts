/** The npm package: packed, installed with `npm install -g`, and run from where npm put it. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startCli } from '../support/cli.js';
import { value } from '../support/exporter.js';
import { run } from '../support/require-tool.js';
import { installGlobally, type GlobalInstall } from './npm-global-install.js';

const execFileAsync = promisify(execFile);
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const HOST1 = fileURLToPath(new URL('../fixtures/host1', import.meta.url));

let installed: GlobalInstall;
before(async () => { installed = await installGlobally(); });
after(async () => { await installed.remove(); });

test('the tarball holds the compiled exporter, not its sources or tests', async () => {
  const files = (await run('tar', ['-tzf', installed.tarball])).split('\n').filter(Boolean);
  assert.ok(files.includes('package/dist/src/main.js'), files.join('\n'));
  assert.ok(files.includes('package/REVISION'));
  const unexpected = files.filter((f) => !/^package\/(package\.json|README\.md|REVISION|dist\/src\/.+)$/.test(f));
  assert.deepEqual(unexpected, []);
  // npm shows its warnings (e.g. EBADENGINE: a dependency wants a newer Node) to whoever installs it.
  const warnings = installed.installLog.split('\n').filter((l) => l.startsWith('npm warn') && !l.includes('Unknown user config'));
  if (warnings.length > 0) console.log(`npm install -g warned:\n${warnings.join('\n')}`);
});

test('`qemu-thread-exporter --version` runs from the global prefix', async () => {
  const { stdout } = await execFileAsync(installed.bin, ['--version'], { encoding: 'utf8' });
  // REVISION: written by prepack's build, packed with it.
  const revision = readFileSync(new URL('../../REVISION', import.meta.url), 'utf8').trim();
  assert.equal(stdout, `qemu-thread-exporter ${pkg.version} (revision ${revision}, node ${process.version})\n`);
});

test('the installed command serves the fixture host', async () => {
  const cli = await startCli([
    `--path.procfs=${HOST1}/proc`, `--path.sysfs=${HOST1}/sys`, `--path.rootfs=${HOST1}/rootfs`,
    `--libvirt.status-dir=${HOST1}/run/libvirt/qemu`,
  ], { command: [installed.bin] });
  try {
    const text = await cli.scrape();
    assert.equal(value(text, 'qemu_vm_info', { domain: 'vm1', source: 'cmdline' }), 1);
    assert.equal(value(text, 'qemu_exporter_build_info', { version: pkg.version }), 1);
  } finally {
    assert.equal((await cli.terminate()).code, 0);
  }
});
