/**
 * The libvirt RPC client, and the source using it, against hostile peers on the socket: garbage, lengths out of
 * bounds, truncated frames, replies to nothing, silence, a hang-up mid-reply, keepalive pings, a reply byte by byte.
 * Each ends in a LibvirtError of the right kind before the deadline plus a little, nothing is left unhandled, memory
 * stays bounded, and the next call after reconnecting works.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { LibvirtApi } from '../../src/host/libvirt/api-source.js';
import { LibvirtClient, LibvirtError, LibvirtRemoteError } from '../../src/host/libvirt/rpc/client.js';
import { MessageType, Proc, Status } from '../../src/host/libvirt/rpc/protocol.js';
import { HostFs } from '../../src/host/host-fs.js';
import { Problems } from '../../src/host/problems.js';
import type { SourceVm } from '../../src/host/source.js';
import {
  daemonLike,
  fakeDaemon,
  frame,
  recordedStatsReply,
  remoteErrorBody,
  SESSION,
  type Call,
} from '../support/libvirt-rpc.js';
import type { Socket } from 'node:net';

const SLACK_MS = 300;
const unhandled: unknown[] = [];
process.on('unhandledRejection', (err) => unhandled.push(err));

/** Runs `fn(deadline)` and checks it rejects with a LibvirtError of `kind` (message matching `re`), in time. */
async function rejectsInTime(
  fn: (deadline: number) => Promise<unknown>,
  budgetMs: number,
  kind: string,
  re?: RegExp,
): Promise<LibvirtError> {
  const t0 = Date.now();
  let caught: unknown;
  await fn(t0 + budgetMs).catch((err: unknown) => {
    caught = err;
  });
  const ms = Date.now() - t0;
  assert.ok(caught instanceof LibvirtError, `not a LibvirtError: ${String(caught)}`);
  assert.equal(caught.kind, kind, caught.message);
  if (re) assert.match(caught.message, re);
  assert.ok(ms <= budgetMs + SLACK_MS, `rejected after ${String(ms)} ms, deadline ${String(budgetMs)} ms`);
  return caught;
}

/** A client of a daemon that lets it in and answers the stats call with `stats`; connected. */
async function connectedTo(stats: (call: Call, sock: Socket) => Buffer | undefined) {
  const daemon = await fakeDaemon(daemonLike(stats));
  const client = new LibvirtClient({ socketPath: daemon.path });
  await client.connect(Date.now() + 2000);
  return { daemon, client };
}

const stats = (client: LibvirtClient) => (d: number) => client.allDomainStats(d);
const word = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

