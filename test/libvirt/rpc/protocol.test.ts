/**
 * libvirt's RPC messages, checked against the bytes of a real libvirtd 9.0 (test/fixtures/libvirt-rpc) and against
 * remote_protocol.x / virnetprotocol.x: the calls the client encodes, the frame length's bounds, typed params of
 * every type, remote_error, and the stats turned into per-domain blocks and vCPUs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ParseError } from '../../../src/host/parse-error.js';
import { parseDomainStats } from '../../../src/host/libvirt/rpc/domain-stats.js';
import {
  decodeAuthList,
  decodeFrame,
  decodeGetAllDomainStats,
  decodeRemoteError,
  encodeCall,
  encodeConnectOpen,
  encodeGetAllDomainStats,
  frameLength,
  KEEPALIVE_PROGRAM,
  MAX_FRAME,
  MessageType,
  Proc,
  VIR_CONNECT_RO,
} from '../../../src/host/libvirt/rpc/protocol.js';
import { XdrWriter } from '../../../src/host/libvirt/rpc/xdr.js';
import {
  remoteErrorBody,
  SESSION,
  STATS_REPLY,
  statsBody,
  VIRSH_BLOCK0,
  type Param,
} from '../../support/libvirt-rpc.js';

const word = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const isParseError = (re: RegExp) => (err: unknown) => err instanceof ParseError && re.test(err.message);
const UUID = '5f1c3a2e-7d4b-4e6a-9c1d-2b3a4c5d6e7f';

describe('libvirt RPC protocol', () => {
  test("the client's calls are byte for byte those it sent the real libvirtd", () => {
    const client = SESSION.frames.filter((f) => f.from === 'client').map((f) => f.frame);
    assert.deepEqual(client, [
      encodeCall(Proc.AUTH_LIST, 1),
      encodeCall(Proc.CONNECT_OPEN, 2, encodeConnectOpen('qemu:///system', VIR_CONNECT_RO)),
      // VCPU | BLOCK (8 | 32); ACTIVE | NOWAIT (1 | 1 << 29); no domains: all of them
      encodeCall(Proc.CONNECT_GET_ALL_DOMAIN_STATS, 3, encodeGetAllDomainStats(40, 0x20000001)),
      encodeCall(Proc.CONNECT_CLOSE, 4),
    ]);
    // Every daemon frame is a REPLY, OK, to the call of its serial.
    const daemon = SESSION.frames.filter((f) => f.from === 'daemon').map((f) => decodeFrame(f.frame.subarray(4)));
    assert.deepEqual(
      daemon.map((d) => [d.header.proc, d.header.serial, d.header.type, d.header.status]),
      [
        [66, 1, 1, 0],
        [1, 2, 1, 0],
        [344, 3, 1, 0],
        [2, 4, 1, 0],
      ],
    );
    assert.deepEqual(decodeAuthList(daemon[0]!.body), [0]);
  });

  test('the frame length counts itself: below a header (0, 4, 27) and above VIR_NET_MESSAGE_MAX + 4 refused', () => {
    for (const n of [0, 4, 27]) assert.throws(() => frameLength(word(n)), isParseError(/shorter than its header/));
    for (const n of [MAX_FRAME + 1, 2 ** 31, 2 ** 32 - 1])
      assert.throws(() => frameLength(word(n)), isParseError(/over the maximum 33554436/));
    assert.equal(frameLength(word(28)), 28);
    assert.equal(frameLength(word(MAX_FRAME)), 33554436);
  });

  test('a keepalive PONG from the real daemon: program "keep", a MESSAGE with serial 0', () => {
    const { header, body } = decodeFrame(SESSION.pong.subarray(4));
    assert.deepEqual(header, {
      prog: KEEPALIVE_PROGRAM,
      vers: 1,
      proc: 2,
      type: MessageType.MESSAGE,
      serial: 0,
      status: 0,
    });
    assert.equal(body.length, 0);
  });

  test("the real daemon's error reply (stats before CONNECT_OPEN): code, domain, message", () => {
    const { header, body } = decodeFrame(SESSION.errorReply.subarray(4));
    assert.equal(header.status, 1);
    assert.deepEqual(decodeRemoteError(body), {
      code: 1, // VIR_ERR_INTERNAL_ERROR
      domain: 7, // VIR_FROM_RPC
      message: 'internal error: hypervisor connection not open',
      level: 2, // VIR_ERR_ERROR
    });
  });

  test('remote_error: no message, a dom and a net present, and one cut short', () => {
    assert.equal(decodeRemoteError(remoteErrorBody(42, 10, undefined)).message, undefined);
    const full = new XdrWriter()
      .int(42)
      .int(10)
      .optional('Domain not found', (w, s) => w.string(s, 100))
      .int(2)
      .optional('dom', (w, s) => w.string(s, 100).opaqueFixed(Buffer.alloc(16), 16).int(3))
      .optional('s1', (w, s) => w.string(s, 100))
      .optional(undefined, () => undefined)
      .optional('s3', (w, s) => w.string(s, 100))
      .int(5)
      .int(6)
      .optional('net', (w, s) => w.string(s, 100).opaqueFixed(Buffer.alloc(16), 16))
      .toBuffer();
    assert.deepEqual(decodeRemoteError(full), { code: 42, domain: 10, message: 'Domain not found', level: 2 });
    assert.throws(() => decodeRemoteError(full.subarray(0, full.length - 4)), ParseError);
    assert.throws(() => decodeRemoteError(Buffer.concat([full, word(0)])), isParseError(/left over/));
  });

  test('typed params of every type (libvirt-common.h: INT 1 … STRING 7)', () => {
    const params: Param[] = [
      { field: 'i', type: 1, value: -5 },
      { field: 'ui', type: 2, value: 4294967295 },
      { field: 'l', type: 3, value: -(2n ** 63n) },
      { field: 'ul', type: 4, value: 2n ** 64n - 1n },
      { field: 'd', type: 5, value: 0.25 },
      { field: 'b0', type: 6, value: 0 },
      { field: 'b1', type: 6, value: 1 },
      { field: 'b7', type: 6, value: 7 },
      { field: 's', type: 7, value: 'sdc' },
    ];
    const [rec] = decodeGetAllDomainStats(statsBody([{ name: 'vm', uuid: UUID, id: 3, params }]));
    assert.deepEqual(rec, {
      name: 'vm',
      uuid: UUID,
      id: 3,
      params: [
        { field: 'i', value: -5 },
        { field: 'ui', value: 4294967295 },
        { field: 'l', value: -(2n ** 63n) },
        { field: 'ul', value: 2n ** 64n - 1n },
        { field: 'd', value: 0.25 },
        { field: 'b0', value: false },
        { field: 'b1', value: true },
        // `int b` on the wire: any non-zero is true, as libvirt's C reads it
        { field: 'b7', value: true },
        { field: 's', value: 'sdc' },
      ],
    });
    for (const type of [0, 8, -1]) {
      const body = new XdrWriter()
        .uint(1)
        .string('vm', 10)
        .opaqueFixed(Buffer.alloc(16), 16)
        .int(1)
        .uint(1)
        .string('x', 10)
        .int(type)
        .int(0)
        .toBuffer();
      assert.throws(() => decodeGetAllDomainStats(body), isParseError(new RegExp(`unknown type ${String(type)}`)));
    }
  });

  test('the recorded stats reply: the domain, its disk and vCPUs, as virsh domstats said them', () => {
    const [dom, ...others] = parseDomainStats(decodeGetAllDomainStats(STATS_REPLY.subarray(28)));
    assert.equal(others.length, 0);
    const v = SESSION.virshDomstats;
    assert.equal(dom!.name, SESSION.domain.name);
    assert.equal(dom!.uuid, SESSION.domain.uuid);
    assert.deepEqual(dom!.blocks, [VIRSH_BLOCK0]);
    assert.deepEqual(
      dom!.vcpus.map((c) => c.vcpu),
      [0, 1],
    );
    assert.equal(dom!.vcpus[1]!.delayNs, Number(v['vcpu.1.delay']));
  });

  test('counters: ULLONG above 2^53 become the nearest double; negative, fractional or text ones are refused', () => {
    const one = (p: Param) =>
      parseDomainStats(
        decodeGetAllDomainStats(
          statsBody([{ name: 'vm', uuid: UUID, params: [{ field: 'block.0.name', type: 7, value: 'vda' }, p] }]),
        ),
      )[0]!.blocks[0]!;
    assert.equal(one({ field: 'block.0.rd.reqs', type: 4, value: 2n ** 64n - 1n }).rdReqs, 2 ** 64);
    assert.equal(one({ field: 'block.0.rd.bytes', type: 4, value: 2n ** 53n + 1n }).rdBytes, 2 ** 53);
    assert.equal(one({ field: 'block.0.rd.bytes', type: 2, value: 7 }).rdBytes, 7);
    for (const p of [
      { field: 'block.0.rd.reqs', type: 3, value: -1n },
      { field: 'block.0.rd.reqs', type: 1, value: -1 },
      { field: 'block.0.rd.reqs', type: 5, value: 1.5 },
      { field: 'block.0.rd.reqs', type: 7, value: 'x'.repeat(1000) },
    ] as Param[])
      assert.throws(
        () => one(p),
        (err) => err instanceof ParseError && /not a counter/.test(err.message) && err.message.length < 200,
      );
    assert.throws(() => one({ field: 'block.0.name', type: 4, value: 9n }), isParseError(/is 9, not a string/));
  });
});
