/**
 * libvirt RPC pieces for the client's tests: the recorded session (test/fixtures/libvirt-rpc, from
 * capture-libvirt-rpc.ts), frames and typed params built by hand, and a fake daemon on a UNIX socket.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { after } from 'node:test';
import { FrameReader } from '../../src/host/libvirt/rpc/frame-reader.js';
import {
  decodeFrame,
  MessageType,
  Proc,
  REMOTE_PROGRAM,
  Status,
  type Header,
} from '../../src/host/libvirt/rpc/protocol.js';
import { XdrWriter } from '../../src/host/libvirt/rpc/xdr.js';

interface SessionFile {
  capturedWith: string;
  domain: { name: string; uuid: string };
  frames: { from: 'client' | 'daemon'; frame: string }[];
  errorReply: string;
  pong: string;
  virshDomstats: Record<string, string>;
}

const file = JSON.parse(
  readFileSync(new URL('../fixtures/libvirt-rpc/session.json', import.meta.url), 'utf8'),
) as SessionFile;

/** The recorded session: each frame whole (length word included), in order. */
export const SESSION = {
  ...file,
  frames: file.frames.map((f) => ({ from: f.from, frame: Buffer.from(f.frame, 'base64') })),
  errorReply: Buffer.from(file.errorReply, 'base64'),
  pong: Buffer.from(file.pong, 'base64'),
};
const v = file.virshDomstats;
/** The recorded domain's disk as `virsh domstats` gave it, in the shape the client decodes it to. */
export const VIRSH_BLOCK0 = {
  name: v['block.0.name'],
  path: v['block.0.path'],
  rdReqs: Number(v['block.0.rd.reqs']),
  rdBytes: Number(v['block.0.rd.bytes']),
  rdTimesNs: Number(v['block.0.rd.times']),
  wrReqs: Number(v['block.0.wr.reqs']),
  wrBytes: Number(v['block.0.wr.bytes']),
  wrTimesNs: Number(v['block.0.wr.times']),
  flReqs: Number(v['block.0.fl.reqs']),
  flTimesNs: Number(v['block.0.fl.times']),
};
/** The daemon's side of the session, frame by frame. */
export const DAEMON_FRAMES = SESSION.frames.filter((f) => f.from === 'daemon').map((f) => f.frame);
/** The recorded stats reply (CONNECT_GET_ALL_DOMAIN_STATS, serial 3). */
export const STATS_REPLY = DAEMON_FRAMES.find((f) => f.readInt32BE(12) === Proc.CONNECT_GET_ALL_DOMAIN_STATS)!;

/** A whole frame (length word, header, body); header fields default to a REMOTE_PROGRAM REPLY, OK. */
export function frame(h: Partial<Header> & { proc: number; serial: number }, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = new XdrWriter()
    .uint(28 + body.length)
    .uint(h.prog ?? REMOTE_PROGRAM)
    .uint(h.vers ?? 1)
    .int(h.proc)
    .int(h.type ?? MessageType.REPLY)
    .uint(h.serial)
    .int(h.status ?? Status.OK)
    .toBuffer();
  return Buffer.concat([head, body]);
}

/** A typed param as remote_typed_param encodes it: INT/UINT/DOUBLE/BOOLEAN a number, LLONG/ULLONG a bigint. */
export type Param =
  | { field: string; type: 1 | 2 | 5 | 6; value: number }
  | { field: string; type: 3 | 4; value: bigint }
  | { field: string; type: 7; value: string };

export function writeParam(w: XdrWriter, p: Param): void {
  w.string(p.field, 4194304).int(p.type);
  const v = p.value;
  if (typeof v === 'string') w.string(v, 4194304);
  else if (typeof v === 'bigint') {
    if (p.type === 3) w.hyper(v);
    else w.uhyper(v);
  } else if (p.type === 2) w.uint(v);
  else if (p.type === 5) w.double(v);
  else w.int(v);
}

/** remote_connect_get_all_domain_stats_ret for `records`. */
export function statsBody(records: { name: string; uuid: string; id?: number; params: Param[] }[]): Buffer {
  return new XdrWriter()
    .array(records, 16384, (w, r) => {
      w.string(r.name, 4194304)
        .opaqueFixed(Buffer.from(r.uuid.replace(/-/g, ''), 'hex'), 16)
        .int(r.id ?? 1)
        .array(r.params, 262144, writeParam);
    })
    .toBuffer();
}

/** A remote_error body: code, domain, message, level, and every optional member absent. */
export function remoteErrorBody(code: number, domain: number, message: string | undefined): Buffer {
  return new XdrWriter()
    .int(code)
    .int(domain)
    .optional(message, (w, s) => w.string(s, 4194304))
    .int(2)
    .bool(false)
    .bool(false)
    .bool(false)
    .bool(false)
    .int(0)
    .int(0)
    .bool(false)
    .toBuffer();
}

export interface Call {
  header: Header;
  body: Buffer;
}

const DIR = mkdtempSync(`${tmpdir()}/libvirt-peer-`);
after(() => {
  rmSync(DIR, { recursive: true, force: true });
});
let n = 0;

/**
 * A fake daemon at a fresh socket path: `onCall` gets each call the client sends (framed) and plays the daemon.
 * `connections` counts the clients that came; everything is closed after the test file.
 */
export async function fakeDaemon(
  onCall: (call: Call, sock: Socket) => void,
  onConnection: (sock: Socket) => void = () => undefined,
): Promise<{ path: string; connections: () => number; calls: Call[] }> {
  const path = `${DIR}/${String(++n)}.sock`;
  const sockets = new Set<Socket>();
  const calls: Call[] = [];
  let connections = 0;
  const server = createServer((sock) => {
    connections++;
    sockets.add(sock);
    sock.on('error', () => undefined); // the client hanging up mid-write is the point of several tests
    sock.on('close', () => sockets.delete(sock));
    const reader = new FrameReader();
    sock.on('data', (d: Buffer) => {
      reader.push(d);
      for (let f = reader.next(); f; f = reader.next()) {
        const call = decodeFrame(f);
        calls.push(call);
        onCall(call, sock);
      }
    });
    onConnection(sock);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { path, connections: () => connections, calls };
}

/** The answers of a libvirtd that lets the client in (auth `none`) and answers stats with `stats(call)`. */
export function daemonLike(
  stats: (call: Call, sock: Socket) => Buffer | undefined,
): (call: Call, sock: Socket) => void {
  return (call, sock) => {
    const { proc, serial } = call.header;
    let out: Buffer | undefined;
    if (proc === Proc.AUTH_LIST) out = frame({ proc, serial }, new XdrWriter().uint(1).int(0).toBuffer());
    else if (proc === Proc.CONNECT_OPEN || proc === Proc.CONNECT_CLOSE) out = frame({ proc, serial });
    else out = stats(call, sock);
    if (out) sock.write(out);
  };
}

/** A stats reply to `call` with `body`. */
export const statsReply = (call: Call, body: Buffer): Buffer =>
  frame({ proc: call.header.proc, serial: call.header.serial }, body);

/** The recorded stats body, with its serial set to that of `call`. */
export function recordedStatsReply(call: Call): Buffer {
  const f = Buffer.from(STATS_REPLY);
  f.writeUInt32BE(call.header.serial, 20);
  return f;
}
