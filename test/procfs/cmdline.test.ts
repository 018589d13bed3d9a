import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCmdline } from '../../src/host/procfs/cmdline.js';

describe('parseCmdline', () => {
  test('splits a QEMU command line captured on this machine', () => {
    const raw =
      'qemu-system-x86_64\0-name\0guest=ptest,debug-threads=on\0-machine\0q35\0-accel\0kvm\0-m\x0064\0' +
      '-display\0none\0-nodefaults\0-S\0-object\0iothread,id=iothread1\0-daemonize\0-pidfile\0/tmp/ptest-qemu.pid\0';
    const argv = parseCmdline(raw);
    assert.equal(argv.length, 18);
    assert.deepEqual(argv.slice(0, 3), ['qemu-system-x86_64', '-name', 'guest=ptest,debug-threads=on']);
    assert.deepEqual(argv.slice(7, 9), ['-m', '64']);
    assert.equal(argv[17], '/tmp/ptest-qemu.pid');
  });

  test('returns [] for a kernel thread or zombie', () => {
    assert.deepEqual(parseCmdline(''), []);
  });

  test('keeps empty arguments and text without a trailing NUL', () => {
    assert.deepEqual(parseCmdline('a\0\0b\0'), ['a', '', 'b']);
    assert.deepEqual(parseCmdline('nginx: worker process'), ['nginx: worker process']);
    assert.deepEqual(parseCmdline('\0'), ['']);
  });
});
