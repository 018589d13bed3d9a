/**
 * The libvirt RPC decoders under fuzzing: random bytes, and the recorded stats reply of a real libvirtd
 * (test/fixtures/libvirt-rpc) with bytes flipped, 32-bit words replaced by edge values (its counts and lengths among
 * them), bytes inserted and deleted, and cut short. The only failure is a ParseError, never a hang; what is accepted
 * is well formed. Then the client itself, fed random daemon scripts: only a LibvirtError or a ParseError, in time.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ParseError } from '../../src/host/parse-error.js';
import { LibvirtClient, LibvirtError } from '../../src/host/libvirt/rpc/client.js';
import { parseDomainStats, type DomainStats } from '../../src/host/libvirt/rpc/domain-stats.js';
import { FrameReader } from '../../src/host/libvirt/rpc/frame-reader.js';
import { decodeFrame, decodeGetAllDomainStats, decodeRemoteError } from '../../src/host/libvirt/rpc/protocol.js';
import { numbersOf, runs } from '../support/fuzz.js';
import { daemonLike, DAEMON_FRAMES, fakeDaemon, SESSION, STATS_REPLY } from '../support/libvirt-rpc.js';

/** What the client does with the bytes of one frame (length word included): the stats, or the error it carries. */
function decodeAsClient(bytes: Buffer): DomainStats[] | string | undefined {
  const r = new FrameReader();
  r.push(bytes);
  const f = r.next();
  if (!f) return undefined;
  const { header, body } = decodeFrame(f);
  if (header.status === 1) return decodeRemoteError(body).message;
  return parseDomainStats(decodeGetAllDomainStats(body));
}

/** The result, or undefined for a ParseError; anything else, or a slow decode, fails with the input. */
function decodeOrRefuse(bytes: Buffer): DomainStats[] | string | undefined {
  const t0 = performance.now();
  try {
    return decodeAsClient(bytes);
  } catch (err) {
    if (err instanceof ParseError) return undefined;
    assert.fail(`threw ${String(err)} instead of a ParseError for ${bytes.toString('hex').slice(0, 4000)}`);
  } finally {
    const ms = performance.now() - t0;
    assert.ok(ms < 200, `${ms.toFixed(0)} ms for ${String(bytes.length)} bytes`);
  }
}

function assertWellFormed(result: DomainStats[] | string | undefined, input: Buffer): void {
  if (!Array.isArray(result)) return;
  const where = input.toString('hex').slice(0, 2000);
  for (const d of result) {
    assert.match(d.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, where);
    for (const b of d.blocks) assert.equal(typeof b.name, 'string', where);
  }
  for (const [path, n] of numbersOf(result))
    assert.ok(Number.isInteger(n) && n >= 0 && n <= 2 ** 64, `${path} = ${String(n)} from ${where}`);
}

/** 32-bit values that hit bounds: lengths and counts of 0, just over what is left, the maxima, and 2^32 − 1. */
const EDGE_WORDS = [
  0,
  1,
  3,
  4,
  7,
  8,
  27,
  28,
  255,
  16384,
  16385,
  262144,
  262145,
  4194304,
  4194305,
  2 ** 31,
  2 ** 32 - 1,
];

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'word'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'cut'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    kind: fc.constant('word' as const),
    // Aligned: XDR's counts and lengths sit on 4-byte boundaries.
    at: fc.nat().map((n) => n * 4),
    value: fc.oneof(fc.constantFrom(...EDGE_WORDS), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
);

/** A copy of `sample` with `edits`; the length word is kept true to the new size unless the edit is on it. */
function mutated(sample: Buffer, edits: Mutation[], fixLength: boolean): Buffer {
  let b = Buffer.from(sample);
  for (const e of edits) {
    const at = e.at % (b.length + 1);
    if (e.kind === 'flip' && at < b.length) b[at]! ^= 1 << e.bit;
    else if (e.kind === 'word' && at + 4 <= b.length) b.writeUInt32BE(e.value, at - (at % 4));
    else if (e.kind === 'insert') b = Buffer.concat([b.subarray(0, at), e.bytes, b.subarray(at)]);
    else if (e.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.length)]);
    else if (e.kind === 'cut') b = b.subarray(0, at);
  }
  if (fixLength && b.length >= 4) b.writeUInt32BE(b.length, 0);
  return b;
}

describe('fuzz: libvirt RPC decoding', () => {
  test('the recorded reply, unmutated, decodes', () => {
    const r = decodeOrRefuse(STATS_REPLY);
    assert.ok(Array.isArray(r) && r[0]!.uuid === SESSION.domain.uuid);
  });

  test('random bytes: only ParseError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const b = Buffer.from(bytes);
        if (b.length >= 4) b.writeUInt32BE(b.length, 0);
        assertWellFormed(decodeOrRefuse(b), b);
      }),
      runs(2000),
    );
  });

  test('the recorded stats reply mutated: only ParseError, and well formed when accepted', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), (edits, fixLength) => {
        const b = mutated(STATS_REPLY, edits, fixLength);
        assertWellFormed(decodeOrRefuse(b), b);
      }),
      runs(3000),
    );
  });

  test('every aligned word of the recorded reply and the real error reply set to every edge value', () => {
    for (const sample of [STATS_REPLY, SESSION.errorReply]) {
      for (let at = 4; at + 4 <= sample.length; at += 4) {
        for (const value of EDGE_WORDS) {
          const b = mutated(sample, [{ kind: 'word', at, value }], false);
          assertWellFormed(decodeOrRefuse(b), b);
        }
      }
    }
  });

  test('the client fed random daemon scripts: a LibvirtError or a ParseError, never later than the deadline', async () => {
    const pieces = fc.oneof(
      fc.constantFrom(...DAEMON_FRAMES, SESSION.pong, SESSION.errorReply),
      fc
        .tuple(fc.constantFrom(STATS_REPLY, SESSION.errorReply), fc.array(mutation, { maxLength: 3 }))
        .map(([s, e]) => mutated(s, e, true)),
      fc.uint8Array({ maxLength: 32 }).map((b) => Buffer.from(b)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(pieces, { maxLength: 5 }), async (script) => {
        const daemon = await fakeDaemon(
          daemonLike((call) => {
            const stats = Buffer.concat(script);
            // The serial of this call where a recorded reply has serial 3, so that some replies are taken.
            for (let at = 0; at + 24 <= stats.length; at += 4)
              if (stats.readUInt32BE(at) === 0x158 && stats.readUInt32BE(at + 8) === 3)
                stats.writeUInt32BE(call.header.serial, at + 8);
            return stats;
          }),
        );
        const client = new LibvirtClient({ socketPath: daemon.path });
        const t0 = Date.now();
        try {
          await client.connect(t0 + 300);
          await client.allDomainStats(t0 + 300);
        } catch (err) {
          assert.ok(err instanceof LibvirtError || err instanceof ParseError, String(err));
        } finally {
          await client.close(Date.now() + 100);
        }
        assert.ok(Date.now() - t0 < 700, `${String(Date.now() - t0)} ms`);
      }),
      runs(30),
    );
  });
});
