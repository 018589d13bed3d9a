/**
 * The QMP client against hostile peers: whatever listens at a socket path found on a command line may send
 * anything, or nothing. Each session ends with a QmpError (or a ParseError for a malformed return) before its
 * deadline plus a little, and a 100 MB message is refused after 1 MiB, without being read whole.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { ParseError } from '../../src/host/parse-error.js';
import { JsonObjectStream, MAX_MESSAGE } from '../../src/host/qemu/json-object-stream.js';
import {
  QmpCommandError,
  QmpError,
  QmpTimeoutError,
  qmpBlockstats,
  qmpSession,
  qmpSetLatencyHistogram,
} from '../../src/host/qemu/qmp.js';
import { runs } from '../support/fuzz.js';

const DIR = mkdtempSync(`${tmpdir()}/qmp-peer-`);
after(() => {
  rmSync(DIR, { recursive: true, force: true });
});

/** How late a rejection may come after its deadline on a loaded machine. */
const SLACK_MS = 300;

const GREETING =
  '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7"}, "capabilities": ["oob"]}}\r\n';

const STATS = JSON.stringify([
  {
    device: 'drive0',
    qdev: 'scsi0-0-0-0',
    'node-name': '#block123',
    stats: {
      rd_operations: 1,
      wr_operations: 2,
      flush_operations: 3,
      rd_bytes: 512,
      wr_bytes: 1024,
      rd_total_time_ns: 10,
      wr_total_time_ns: 20,
      flush_total_time_ns: 30,
    },
  },
]);

let serial = 0;

/** A server on a fresh socket path; `onConnection` plays the peer. Closed (and its clients destroyed) after the test. */
async function peer(onConnection: (sock: Socket) => void): Promise<{ path: string; server: Server }> {
  const path = `${DIR}/${String(++serial)}.sock`;
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => undefined); // the client hanging up mid-write is the point of several tests
    sock.on('close', () => sockets.delete(sock));
    onConnection(sock);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { path, server };
}

/** Commands the client sends, one a line; `answer` returns what to write back (nothing: undefined). */
type Command = { execute: string; arguments?: unknown; id?: unknown };

function onCommands(sock: Socket, answer: (cmd: Command, sock: Socket) => string | undefined): void {
  let buf = '';
  sock.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const reply = answer(JSON.parse(buf.slice(0, nl)) as Command, sock);
      buf = buf.slice(nl + 1);
      if (reply !== undefined) sock.write(reply);
    }
  });
}

/** A QEMU that answers qmp_capabilities and then `reply(cmd)`. */
function qemuLike(reply: (cmd: Command, sock: Socket) => string | undefined): (sock: Socket) => void {
  return (sock) => {
    sock.write(GREETING);
    onCommands(sock, (cmd) =>
      cmd.execute === 'qmp_capabilities' ? `{"return": {}, "id": ${JSON.stringify(cmd.id)}}\r\n` : reply(cmd, sock),
    );
  };
}

/** Runs `fn` and checks that it rejects with an error `check` accepts, no later than the deadline plus SLACK_MS. */
async function rejectsInTime(
  fn: (deadline: number) => Promise<unknown>,
  budgetMs: number,
  check: (err: unknown) => boolean,
): Promise<{ err: unknown; ms: number }> {
  const t0 = Date.now();
  let caught: unknown;
  await assert.rejects(
    fn(t0 + budgetMs).catch((err: unknown) => {
      caught = err;
      throw err;
    }),
    (err) => check(err),
  );
  const ms = Date.now() - t0;
  assert.ok(ms <= budgetMs + SLACK_MS, `rejected after ${String(ms)} ms, deadline ${String(budgetMs)} ms`);
  return { err: caught, ms };
}

const isKind = (kind: string, re?: RegExp) => (err: unknown) =>
  err instanceof QmpError && err.kind === kind && (re === undefined || re.test(err.message));

