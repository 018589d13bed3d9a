/** deploy/systemd: the unit as systemd itself judges it (verify, capability names, sandbox exposure). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/cli/flags.js';
import { installGlobally, type GlobalInstall } from './npm-global-install.js';
import { systemdAnalyze } from './systemd-analyze.js';

const UNIT_FILE = fileURLToPath(new URL('../../deploy/systemd/qemu-thread-exporter.service', import.meta.url));
const ENV_FILE = fileURLToPath(new URL('../../deploy/systemd/qemu-thread-exporter.env', import.meta.url));
const UNIT = readFileSync(UNIT_FILE, 'utf8');
const EXEC_START = 'ExecStart=qemu-thread-exporter ';

/** Every value of `key=` in the unit, split on whitespace. */
function directive(key: string): string[] {
  return [...UNIT.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].flatMap((m) => m[1]!.trim().split(/\s+/));
}

let installed: GlobalInstall;
let unitCopy: string;
let dir: string;
before(async () => {
  // verify needs ExecStart to exist: a copy of the unit pointing at a real `npm install -g` of this package.
  installed = await installGlobally();
  dir = await mkdtemp(`${tmpdir()}/qte-systemd-`);
  unitCopy = `${dir}/qemu-thread-exporter.service`;
  assert.ok(UNIT.includes(EXEC_START), `no ${EXEC_START}`);
  await writeFile(unitCopy, UNIT.replace(EXEC_START, `ExecStart=${installed.bin} `));
});
after(async () => {
  await installed.remove();
  await rm(dir, { recursive: true, force: true });
});

test('systemd-analyze verify finds nothing to say about the unit', async () => {
  const { out, code } = await systemdAnalyze(['verify', unitCopy]);
  assert.equal(out, '');
  assert.equal(code, 0);
});

test('the unit grants exactly CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, names systemd knows', async () => {
  const wanted = ['CAP_DAC_READ_SEARCH', 'CAP_SYS_PTRACE'];
  assert.deepEqual(directive('AmbientCapabilities').sort(), wanted);
  assert.deepEqual(directive('CapabilityBoundingSet').sort(), wanted);
  const { out, code } = await systemdAnalyze(['capability', ...wanted]);
  assert.equal(code, 0, out);
  for (const cap of wanted) assert.match(out, new RegExp(`^${cap.toLowerCase()}\\s+\\d+$`, 'm'));
  assert.deepEqual(directive('DynamicUser'), ['yes']);
  assert.deepEqual(directive('NoNewPrivileges'), ['yes']);
});

test('systemd-analyze security scores the unit at exposure 3.0 or lower', async () => {
  const { out } = await systemdAnalyze(['security', '--offline=true', unitCopy]);
  const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(out);
  assert.ok(m, out);
  const exposure = Number(m[1]);
  console.log(`systemd-analyze security: exposure ${m[1]} (the lower the better; 3.0 at most)`);
  assert.ok(exposure <= 3.0, out);
});

test('the environment file passes flags the exporter accepts', () => {
  const m = /^ARGS="(.*)"$/m.exec(readFileSync(ENV_FILE, 'utf8'));
  assert.ok(m, 'ARGS="…" missing');
  assert.ok(UNIT.includes('EnvironmentFile=-/etc/default/qemu-thread-exporter') && UNIT.includes(' $ARGS'));
  const cfg = parseConfig(m[1]!.split(/\s+/).filter(Boolean), 'test'); // throws on an unknown flag or a bad value
  assert.equal(cfg.listenPort, 10077);
});
