/** libvirt's framing from a byte stream cut anywhere: the recorded daemon side, split and joined every way. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ParseError } from '../../../src/host/parse-error.js';
import { FrameReader } from '../../../src/host/libvirt/rpc/frame-reader.js';
import { runs } from '../../support/fuzz.js';
import { DAEMON_FRAMES } from '../../support/libvirt-rpc.js';

const STREAM = Buffer.concat(DAEMON_FRAMES);
const WANT = DAEMON_FRAMES.map((f) => f.subarray(4));

function readAll(r: FrameReader, chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) {
    r.push(c);
    for (let f = r.next(); f; f = r.next()) out.push(f);
  }
  return out;
}

describe('libvirt RPC framing', () => {
  test('the whole session in one chunk: every frame, without its length word', () => {
    const r = new FrameReader();
    assert.deepEqual(readAll(r, [STREAM]), WANT);
    assert.equal(r.pending, 0);
  });

  test('split at every byte boundary, and byte by byte', () => {
    for (let at = 0; at <= STREAM.length; at++) {
      assert.deepEqual(
        readAll(new FrameReader(), [STREAM.subarray(0, at), STREAM.subarray(at)]),
        WANT,
        `split at ${at}`,
      );
    }
    assert.deepEqual(
      readAll(
        new FrameReader(),
        [...STREAM].map((b) => Buffer.of(b)),
      ),
      WANT,
    );
  });

  test('random chunkings', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: STREAM.length }), { maxLength: 20 }), (cuts) => {
        const at = [0, ...cuts.sort((a, b) => a - b), STREAM.length];
        const chunks = at.slice(1).map((end, i) => STREAM.subarray(at[i], end));
        assert.deepEqual(readAll(new FrameReader(), chunks), WANT);
      }),
      runs(200),
    );
  });

  test('frames handed out are copies: later bytes do not overwrite them', () => {
    const r = new FrameReader();
    r.push(STREAM.subarray(0, DAEMON_FRAMES[0]!.length + 10));
    const first = r.next()!;
    const copy = Buffer.from(first);
    r.push(Buffer.alloc(4096, 0xee));
    assert.deepEqual(first, copy);
  });

  test('a bad length is refused as soon as its 4 bytes are in, before the body', () => {
    const r = new FrameReader();
    r.push(Buffer.of(0x7f, 0xff));
    assert.equal(r.next(), undefined);
    r.push(Buffer.of(0xff, 0xff));
    assert.throws(() => r.next(), ParseError);
    const small = new FrameReader();
    small.push(Buffer.of(0, 0, 0, 4));
    assert.throws(() => small.next(), /shorter than its header/);
  });

  test('a partial frame is described, for the error when the peer hangs up', () => {
    const r = new FrameReader();
    assert.equal(r.describePartial(), '');
    r.push(STREAM.subarray(0, 2));
    assert.equal(r.next(), undefined);
    assert.equal(r.describePartial(), ' in the middle of a message (2 of ? bytes)');
    r.push(STREAM.subarray(2, 30));
    assert.equal(r.next(), undefined);
    assert.equal(r.describePartial(), ` in the middle of a message (30 of ${String(DAEMON_FRAMES[0]!.length)} bytes)`);
  });

  test('a 32 MiB frame byte-chunked in 1 KiB pieces: buffered in one buffer no bigger than twice the frame', () => {
    const len = 32 << 20;
    const big = Buffer.alloc(len);
    big.writeUInt32BE(len);
    const r = new FrameReader();
    const before = process.memoryUsage().arrayBuffers;
    let peak = 0;
    for (let at = 0; at < len; at += 1024) {
      r.push(big.subarray(at, at + 1024));
      if (at % (1 << 20) === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }
    const f = r.next();
    assert.equal(f?.length, len - 4);
    assert.ok(peak < 2 * len + (1 << 20), `peak ${String(peak >> 20)} MiB`);
  });
});