describe('libvirt RPC client: hostile peers', () => {
  test('garbage instead of a reply: a protocol error at once; the client reconnects and the next call works', async () => {
    let garbage = true;
    const { client } = await connectedTo((call) =>
      garbage ? Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n') : recordedStatsReply(call),
    );
    await rejectsInTime(stats(client), 2000, 'protocol', /shorter than its header|over the maximum/);
    assert.equal(client.connected, false);
    garbage = false;
    await client.connect(Date.now() + 2000);
    assert.equal((await client.allDomainStats(Date.now() + 2000))[0]!.uuid, SESSION.domain.uuid);
  });

  test('a length of 0, 4, 27, 2^31, 2^32 − 1, and VIR_NET_MESSAGE_MAX + 5: refused as soon as the length is in', async () => {
    for (const n of [0, 4, 27, 2 ** 31, 2 ** 32 - 1, 33554437]) {
      const { client } = await connectedTo(() => word(n));
      await rejectsInTime(stats(client), 2000, 'protocol', /shorter than its header|over the maximum 33554436/);
    }
  });

  test('a peer streaming 100 MiB of garbage behind a valid length: refused at the frame, memory bounded', async () => {
    let written = 0;
    const { client } = await connectedTo((_call, sock) => {
      // A frame of the maximum length whose header is nonsense: read whole (32 MiB), then refused.
      sock.write(word(33554436));
      const chunk = Buffer.alloc(1 << 20, 0x41);
      const more = (): void => {
        while (written < 100 << 20 && !sock.destroyed) {
          written += chunk.length;
          if (!sock.write(chunk)) return void sock.once('drain', more);
        }
      };
      more();
      return undefined;
    });
    const base = process.memoryUsage();
    let peak = 0;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peak = Math.max(peak, m.arrayBuffers - base.arrayBuffers);
    }, 5);
    await rejectsInTime(stats(client), 10_000, 'protocol', /program 0x41414141/);
    clearInterval(sampler);
    assert.ok(written < 64 << 20, `the peer got to write ${String(written >> 20)} MiB`);
    assert.ok(peak < 100 << 20, `memory grew by ${String(peak >> 20)} MiB`);
  });

  test('a truncated frame, then the peer closes: closed, saying how much of the message came', async () => {
    const { client } = await connectedTo((call, sock) => {
      sock.end(recordedStatsReply(call).subarray(0, 100));
      return undefined;
    });
    await rejectsInTime(stats(client), 2000, 'closed', /in the middle of a message \(100 of 848 bytes\)/);
  });

  test('closing right after the call, before any reply', async () => {
    const { client } = await connectedTo((_c, sock) => {
      sock.end();
      return undefined;
    });
    const err = await rejectsInTime(stats(client), 2000, 'closed', /the daemon closed the connection$/);
    assert.doesNotMatch(err.message, /middle/);
  });

  test('a reply with a wrong serial, procedure, program, version, type or status: a protocol error', async () => {
    const cases: [string, (c: Call) => Buffer, RegExp][] = [
      ['serial', (c) => frame({ proc: c.header.proc, serial: c.header.serial + 1 }), /to no call in flight/],
      ['procedure', (c) => frame({ proc: Proc.CONNECT_OPEN, serial: c.header.serial }), /to no call in flight/],
      ['program', (c) => frame({ ...c.header, prog: 0x20008087, type: 1 }), /program 0x20008087/],
      ['version', (c) => frame({ ...c.header, vers: 2, type: 1 }), /version 2/],
      ['type', (c) => frame({ ...c.header, type: MessageType.STREAM }), /type 3, not a reply/],
      ['status', (c) => frame({ ...c.header, type: 1, status: Status.CONTINUE }), /status 2/],
      ['call', (c) => frame({ ...c.header, type: MessageType.CALL }), /type 0, not a reply/],
    ];
    for (const [what, reply, re] of cases) {
      const { client } = await connectedTo(reply);
      await rejectsInTime(stats(client), 2000, 'protocol', re);
      assert.equal(client.connected, false, what);
    }
  });

  test('an error reply: a LibvirtRemoteError with code, domain and message; the connection stays', async () => {
    let n = 0;
    const { client } = await connectedTo((c) =>
      n++ === 0
        ? frame(
            { ...c.header, type: 1, status: Status.ERROR },
            remoteErrorBody(55, 10, `Requested operation is not valid: ${'x'.repeat(1e5)}`),
          )
        : recordedStatsReply(c),
    );
    const err = await rejectsInTime(stats(client), 2000, 'remote', /CONNECT_GET_ALL_DOMAIN_STATS: Requested operation/);
    assert.ok(err instanceof LibvirtRemoteError);
    assert.equal(err.code, 55);
    assert.equal(err.domain, 10);
    assert.ok(err.message.length < 500);
    assert.equal(client.connected, true);
    assert.equal((await client.allDomainStats(Date.now() + 2000)).length, 1);
  });

  test('an error reply whose body is not a remote_error: a protocol error', async () => {
    const { client } = await connectedTo((c) => frame({ ...c.header, type: 1, status: Status.ERROR }, word(1)));
    await rejectsInTime(stats(client), 2000, 'protocol', /XDR/);
  });

  test('keepalive PINGs and events before, between and in the middle of replies are skipped', async () => {
    const ping = frame({ prog: 0x6b656570, vers: 1, proc: 1, type: MessageType.MESSAGE, serial: 0 });
    const event = frame({ proc: 107, type: MessageType.MESSAGE, serial: 1 }, Buffer.alloc(64, 7));
    const { client } = await connectedTo((call) => {
      const r = recordedStatsReply(call);
      return Buffer.concat([ping, event, SESSION.pong, r, ping]);
    });
    for (let i = 0; i < 3; i++) assert.equal((await client.allDomainStats(Date.now() + 2000)).length, 1);
    assert.equal(client.connected, true);
  });

  test('no answer: a timeout naming the call, in time; the connection is closed, the next connect works', async () => {
    let answer = false;
    const { client, daemon } = await connectedTo((call) => (answer ? recordedStatsReply(call) : undefined));
    await rejectsInTime(stats(client), 400, 'timeout', /no answer to CONNECT_GET_ALL_DOMAIN_STATS within \d+ ms/);
    assert.equal(client.connected, false);
    answer = true;
    await client.connect(Date.now() + 2000);
    assert.equal((await client.allDomainStats(Date.now() + 2000)).length, 1);
    assert.equal(daemon.connections(), 2);
  });

  test('silence from the first byte (no AUTH_LIST answer), and no socket at all', async () => {
    const mute = await fakeDaemon(() => undefined);
    await rejectsInTime((d) => new LibvirtClient({ socketPath: mute.path }).connect(d), 300, 'timeout', /AUTH_LIST/);
    const err = await rejectsInTime(
      (d) => new LibvirtClient({ socketPath: `${mute.path}.none` }).connect(d),
      2000,
      'connect',
    );
    assert.equal(err.errno, 'ENOENT');
  });

  test('a SASL-only socket: an auth error that says what to configure', async () => {
    const daemon = await fakeDaemon((c, sock) => {
      sock.write(frame({ proc: c.header.proc, serial: c.header.serial }, Buffer.concat([word(1), word(1)])));
    });
    await rejectsInTime(
      (d) => new LibvirtClient({ socketPath: daemon.path }).connect(d),
      2000,
      'auth',
      /requires SASL authentication.*auth_unix_ro/,
    );
  });

  test('a reply trickled byte by byte, slower than the deadline: a timeout, not a hang', async () => {
    const { client } = await connectedTo((call, sock) => {
      const r = recordedStatsReply(call);
      let i = 0;
      const t = setInterval(() => {
        if (sock.destroyed || i >= r.length) clearInterval(t);
        else sock.write(r.subarray(i, ++i));
      }, 5);
      return undefined;
    });
    await rejectsInTime(stats(client), 500, 'timeout');
  });

  test('a reply byte by byte within the deadline: decoded', async () => {
    const { client } = await connectedTo((call, sock) => {
      for (const b of recordedStatsReply(call)) sock.write(Buffer.of(b));
      return undefined;
    });
    assert.equal((await client.allDomainStats(Date.now() + 5000))[0]!.name, SESSION.domain.name);
  });
});

