/**
 * libvirt's RPC protocol, the few calls a read-only statistics client makes. Every constant is libvirt's own, from
 * src/rpc/virnetprotocol.x (framing, header, remote_error), src/remote/remote_protocol.x (program, procedures,
 * their arguments and replies) and include/libvirt/*.h (flags); the limits that changed over libvirt's history are
 * those of libvirt 9.0, checked in its libvirt.so (the xdr_* routines and virNetMessageDecodeLength).
 */
import { ParseError } from '../../parse-error.js';
import { XdrReader, XdrWriter } from './xdr.js';

/** remote_protocol.x: REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION. */
export const REMOTE_PROGRAM = 0x20008086;
export const REMOTE_PROTOCOL_VERSION = 1;
/** virkeepaliveprotocol.x: KEEPALIVE_PROGRAM ("keep"); its PING and PONG are MESSAGEs. */
export const KEEPALIVE_PROGRAM = 0x6b656570;

/** virnetprotocol.x: enum virNetMessageType. */
export const MessageType = { CALL: 0, REPLY: 1, MESSAGE: 2, STREAM: 3, CALL_WITH_FDS: 4, REPLY_WITH_FDS: 5 } as const;
/** virnetprotocol.x: enum virNetMessageStatus. */
export const Status = { OK: 0, ERROR: 1, CONTINUE: 2 } as const;

/** virnetprotocol.x: VIR_NET_MESSAGE_LEN_MAX, the length word, which counts itself. */
const LEN_BYTES = 4;
/** virnetprotocol.x: VIR_NET_MESSAGE_HEADER_MAX, six 4-byte fields. */
const HEADER_BYTES = 24;
/** The smallest frame: a length word and a header, no body. */
export const MIN_FRAME = LEN_BYTES + HEADER_BYTES;
/**
 * virnetprotocol.x: VIR_NET_MESSAGE_MAX, which does not count the length word (virnetmessage.c,
 * virNetMessageDecodeLength). 32 MiB since libvirt 5.x (it was 16 MiB before); 0x2000000 in libvirt 9.0's binary.
 */
export const MAX_MESSAGE = 33554432;
export const MAX_FRAME = MAX_MESSAGE + LEN_BYTES;

/** remote_protocol.x: REMOTE_STRING_MAX (4 MiB; VIR_NET_MESSAGE_STRING_MAX in virnetprotocol.x is the same). */
const STRING_MAX = 4194304;
/** remote_protocol.x: REMOTE_DOMAIN_LIST_MAX. */
const DOMAIN_LIST_MAX = 16384;
/** remote_protocol.x: REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX, typed params per domain: 4096 until libvirt 5.x, 262144 (0x40000) in 9.0. */
const DOMAIN_STATS_PARAMS_MAX = 262144;
/** remote_protocol.x: REMOTE_AUTH_TYPE_LIST_MAX. */
const AUTH_TYPE_LIST_MAX = 20;
/** libvirt-host.h: VIR_UUID_BUFLEN. */
const UUID_BYTES = 16;

/** remote_protocol.x: enum remote_procedure. */
export const Proc = {
  CONNECT_OPEN: 1,
  CONNECT_CLOSE: 2,
  AUTH_LIST: 66,
  AUTH_POLKIT: 70,
  CONNECT_GET_ALL_DOMAIN_STATS: 344,
} as const;

/** remote_protocol.x: enum remote_auth_type. */
export const AuthType = { NONE: 0, SASL: 1, POLKIT: 2 } as const;

/** libvirt-host.h: virConnectFlags. */
export const VIR_CONNECT_RO = 1 << 0;

/** libvirt-domain.h: virDomainStatsTypes. */
export const DomainStatsType = { VCPU: 1 << 3, BLOCK: 1 << 5 } as const;

/** libvirt-domain.h: virConnectGetAllDomainStatsFlags (ACTIVE is VIR_CONNECT_LIST_DOMAINS_ACTIVE). */
export const GetAllDomainStatsFlag = { ACTIVE: 1 << 0, NOWAIT: 1 << 29 } as const;

/** virnetprotocol.x: struct virNetMessageHeader. */
export interface Header {
  prog: number;
  vers: number;
  proc: number;
  type: number;
  serial: number;
  status: number;
}

/** The frame length from its first 4 bytes; refused below a header or above MAX_FRAME, before anything is read. */
export function frameLength(word: Buffer): number {
  const len = word.readUInt32BE(0);
  if (len < MIN_FRAME) throw new ParseError(`libvirt RPC: a frame of ${len} bytes is shorter than its header`);
  if (len > MAX_FRAME) throw new ParseError(`libvirt RPC: a frame of ${len} bytes is over the maximum ${MAX_FRAME}`);
  return len;
}

/** A frame without its length word → its header, and its body (a view, not a copy). */
export function decodeFrame(rest: Buffer): { header: Header; body: Buffer } {
  const r = new XdrReader(rest);
  const header: Header = {
    prog: r.uint('prog'),
    vers: r.uint('vers'),
    proc: r.int('proc'),
    type: r.int('type'),
    serial: r.uint('serial'),
    status: r.int('status'),
  };
  return { header, body: rest.subarray(HEADER_BYTES) };
}

