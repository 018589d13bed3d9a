import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { qmpSocketsOf } from '../../src/host/qemu/qmp-sockets.js';
import { runs } from '../support/fuzz.js';

const SAMPLES = fileURLToPath(new URL('../fixtures/samples/', import.meta.url));
const sockets = (...args: string[]): string[] => qmpSocketsOf(['qemu-system-x86_64', ...args]);

describe('qmpSocketsOf on real command lines', () => {
  test("Proxmox VE: its own qmp socket; qmeventd's chardev is one QEMU connects out to, not a socket it serves", () => {
    const argv = readFileSync(`${SAMPLES}/platforms/proxmox-cmdline.txt`, 'utf8').trim().split('\n');
    assert.ok(argv.includes('socket,id=qmp-event,path=/var/run/qmeventd.sock,reconnect-ms=5000'));
    assert.deepEqual(qmpSocketsOf(argv), ['/var/run/qemu-server/100.qmp']);
  });

  test('libvirt 9 passes its monitor as an fd: no path', () => {
    const argv = readFileSync(`${SAMPLES}/libvirt-9.0-kvm/qemu-cmdline.txt`, 'utf8').trim().split(/\s+/);
    assert.ok(argv.includes('socket,id=charmonitor,fd=28,server=on,wait=off'));
    assert.deepEqual(qmpSocketsOf(argv), []);
  });

  test('the command line of the qemu-7.2-qmp capture: -qmp unix:PATH,server=on,wait=off', () => {
    const argv = readFileSync(`${SAMPLES}/qemu-7.2-qmp/qemu-cmdline.txt`, 'utf8').trimEnd().split('\n');
    assert.deepEqual(qmpSocketsOf(argv), ['/run/blockstats.qmp']);
  });
});

describe('qmpSocketsOf: -qmp', () => {
  test('new syntax: unix:PATH,server=on,wait=off', () => {
    assert.deepEqual(sockets('-qmp', 'unix:/tmp/x.sock,server=on,wait=off'), ['/tmp/x.sock']);
  });

  test('old syntax: unix:PATH,server,nowait', () => {
    assert.deepEqual(sockets('-qmp', 'unix:/tmp/x,server,nowait'), ['/tmp/x']);
  });

  test('-qmp-pretty, --qmp, a mon: prefix, and path= spelled out', () => {
    assert.deepEqual(sockets('-qmp-pretty', 'unix:/a,server'), ['/a']);
    assert.deepEqual(sockets('--qmp', 'unix:/b,server=on'), ['/b']);
    assert.deepEqual(sockets('-qmp', 'mon:unix:/c,server=on'), ['/c']);
    assert.deepEqual(sockets('-qmp', 'unix:path=/d,server=yes'), ['/d']);
  });

  test('a path with a comma is written with ",,"', () => {
    assert.deepEqual(sockets('-qmp', 'unix:/tmp/a,,b.sock,server=on'), ['/tmp/a,b.sock']);
  });

  test('QEMU as the client (no server, server=off), TCP, stdio: none', () => {
    assert.deepEqual(sockets('-qmp', 'unix:/tmp/x'), []);
    assert.deepEqual(sockets('-qmp', 'unix:/tmp/x,server=off'), []);
    assert.deepEqual(sockets('-qmp', 'tcp:localhost:4444,server=on,wait=off'), []);
    assert.deepEqual(sockets('-qmp', 'stdio'), []);
  });

  test('-qmp chardev:ID names a -chardev, wherever it is on the line', () => {
    assert.deepEqual(sockets('-qmp', 'chardev:m', '-chardev', 'socket,id=m,path=/m.sock,server=on'), ['/m.sock']);
  });

  test('-monitor is HMP', () => {
    assert.deepEqual(sockets('-monitor', 'unix:/h.sock,server=on,wait=off'), []);
  });
});