describe('QMP client: a well-behaved peer', () => {
  test('greeting, capabilities, the command; events and replies to other ids are skipped; pretty JSON in 1-byte chunks', async () => {
    const byteByByte = (sock: Socket, text: string): void => {
      for (const b of Buffer.from(text)) sock.write(Buffer.of(b));
    };
    const { path } = await peer((sock) => {
      byteByByte(sock, GREETING);
      onCommands(sock, (cmd) => {
        const id = JSON.stringify(cmd.id);
        if (cmd.execute === 'qmp_capabilities') {
          byteByByte(
            sock,
            `{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"}\r\n{"return": {}, "id": ${id}}\r\n`,
          );
        } else {
          // pretty, as -qmp-pretty sends it, behind an event with braces in its strings and a reply to another id
          byteByByte(
            sock,
            '{"event": "BLOCK_IO_ERROR", "data": {"device": "}{\\"", "reason": "]["}}\r\n{"return": {}, "id": 99}\r\n' +
              `{\n    "return": ${JSON.stringify(JSON.parse(STATS), null, 4)},\n    "id": ${id}\n}\r\n`,
          );
        }
        return undefined;
      });
    });
    const stats = await qmpBlockstats(path, Date.now() + 5000);
    assert.equal(stats.length, 1);
    assert.equal(stats[0]!.qdev, 'scsi0-0-0-0');
    assert.equal(stats[0]!.flushTotalTimeNs, 30);
  });

  test('qmpSession: several commands in one session, their returns in order', async () => {
    const { path } = await peer(
      qemuLike((cmd) => `{"return": ${JSON.stringify(cmd.execute)}, "id": ${JSON.stringify(cmd.id)}}\r\n`),
    );
    assert.deepEqual(
      await qmpSession(path, [{ execute: 'query-version' }, { execute: 'query-status' }], Date.now() + 5000),
      ['query-version', 'query-status'],
    );
  });

  test('qmpSetLatencyHistogram sends the device id and the boundaries', async () => {
    const seen: unknown[] = [];
    const { path } = await peer(
      qemuLike((cmd) => {
        seen.push(cmd);
        return `{"return": {}, "id": ${JSON.stringify(cmd.id)}}\r\n`;
      }),
    );
    await qmpSetLatencyHistogram(path, '/machine/peripheral/virtio0/virtio-backend', [1000, 5000], Date.now() + 5000);
    assert.deepEqual(seen, [
      {
        execute: 'block-latency-histogram-set',
        arguments: { id: '/machine/peripheral/virtio0/virtio-backend', boundaries: [1000, 5000] },
        id: 1,
      },
    ]);
    await assert.rejects(qmpSession(path, [{ execute: 'x', arguments: { n: 1n } }], Date.now() + 5000), TypeError);
    for (const bad of [[0], [10, 10], [5, 1], [1.5], [Number.NaN], [2 ** 60]]) {
      await assert.rejects(qmpSetLatencyHistogram(path, 'x', bad, Date.now() + 5000), RangeError);
    }
  });
});

