/**
 * The QEMU command-line model under fuzzing. Any local user can start a process whose name matches the QEMU pattern,
 * so argv is hostile input: parsing it never throws (it returns warnings), never yields a non-string label, and
 * never reaches Object.prototype (`-blockdev __proto__.x=1`).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseCmdline } from '../../src/host/procfs/cmdline.js';
import { parseQemuCmdline, type QemuCmdline } from '../../src/host/qemu/cmdline.js';
import { fixtureTexts, runs } from '../support/fuzz.js';

const SAMPLES = fixtureTexts(/proc\/\d+\/cmdline$/)
  .map(parseCmdline)
  .filter((argv) => argv.length > 2);

/** Keys that walk into, or shadow, the prototype chain of a plain object. */
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];

const HOSTILE = fc.oneof(
  fc.constantFrom(
    '-drive',
    '-device',
    '-blockdev',
    '-object',
    '-name',
    '-uuid',
    '-hda',
    '-cdrom',
    '-S',
    'driver=file,__proto__.polluted=yes,node-name=p',
    '__proto__.polluted=yes',
    'constructor.prototype.polluted=yes',
    '{"__proto__":{"polluted":"yes"},"driver":"file","node-name":"p"}',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    'if=constructor,file=/a',
    'if=__proto__,file=/a',
    'if=toString',
    'id=__proto__,file=/a',
    'node-name=__proto__',
    'node-name=constructor,driver=file,filename=/x',
    'scsi-hd,drive=constructor',
    'virtio-blk,drive=__proto__,id=toString',
    'iothread,id=__proto__',
    'iothread,id=constructor,thread-pool-max=99999999999999999999',
    'guest=__proto__',
    `{"driver":"qcow2","node-name":"d","file":${'{"file":'.repeat(64)}{}${'}'.repeat(64)}}`,
    `{"a":${'['.repeat(20000)}${']'.repeat(20000)}}`,
  ),
  fc
    .constantFrom(...PROTO_KEYS)
    .chain((k) => fc.constantFrom(`${k}=x`, `${k}.${k}=x`, `x.${k}=y`, `{"${k}":{"x":1}}`, `node-name=n,${k}.x=1`)),
  fc.string({ maxLength: 40 }),
  fc.string({ maxLength: 40, unit: 'binary' }),
);

/** The prototype of every plain object, as it was before any parse. */
const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

function assertWellFormed(r: QemuCmdline, argv: readonly string[]): void {
  const where = JSON.stringify(argv).slice(0, 2000);
  assert.deepEqual(
    Object.getOwnPropertyNames(Object.prototype).sort(),
    PROTOTYPE_KEYS,
    `Object.prototype changed by ${where}`,
  );
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined, where);
  for (const v of [r.name, r.uuid]) assert.ok(v === undefined || typeof v === 'string', where);
  for (const max of [r.mainLoopPoolMax, ...r.iothreads.map((t) => t.poolMax)]) {
    assert.ok(max === undefined || (Number.isSafeInteger(max) && max >= 0), `pool max ${String(max)} from ${where}`);
  }
  for (const t of r.iothreads) assert.equal(typeof t.id, 'string', where);
  for (const d of r.disks) {
    for (const [k, v] of Object.entries(d)) assert.equal(typeof v, 'string', `disk ${k} is ${typeof v} from ${where}`);
  }
  assert.ok(
    r.warnings.every((w) => typeof w === 'string'),
    where,
  );
}

describe('fuzz: QEMU command line', () => {
  test('hostile tokens anywhere: never throws, labels are strings, Object.prototype untouched', () => {
    fc.assert(
      fc.property(fc.array(HOSTILE, { maxLength: 24 }), (args) => {
        const argv = ['qemu-system-x86_64', ...args];
        assertWellFormed(parseQemuCmdline(argv), argv);
      }),
      runs(1500),
    );
  });

  test('real command lines with arguments dropped, cut or replaced: never throws, well formed', () => {
    const edit = fc.record({
      at: fc.nat(),
      kind: fc.constantFrom('drop', 'cut', 'replace'),
      token: HOSTILE,
      cut: fc.nat(),
    });
    fc.assert(
      fc.property(fc.constantFrom(...SAMPLES), fc.array(edit, { minLength: 1, maxLength: 6 }), (sample, edits) => {
        const argv = [...sample];
        for (const e of edits) {
          const i = 1 + (e.at % (argv.length - 1));
          if (e.kind === 'drop') argv.splice(i, 1);
          else if (e.kind === 'cut') argv[i] = argv[i]!.slice(0, e.cut % (argv[i]!.length + 1));
          else argv[i] = e.token;
          if (argv.length < 2) break;
        }
        assertWellFormed(parseQemuCmdline(argv), argv);
      }),
      runs(500),
    );
  });

  test('-name guest=NAME gives back NAME whatever it holds (quotes, backslashes, newlines, commas, U+FFFD)', () => {
    const name = fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }).filter((s) => !s.includes('\0'));
    fc.assert(
      fc.property(name, (n) => {
        const r = parseQemuCmdline([
          'qemu-system-x86_64',
          '-name',
          `guest=${n.replaceAll(',', ',,')},debug-threads=on`,
        ]);
        assert.equal(r.name, n);
        assert.equal(r.debugThreads, true);
      }),
      runs(500),
    );
  });

  test('the largest argv Linux allows (2 MB, 128 KB per argument): disks and iothreads capped, with a warning', () => {
    const drives = Array.from({ length: 50_000 }, (_, i) => ['-drive', `file=/i${String(i)}`]).flat();
    const iothreads = Array.from({ length: 5000 }, (_, i) => ['-object', `iothread,id=t${String(i)}`]).flat();
    const t0 = performance.now();
    const r = parseQemuCmdline([
      'qemu-system-x86_64',
      '-name',
      `guest=${'x'.repeat(128 * 1024)}`,
      ...drives,
      ...iothreads,
    ]);
    const ms = performance.now() - t0;
    assert.equal(r.name?.length, 128 * 1024);
    assert.equal(r.disks.length, 1024);
    assert.equal(r.iothreads.length, 1024);
    assert.deepEqual(r.warnings, [
      '50000 disks: only the first 1024 are read',
      '5000 iothreads: only the first 1024 are read',
    ]);
    console.log(`argv of ${String(drives.length + iothreads.length)} arguments read in ${ms.toFixed(0)} ms`);
  });
});