describe('libvirt API source: a peer that stops answering', () => {
  test('the last answer is served, aged; the failure counted as a timeout and logged once; then fresh again', async () => {
    let answer = true;
    const daemon = await fakeDaemon(daemonLike((call) => (answer ? recordedStatsReply(call) : undefined)));
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const problems = new Problems(log);
    const fs = new HostFs({ procfs: '/proc', sysfs: '/sys', rootfs: '/', libvirtStatusDir: '/run/libvirt/qemu' });
    const api = new LibvirtApi(fs, problems, { socket: daemon.path, timeoutMs: 300 });
    const vm: SourceVm = {
      pid: 1,
      domain: SESSION.domain.name,
      uuid: SESSION.domain.uuid,
      source: 'libvirt',
      qmpSockets: [],
    };
    await api.collect(Date.now() + 1000, [vm]);
    assert.equal(api.healthy(), true);
    const first = api.guestDisks(vm)!;
    assert.equal(first.disks.get('sdc')!.reads, Number(SESSION.virshDomstats['block.0.rd.reqs']));
    answer = false;
    const t0 = Date.now();
    await api.collect(Date.now() + 1000, [vm]);
    assert.ok(Date.now() - t0 < 300 + SLACK_MS, 'the scrape is not held up');
    assert.equal(api.healthy(), false);
    assert.equal(api.guestDisks(vm), first, 'the last answer, with its time: stale');
    assert.deepEqual(
      [...problems.totals()].map((t) => [t.source, t.reason, t.n]),
      [['libvirt_api', 'timeout', 1]],
    );
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /libvirt API: .*no answer to CONNECT_GET_ALL_DOMAIN_STATS/);
    answer = true;
    await new Promise((r) => setTimeout(r, 1050)); // the reconnect backoff
    await api.collect(Date.now() + 1000, [vm]);
    assert.equal(api.healthy(), true);
    assert.ok(api.guestDisks(vm)!.at > first.at);
    await api.stop();
  });

  test('a peer speaking garbage: counted as a parse error, not an I/O error', async () => {
    const daemon = await fakeDaemon((_c, sock) => sock.write('garbage, not XDR at all'));
    const problems = new Problems(pino({ level: 'silent' }));
    const fs = new HostFs({ procfs: '/proc', sysfs: '/sys', rootfs: '/', libvirtStatusDir: '/run/libvirt/qemu' });
    const api = new LibvirtApi(fs, problems, { socket: daemon.path, timeoutMs: 300 });
    await api.collect(Date.now() + 1000, []);
    assert.deepEqual(
      [...problems.totals()].map((t) => [t.reason, t.n]),
      [['parse', 1]],
    );
    await api.stop();
  });

  test('nothing was left unhandled', () => {
    assert.deepEqual(unhandled, []);
  });
});
