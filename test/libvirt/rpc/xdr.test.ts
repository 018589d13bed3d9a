/** XDR as libvirt's RPC bodies use it: round trips, padding, 64-bit values kept exact, and every bound checked. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ParseError } from '../../../src/host/parse-error.js';
import { XdrReader, XdrWriter } from '../../../src/host/libvirt/rpc/xdr.js';
import { runs } from '../../support/fuzz.js';

const reader = (b: Buffer | number[]) => new XdrReader(Buffer.isBuffer(b) ? b : Buffer.from(b));
const refused = (fn: () => unknown, re: RegExp) => {
  assert.throws(fn, (err) => err instanceof ParseError && re.test(err.message));
};

describe('XDR', () => {
  test('round trips of every type the client reads', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.double(),
        fc.boolean(),
        fc.string({ unit: 'grapheme', maxLength: 40 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 10 }),
        fc.option(fc.string({ maxLength: 9 }), { nil: undefined }),
        (i, u, h, uh, d, b, s, uuid, arr, opt) => {
          const buf = new XdrWriter()
            .int(i)
            .uint(u)
            .hyper(h)
            .uhyper(uh)
            .double(d)
            .bool(b)
            .string(s, 1000)
            .opaqueFixed(Buffer.from(uuid), 16)
            .array(arr, 10, (w, v) => w.int(v))
            .optional(opt, (w, v) => w.string(v, 100))
            .toBuffer();
          assert.equal(buf.length % 4, 0, 'every item is a multiple of 4 bytes');
          const r = reader(buf);
          assert.equal(r.int(), i);
          assert.equal(r.uint(), u);
          assert.equal(r.hyper(), h);
          assert.equal(r.uhyper(), uh);
          assert.ok(Object.is(r.double(), d));
          assert.equal(r.bool(), b);
          assert.equal(r.string(1000), s);
          assert.deepEqual([...r.opaqueFixed(16)], [...uuid]);
          assert.deepEqual(
            r.array(10, (x) => x.int()),
            arr,
          );
          assert.equal(
            r.optional((x) => x.string(100)),
            opt,
          );
          r.done('the round trip');
        },
      ),
      runs(300),
    );
  });

  test('strings are padded with zeros to 4 bytes; the empty string is its length alone', () => {
    const enc = (s: string) => new XdrWriter().string(s, 100).toBuffer();
    assert.deepEqual([...enc('')], [0, 0, 0, 0]);
    assert.deepEqual([...enc('abc')], [0, 0, 0, 3, 97, 98, 99, 0]);
    assert.deepEqual([...enc('abcd')], [0, 0, 0, 4, 97, 98, 99, 100]);
    assert.deepEqual([...enc('abcde')], [0, 0, 0, 5, 97, 98, 99, 100, 101, 0, 0, 0]);
    // The padding is consumed: what follows is read from the right place.
    const r = reader(Buffer.concat([enc('a'), new XdrWriter().int(7).toBuffer()]));
    assert.equal(r.string(10), 'a');
    assert.equal(r.int(), 7);
    // A string whose padding is missing is cut short.
    refused(() => reader([0, 0, 0, 1, 97]).string(10), /needs 4 bytes, 1 left/);
  });

  test('64-bit values are exact bigints: 2^53 + 1, 2^64 − 1 and −2^63 come back as they went', () => {
    for (const v of [2n ** 53n + 1n, 2n ** 64n - 1n, 12345678901234567891n]) {
      assert.equal(reader(new XdrWriter().uhyper(v).toBuffer()).uhyper(), v);
    }
    for (const v of [-(2n ** 63n), 2n ** 63n - 1n, -1n, 2n ** 53n + 3n]) {
      assert.equal(reader(new XdrWriter().hyper(v).toBuffer()).hyper(), v);
    }
    // The same 8 bytes, signed and unsigned.
    assert.equal(reader(Buffer.alloc(8, 0xff)).hyper(), -1n);
    assert.equal(reader(Buffer.alloc(8, 0xff)).uhyper(), 2n ** 64n - 1n);
  });

  test('every read is bounds-checked: a short buffer is a ParseError naming what was being read', () => {
    refused(() => reader([0, 0, 0]).int('proc'), /proc needs 4 bytes, 3 left/);
    refused(() => reader([0, 0, 0, 0, 0, 0, 0]).uhyper('rd.reqs'), /rd\.reqs needs 8 bytes, 7 left/);
    refused(() => reader([0, 0, 0]).double(), /needs 8 bytes/);
    refused(() => reader(Buffer.alloc(15)).opaqueFixed(16, 'uuid'), /uuid needs 16 bytes, 15 left/);
    // A reader over part of a buffer does not read past its end.
    refused(() => new XdrReader(Buffer.alloc(8), 2, 4).int(), /needs 4 bytes, 2 left/);
  });

  test('counts are checked against their maximum, and against what is left, before anything is read', () => {
    refused(() => reader([0, 0, 0, 11, ...Buffer.alloc(12)]).string(10, 'name'), /name has 11 elements.*maximum 10/);
    refused(() => reader([0xff, 0xff, 0xff, 0xff]).string(4194304), /4294967295 elements, more than its maximum/);
    // An array of 1000 items in 8 bytes cannot be: refused before its first item.
    let items = 0;
    refused(
      () =>
        reader([0, 0, 3, 0xe8, 0, 0, 0, 0, 0, 0, 0, 0]).array(
          16384,
          (x) => {
            items++;
            return x.int();
          },
          'records',
        ),
      /records claims 1000 elements in 8 bytes/,
    );
    assert.equal(items, 0);
  });

  test('a bool is 0 or 1, trailing bytes are refused, the writer refuses what the reader would', () => {
    refused(() => reader([0, 0, 0, 2]).bool('presence'), /presence is 2, not a bool/);
    refused(() => reader([0, 0, 0, 1, 0]).optional((x) => x.int()), /needs 4 bytes, 1 left/);
    const r = reader([0, 0, 0, 1, 0, 0, 0, 0]);
    r.int();
    refused(() => {
      r.done('remote_auth_polkit_ret');
    }, /4 bytes left over after remote_auth_polkit_ret/);
    assert.throws(() => new XdrWriter().string('abc', 2), RangeError);
    assert.throws(() => new XdrWriter().array([1, 2], 1, () => undefined), RangeError);
    assert.throws(() => new XdrWriter().opaqueFixed(Buffer.alloc(3), 16), RangeError);
  });

  test('invalid UTF-8 in a string becomes U+FFFD, never an exception', () => {
    assert.equal(reader([0, 0, 0, 2, 0xc3, 0x28, 0, 0]).string(10), '\uFFFD(');
  });
});