describe('qmpSocketsOf: -chardev and -mon', () => {
  const chardev = (opts: string): string[] =>
    sockets('-chardev', `socket,id=c,path=/c.sock,${opts}`, '-mon', 'chardev=c,mode=control');

  test('server=on and the old bare server', () => {
    assert.deepEqual(chardev('server=on,wait=off'), ['/c.sock']);
    assert.deepEqual(chardev('server,nowait'), ['/c.sock']);
  });

  test('-mon defaults to HMP; mode=readline is HMP', () => {
    assert.deepEqual(sockets('-chardev', 'socket,id=c,path=/c.sock,server=on', '-mon', 'chardev=c'), []);
    assert.deepEqual(sockets('-chardev', 'socket,id=c,path=/c.sock,server=on', '-mon', 'c,mode=readline'), []);
  });

  test("-mon's implied key is chardev", () => {
    assert.deepEqual(sockets('-chardev', 'socket,id=c,path=/c.sock,server=on', '-mon', 'c,mode=control'), ['/c.sock']);
  });

  test('not served as plain QMP at a path: fd, abstract, telnet, websocket, TLS, no server, TCP, another backend', () => {
    assert.deepEqual(chardev('server=off'), []);
    assert.deepEqual(chardev('reconnect-ms=5000'), []);
    assert.deepEqual(chardev('server=on,abstract=on'), []);
    assert.deepEqual(chardev('server=on,telnet=on'), []);
    assert.deepEqual(chardev('server=on,websocket=on'), []);
    assert.deepEqual(chardev('server=on,tls-creds=tls0'), []);
    assert.deepEqual(chardev('server=on,fd=3'), []);
    assert.deepEqual(sockets('-chardev', 'socket,id=c,fd=3,server=on', '-mon', 'chardev=c,mode=control'), []);
    assert.deepEqual(sockets('-chardev', 'socket,id=c,port=4444,server=on', '-mon', 'chardev=c,mode=control'), []);
    assert.deepEqual(sockets('-chardev', 'pipe,id=c,path=/p,server=on', '-mon', 'chardev=c,mode=control'), []);
  });

  test('a monitor on an undefined chardev; a chardev no monitor uses (a serial console)', () => {
    assert.deepEqual(sockets('-mon', 'chardev=nope,mode=control'), []);
    assert.deepEqual(sockets('-chardev', 'socket,id=s,path=/serial.sock,server=on', '-serial', 'chardev:s'), []);
  });

  test('every socket in the order of its monitor, each once', () => {
    assert.deepEqual(
      sockets(
        '-chardev',
        'socket,id=b,path=/b.sock,server=on',
        '-chardev',
        'socket,id=a,path=/a.sock,server=on',
        '-mon',
        'chardev=a,mode=control',
        '-qmp',
        'unix:/q.sock,server=on',
        '-mon',
        'chardev=b,mode=control',
        '-mon',
        'chardev=a,mode=control',
      ),
      ['/a.sock', '/q.sock', '/b.sock'],
    );
  });

  test("the first of two chardevs of one id (QEMU refuses the second); another option's values are skipped", () => {
    assert.deepEqual(
      sockets(
        '-chardev',
        'socket,id=c,path=/first,server=on',
        '-chardev',
        'socket,id=c,path=/second,server=on',
        '-mon',
        'chardev=c,mode=control',
      ),
      ['/first'],
    );
    assert.deepEqual(sockets('-name', '-qmp', '-S', '-qmp', 'unix:/x,server'), ['/x']);
    assert.deepEqual(sockets('-qmp'), []);
  });

  test('a random argv of these options never throws and yields only strings', () => {
    const piece = fc.oneof(
      fc.constantFrom('-qmp', '-qmp-pretty', '-mon', '-chardev', '-monitor', '-S', '--qmp', 'chardev:c', 'unix:'),
      fc.constantFrom('socket,id=c,path=/c,server=on', 'c,mode=control', 'unix:/x,server', '__proto__', 'id=__proto__'),
      fc.string({ maxLength: 30 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (args) => {
        for (const path of sockets(...args)) assert.equal(typeof path, 'string');
      }),
      runs(2000),
    );
  });
});