/** A CALL of REMOTE_PROGRAM: length word, header, body. */
export function encodeCall(proc: number, serial: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = new XdrWriter()
    .uint(MIN_FRAME + body.length)
    .uint(REMOTE_PROGRAM)
    .uint(REMOTE_PROTOCOL_VERSION)
    .int(proc)
    .int(MessageType.CALL)
    .uint(serial)
    .int(Status.OK)
    .toBuffer();
  return Buffer.concat([head, body]);
}

/** remote_connect_open_args {remote_string name; unsigned int flags}. */
export function encodeConnectOpen(name: string | undefined, flags: number): Buffer {
  return new XdrWriter()
    .optional(name, (w, s) => w.string(s, STRING_MAX))
    .uint(flags)
    .toBuffer();
}

/** remote_connect_get_all_domain_stats_args {remote_nonnull_domain doms<>; unsigned int stats; unsigned int flags}, no doms: all. */
export function encodeGetAllDomainStats(stats: number, flags: number): Buffer {
  return new XdrWriter()
    .array([], DOMAIN_LIST_MAX, () => undefined)
    .uint(stats)
    .uint(flags)
    .toBuffer();
}

/** remote_auth_list_ret {remote_auth_type types<REMOTE_AUTH_TYPE_LIST_MAX>}. */
export function decodeAuthList(body: Buffer): number[] {
  const r = new XdrReader(body);
  const types = r.array(AUTH_TYPE_LIST_MAX, (x) => x.int('auth type'), 'auth types');
  r.done('remote_auth_list_ret');
  return types;
}

/** remote_auth_polkit_ret {int complete}. */
export function decodeAuthPolkit(body: Buffer): boolean {
  const r = new XdrReader(body);
  const complete = r.int('complete');
  r.done('remote_auth_polkit_ret');
  return complete !== 0;
}

/** The empty reply of a call without a `_ret` struct (CONNECT_OPEN, CONNECT_CLOSE). */
export function decodeVoid(body: Buffer, what: string): void {
  new XdrReader(body).done(what);
}

/** remote_typed_param: the value by its type (libvirt-common.h.in: virTypedParameterType 1–7). */
export interface TypedParam {
  field: string;
  /** INT, UINT and DOUBLE as a number; LLONG and ULLONG as an exact bigint. */
  value: number | bigint | boolean | string;
}

/** remote_domain_stats_record: the domain (remote_nonnull_domain) and its typed params. */
export interface DomainStatsRecord {
  name: string;
  /** 8-4-4-4-12 lowercase hex, as virsh prints it. */
  uuid: string;
  /** -1 for an inactive domain. */
  id: number;
  params: TypedParam[];
}

export function formatUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function typedParam(r: XdrReader): TypedParam {
  const field = r.string(STRING_MAX, 'typed param field');
  const type = r.int('typed param type');
  switch (type) {
    case 1:
      return { field, value: r.int(field) };
    case 2:
      return { field, value: r.uint(field) };
    case 3:
      return { field, value: r.hyper(field) };
    case 4:
      return { field, value: r.uhyper(field) };
    case 5:
      return { field, value: r.double(field) };
    case 6:
      // `int b` on the wire (remote_typed_param_value), not an XDR bool.
      return { field, value: r.int(field) !== 0 };
    case 7:
      return { field, value: r.string(STRING_MAX, field) };
    default:
      throw new ParseError(`libvirt RPC: typed param ${JSON.stringify(field.slice(0, 80))} has unknown type ${type}`);
  }
}

function statsRecord(r: XdrReader): DomainStatsRecord {
  const name = r.string(STRING_MAX, 'domain name');
  const uuid = formatUuid(r.opaqueFixed(UUID_BYTES, 'domain uuid'));
  const id = r.int('domain id');
  const params = r.array(DOMAIN_STATS_PARAMS_MAX, typedParam, 'typed params');
  return { name, uuid, id, params };
}

/** remote_connect_get_all_domain_stats_ret {remote_domain_stats_record retStats<REMOTE_DOMAIN_LIST_MAX>}. */
export function decodeGetAllDomainStats(body: Buffer): DomainStatsRecord[] {
  const r = new XdrReader(body);
  const records = r.array(DOMAIN_LIST_MAX, statsRecord, 'domain stats records');
  r.done('remote_connect_get_all_domain_stats_ret');
  return records;
}

/** remote_error: virterror.h's virErrorNumber (`code`), virErrorDomain (`domain`), the message and the level. */
export interface RemoteError {
  code: number;
  domain: number;
  message: string | undefined;
  level: number;
}

/** remote_error (virnetprotocol.x: virNetMessageError), the body of a REPLY with status ERROR. */
export function decodeRemoteError(body: Buffer): RemoteError {
  const r = new XdrReader(body);
  const str = (x: XdrReader) => x.string(STRING_MAX, 'error string');
  const code = r.int('error code');
  const domain = r.int('error domain');
  const message = r.optional(str, 'error message');
  const level = r.int('error level');
  // dom (unused), str1–3, int1–2, net (unused): read to check the body is a remote_error, then dropped.
  r.optional((x) => {
    x.string(STRING_MAX, 'error dom name');
    x.opaqueFixed(UUID_BYTES, 'error dom uuid');
    x.int('error dom id');
  }, 'error dom');
  for (let i = 0; i < 3; i++) r.optional(str, 'error str');
  r.int('error int1');
  r.int('error int2');
  r.optional((x) => {
    x.string(STRING_MAX, 'error net name');
    x.opaqueFixed(UUID_BYTES, 'error net uuid');
  }, 'error net');
  r.done('remote_error');
  return { code, domain, message, level };
}