describe('QMP client: hostile peers', () => {
  test('garbage bytes instead of a greeting: a protocol error at once', async () => {
    const { path } = await peer((sock) => sock.write(Buffer.from([0xff, 0xfe, 0x00, 0x1b, 0x5b])));
    const { ms } = await rejectsInTime((d) => qmpBlockstats(path, d), 5000, isKind('protocol', /byte 0xff outside/));
    assert.ok(ms < 2000, `${String(ms)} ms`);
  });

  test('an object that is not JSON, a first message that is not a greeting, a non-object', async () => {
    for (const text of ['{"QMP": nope}\r\n', '{"return": {}}\r\n', '{"QMP": 1}\r\n']) {
      const { path } = await peer((sock) => sock.write(text));
      await rejectsInTime((d) => qmpBlockstats(path, d), 5000, isKind('protocol'));
    }
  });

  test('a message of 100 MB without a newline, as the greeting and as the reply: refused after 1 MiB', async () => {
    for (const where of ['greeting', 'reply'] as const) {
      let written = 0;
      const chunk = Buffer.alloc(1 << 20, 'a');
      const flood = (sock: Socket, head: string): void => {
        sock.write(head);
        const more = (): void => {
          while (written < 100 << 20 && !sock.destroyed) {
            written += chunk.length;
            if (!sock.write(chunk)) return void sock.once('drain', more);
          }
        };
        more();
      };
      const { path } = await peer(
        where === 'greeting'
          ? (sock) => {
              flood(sock, '{"QMP": "');
            }
          : qemuLike((cmd, sock) => {
              if (cmd.execute === 'query-blockstats') flood(sock, '{"return": "');
              return undefined;
            }),
      );
      const base = process.memoryUsage();
      let peak = 0;
      const sampler = setInterval(() => {
        const m = process.memoryUsage();
        peak = Math.max(peak, m.arrayBuffers - base.arrayBuffers, m.heapUsed - base.heapUsed);
      }, 5);
      await rejectsInTime(
        (d) => qmpBlockstats(path, d),
        10_000,
        isKind('protocol', new RegExp(`a message over ${String(MAX_MESSAGE)} bytes`)),
      );
      clearInterval(sampler);
      console.log(
        `100 MB ${where}: the peer wrote ${String(written >> 20)} MiB before the client hung up; memory +${(peak / 2 ** 20).toFixed(1)} MiB`,
      );
      assert.ok(written < 8 << 20, `${where}: the peer got to write ${String(written >> 20)} MiB`);
      assert.ok(peak < 32 << 20, `${where}: memory grew by ${String(peak >> 20)} MiB`);
    }
  });

  test('silence after connecting (the socket held by another client): a timeout that says so', async () => {
    const { path } = await peer(() => undefined);
    const { err } = await rejectsInTime(
      (d) => qmpBlockstats(path, d),
      400,
      (e) => e instanceof QmpTimeoutError,
    );
    assert.ok(err instanceof QmpTimeoutError);
    assert.equal(err.phase, 'greeting');
    assert.equal(err.kind, 'timeout');
    assert.match(err.message, /no QMP greeting within \d+ ms: another client probably holds this monitor/);
  });

  test('no answer to the command: a timeout naming it', async () => {
    const { path } = await peer(qemuLike(() => undefined));
    const { err } = await rejectsInTime(
      (d) => qmpBlockstats(path, d),
      400,
      (e) => e instanceof QmpTimeoutError,
    );
    assert.match((err as Error).message, /no answer to query-blockstats within \d+ ms/);
    assert.equal((err as QmpTimeoutError).phase, 'reply');
  });

  test('a trickle of bytes that never completes a message still ends at the deadline', async () => {
    const { path } = await peer((sock) => {
      sock.write('{"QMP": "');
      const t = setInterval(() => {
        if (sock.destroyed) clearInterval(t);
        else sock.write('a');
      }, 10);
    });
    await rejectsInTime(
      (d) => qmpBlockstats(path, d),
      400,
      (e) => e instanceof QmpTimeoutError,
    );
  });

  test('closing mid-answer', async () => {
    const { path } = await peer(
      qemuLike((cmd, sock) => {
        if (cmd.execute === 'query-blockstats') sock.end(`{"return": ${STATS.slice(0, 40)}`);
        return undefined;
      }),
    );
    await rejectsInTime(
      (d) => qmpBlockstats(path, d),
      5000,
      isKind('closed', /closed the connection while waiting for query-blockstats/),
    );
  });

  test('closing right after the greeting, and before it', async () => {
    for (const text of [GREETING, '']) {
      const { path } = await peer((sock) => sock.end(text));
      await rejectsInTime(
        (d) => qmpBlockstats(path, d),
        5000,
        (e) => e instanceof QmpError && e.kind === 'closed',
      );
    }
  });

  test('a huge desc stays whole in desc, cut short in the message', async () => {
    const { path } = await peer(
      qemuLike(
        (cmd) =>
          `{"id": ${JSON.stringify(cmd.id)}, "error": {"class": "GenericError", "desc": "${'d'.repeat(500_000)}"}}\r\n`,
      ),
    );
    const { err } = await rejectsInTime(
      (d) => qmpBlockstats(path, d),
      5000,
      (e) => e instanceof QmpCommandError,
    );
    assert.equal((err as QmpCommandError).desc.length, 500_000);
    assert.ok((err as Error).message.length < 500, String((err as Error).message.length));
  });

  test('an error reply: its class and desc', async () => {
    const { path } = await peer(
      qemuLike(
        (cmd) =>
          `{"id": ${JSON.stringify(cmd.id)}, "error": {"class": "CommandNotFound", "desc": "The command query-blockstats has not been found"}}\r\n`,
      ),
    );
    const { err } = await rejectsInTime(
      (d) => qmpBlockstats(path, d),
      5000,
      (e) => e instanceof QmpCommandError,
    );
    assert.ok(err instanceof QmpCommandError);
    assert.equal(err.errorClass, 'CommandNotFound');
    assert.equal(err.desc, 'The command query-blockstats has not been found');
    assert.equal(err.command, 'query-blockstats');
    assert.match(err.message, /query-blockstats: CommandNotFound: The command query-blockstats has not been found/);
  });

  test('an error without an id (QEMU could not read the command) is the answer; one without class/desc is not QMP', async () => {
    const a = await peer(qemuLike(() => '{"error": {"class": "GenericError", "desc": "JSON parse error"}}\r\n'));
    await rejectsInTime(
      (d) => qmpBlockstats(a.path, d),
      5000,
      (e) => e instanceof QmpCommandError,
    );
    const b = await peer(qemuLike((cmd) => `{"error": "no", "id": ${JSON.stringify(cmd.id)}}\r\n`));
    await rejectsInTime((d) => qmpBlockstats(b.path, d), 5000, isKind('protocol'));
  });

  test('an error to qmp_capabilities', async () => {
    const { path } = await peer((sock) => {
      sock.write(GREETING);
      onCommands(sock, () => '{"error": {"class": "GenericError", "desc": "no"}, "id": 0}\r\n');
    });
    const { err } = await rejectsInTime(
      (d) => qmpBlockstats(path, d),
      5000,
      (e) => e instanceof QmpCommandError,
    );
    assert.equal((err as QmpCommandError).command, 'qmp_capabilities');
  });

  test('a malformed return is a ParseError', async () => {
    const { path } = await peer(qemuLike((cmd) => `{"return": [{"stats": 1}], "id": ${JSON.stringify(cmd.id)}}\r\n`));
    await rejectsInTime(
      (d) => qmpBlockstats(path, d),
      5000,
      (e) => e instanceof ParseError,
    );
  });

  test('no socket, a file that is not a socket, a deadline already past', async () => {
    const { err } = await rejectsInTime((d) => qmpBlockstats(`${DIR}/none.sock`, d), 5000, isKind('connect'));
    assert.equal((err as QmpError).code, 'ENOENT');
    await rejectsInTime((d) => qmpBlockstats(DIR, d), 5000, isKind('connect'));
    const { path } = await peer(() => undefined);
    await rejectsInTime(
      () => qmpBlockstats(path, Date.now() - 1),
      0,
      (e) => e instanceof QmpTimeoutError,
    );
  });

  test('random bytes from the peer: only a QmpError or a ParseError, in time', async () => {
    const script = fc.array(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
        fc
          .constantFrom(
            GREETING,
            '{"return": {}, "id": 0}\r\n',
            `{"return": ${STATS}, "id": 1}\r\n`,
            '{',
            '}',
            '"',
            '\\',
          )
          .map((s) => Buffer.from(s)),
      ),
      { maxLength: 6 },
    );
    let current: Buffer[] = [];
    const { path } = await peer((sock) => {
      for (const b of current) sock.write(b);
      sock.end();
    });
    await fc.assert(
      fc.asyncProperty(script, async (parts) => {
        current = parts;
        const t0 = Date.now();
        try {
          await qmpBlockstats(path, t0 + 300);
        } catch (err) {
          assert.ok(err instanceof QmpError || err instanceof ParseError, String(err));
        }
        assert.ok(Date.now() - t0 <= 300 + SLACK_MS);
      }),
      runs(150),
    );
  });
});

describe('JsonObjectStream', () => {
  test('objects cut anywhere come out whole and in order; whitespace between them is skipped', () => {
    const objects = [{ a: '}{][' }, { b: ['\\"', { c: 1 }] }, { d: 'é\u0000' }];
    const text = Buffer.from(`${objects.map((o) => JSON.stringify(o, null, 1)).join('\r\n')}\r\n`);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: text.length }), { maxLength: 8 }), (cuts) => {
        const stream = new JsonObjectStream();
        const at = [0, ...cuts.sort((x, y) => x - y), text.length];
        const out: unknown[] = [];
        for (let i = 1; i < at.length; i++) out.push(...stream.push(text.subarray(at[i - 1], at[i])));
        assert.deepEqual(out, objects);
      }),
      runs(500),
    );
  });

  test('random bytes: only ParseError', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 32 }), { maxLength: 8 }), (chunks) => {
        const stream = new JsonObjectStream(64);
        try {
          for (const c of chunks) stream.push(Buffer.from(c));
        } catch (err) {
          assert.ok(err instanceof ParseError, String(err));
        }
      }),
      runs(2000),
    );
  });

  test('the cap counts the bytes of one message, not of the stream', () => {
    const stream = new JsonObjectStream(16);
    for (let i = 0; i < 100; i++) assert.deepEqual(stream.push(Buffer.from('{"a": 12345678}\r\n')), [{ a: 12345678 }]);
    assert.throws(() => stream.push(Buffer.from('{"a": 1234567890}')), ParseError);
  });
});
