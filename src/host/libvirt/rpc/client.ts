/**
 * A read-only libvirt client speaking the RPC protocol itself over libvirtd's (or virtqemud's) read-only UNIX
 * socket: no native binding, no virsh process. One connection is kept open; every call has a deadline, and a call
 * that misses it closes the connection, so that nothing late is ever read as the answer to something else.
 * Reconnecting (with backoff) is the caller's: `connected` says when it is needed.
 */
import { createConnection, type Socket } from 'node:net';
import { ParseError } from '../../parse-error.js';
import { parseDomainStats, type DomainStats } from './domain-stats.js';
import {
  AuthType,
  DomainStatsType,
  GetAllDomainStatsFlag,
  MessageType,
  Proc,
  REMOTE_PROGRAM,
  REMOTE_PROTOCOL_VERSION,
  Status,
  VIR_CONNECT_RO,
  decodeAuthList,
  decodeAuthPolkit,
  decodeFrame,
  decodeGetAllDomainStats,
  decodeRemoteError,
  decodeVoid,
  encodeCall,
  encodeConnectOpen,
  encodeGetAllDomainStats,
} from './protocol.js';
import { LibvirtError, LibvirtRemoteError, LibvirtTimeoutError } from './errors.js';
import { FrameReader } from './frame-reader.js';

export { LibvirtError, LibvirtRemoteError, LibvirtTimeoutError, type LibvirtErrorKind } from './errors.js';

/** Monolithic libvirtd's read-only socket; the modular daemons' is /run/libvirt/virtqemud-sock-ro. */
export const DEFAULT_SOCKET = '/run/libvirt/libvirt-sock-ro';
export const DEFAULT_URI = 'qemu:///system';

export interface LibvirtClientOptions {
  socketPath?: string;
  /** The driver URI for CONNECT_OPEN. */
  uri?: string;
}

interface Pending {
  proc: number;
  decode: (body: Buffer) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const EMPTY = Buffer.alloc(0);

export class LibvirtClient {
  readonly socketPath: string;
  readonly uri: string;
  private sock: Socket | undefined;
  private opened = false;
  private serial = 0;
  private readonly pending = new Map<number, Pending>();
  private waitingForConnection: ((err?: LibvirtError) => void) | undefined;
  private reader = new FrameReader();

  constructor(opts: LibvirtClientOptions = {}) {
    this.socketPath = opts.socketPath ?? DEFAULT_SOCKET;
    this.uri = opts.uri ?? DEFAULT_URI;
  }

  /** Whether a read-only connection is open: false until `connect()` succeeds, and again once it has dropped. */
  get connected(): boolean {
    return this.opened && this.sock !== undefined;
  }

  /**
   * Opens the socket, authenticates as the daemon asks (AUTH_LIST: `none`, or `polkit` through AUTH_POLKIT; libvirt
   * answers `none` to root on a polkit socket, remote_daemon_dispatch.c) and opens `uri` read-only, by `deadline`
   * (ms since the epoch). Already connected: nothing to do.
   */
  async connect(deadline: number): Promise<void> {
    if (this.connected) return;
    if (this.sock) throw new LibvirtError('connect', this.socketPath, 'connect() while a connection is being opened');
    const sock = this.openSocket();
    try {
      await this.socketConnected(sock, deadline);
      const types = await this.call('AUTH_LIST', Proc.AUTH_LIST, EMPTY, deadline, decodeAuthList);
      if (!types.includes(AuthType.NONE)) {
        if (!types.includes(AuthType.POLKIT))
          throw new LibvirtError(
            'auth',
            this.socketPath,
            `the socket requires ${types.includes(AuthType.SASL) ? 'SASL' : `auth types ${types.join(', ')}`} ` +
              'authentication, which this client does not do: set auth_unix_ro to "none" or "polkit"',
          );
        // polkit answers from its policy (org.libvirt.unix.monitor on a read-only socket): an error reply when denied.
        if (!(await this.call('AUTH_POLKIT', Proc.AUTH_POLKIT, EMPTY, deadline, decodeAuthPolkit)))
          throw new LibvirtError('auth', this.socketPath, 'polkit authentication did not complete');
      }
      // The daemon forces VIR_CONNECT_RO on a read-only socket anyway (remoteDispatchConnectOpen).
      await this.call('CONNECT_OPEN', Proc.CONNECT_OPEN, encodeConnectOpen(this.uri, VIR_CONNECT_RO), deadline, (b) => {
        decodeVoid(b, 'CONNECT_OPEN reply');
      });
      this.opened = true;
    } catch (err) {
      this.fail(sock, err instanceof LibvirtError ? err : new LibvirtError('connect', this.socketPath, String(err)));
      throw err;
    }
  }

  /**
   * Block and vCPU statistics of every running domain, by `deadline`. NOWAIT: libvirt then takes the domain's job
   * with virDomainObjBeginJobNowait instead of waiting (up to 30 s) for a domain busy with another job (a
   * migration, a hung monitor); such a domain is still reported, without what needs QEMU's monitor (its block
   * counters: block.N.name and path remain). ACTIVE: running domains only, since for an inactive one libvirt opens
   * the disk images to size them, which can block on dead storage (qemu_driver.c, qemuConnectGetAllDomainStats and
   * qemuDomainGetStatsOneBlock).
   */
  async allDomainStats(deadline: number): Promise<DomainStats[]> {
    const records = await this.call(
      'CONNECT_GET_ALL_DOMAIN_STATS',
      Proc.CONNECT_GET_ALL_DOMAIN_STATS,
      encodeGetAllDomainStats(
        DomainStatsType.BLOCK | DomainStatsType.VCPU,
        GetAllDomainStatsFlag.ACTIVE | GetAllDomainStatsFlag.NOWAIT,
      ),
      deadline,
      decodeGetAllDomainStats,
    );
    return parseDomainStats(records);
  }

  /** Says CONNECT_CLOSE (while it has until `deadline`), then closes the socket. */
  async close(deadline = Date.now() + 1000): Promise<void> {
    const sock = this.sock;
    if (!sock) return;
    if (this.connected) {
      await this.call('CONNECT_CLOSE', Proc.CONNECT_CLOSE, EMPTY, deadline, (b) => {
        decodeVoid(b, 'CONNECT_CLOSE reply');
      }).catch(() => undefined);
    }
    this.fail(sock, new LibvirtError('closed', this.socketPath, 'the client closed the connection'));
  }

  private openSocket(): Socket {
    const sock = createConnection({ path: this.socketPath });
    let established = false;
    sock.once('connect', () => {
      established = true;
      this.waitingForConnection?.();
    });
    sock.on('data', (chunk: Buffer) => {
      this.onData(sock, chunk);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      this.fail(
        sock,
        new LibvirtError(established ? 'closed' : 'connect', this.socketPath, err.message, {
          cause: err,
          errno: err.code,
        }),
      );
    });
    sock.on('close', () => {
      const partial = this.sock === sock ? this.reader.describePartial() : '';
      this.fail(sock, new LibvirtError('closed', this.socketPath, `the daemon closed the connection${partial}`));
    });
    this.sock = sock;
    this.reader = new FrameReader();
    return sock;
  }

  private socketConnected(sock: Socket, deadline: number): Promise<void> {
    const ms = deadline - Date.now();
    if (ms <= 0) return Promise.reject(new LibvirtTimeoutError(this.socketPath, 'connection', ms));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(sock, new LibvirtTimeoutError(this.socketPath, 'connection', ms));
      }, ms);
      this.waitingForConnection = (err) => {
        this.waitingForConnection = undefined;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
    });
  }

  private call<T>(name: string, proc: number, body: Buffer, deadline: number, decode: (body: Buffer) => T): Promise<T> {
    const sock = this.sock;
    if (!sock) return Promise.reject(new LibvirtError('closed', this.socketPath, `${name}: not connected`));
    const ms = deadline - Date.now();
    // Past its deadline before it is sent: nothing is in flight, the connection can stay.
    if (ms <= 0) return Promise.reject(new LibvirtTimeoutError(this.socketPath, name, ms));
    this.serial = (this.serial + 1) >>> 0;
    const serial = this.serial;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(serial);
        reject(new LibvirtTimeoutError(this.socketPath, name, ms));
        this.fail(
          sock,
          new LibvirtError('closed', this.socketPath, `connection closed: ${name} got no answer in time`),
        );
      }, ms);
      this.pending.set(serial, { proc, decode, resolve: resolve as (v: unknown) => void, reject, timer });
      sock.write(encodeCall(proc, serial, body));
    });
  }

  private onData(sock: Socket, chunk: Buffer): void {
    if (this.sock !== sock) return;
    const reader = this.reader;
    reader.push(chunk);
    try {
      // A frame can end the connection (a reply to nothing in flight): the rest of the chunk is then not read.
      for (let frame = reader.next(); frame !== undefined && this.sock === sock; frame = reader.next())
        this.onFrame(frame);
    } catch (err) {
      const message = err instanceof ParseError ? err.message : String(err);
      this.fail(sock, new LibvirtError('protocol', this.socketPath, message, { cause: err }));
    }
  }

  private onFrame(frame: Buffer): void {
    const { header, body } = decodeFrame(frame);
    // Events and keepalive PINGs: this client registers for no events and never asks for keepalive, and whatever a
    // daemon sends anyway is skipped. Their serial means nothing (remote_daemon_dispatch.c sends events with serial 1).
    if (header.type === MessageType.MESSAGE) return;
    if (header.prog !== REMOTE_PROGRAM || header.vers !== REMOTE_PROTOCOL_VERSION)
      throw new ParseError(`a message of program 0x${header.prog.toString(16)} version ${header.vers}`);
    if (header.type !== MessageType.REPLY) throw new ParseError(`a message of type ${header.type}, not a reply`);
    const p = this.pending.get(header.serial);
    if (!p || p.proc !== header.proc)
      throw new ParseError(`a reply (procedure ${header.proc}, serial ${header.serial}) to no call in flight`);
    let settle: () => void;
    if (header.status === Status.OK) {
      const value = p.decode(body);
      settle = () => {
        p.resolve(value);
      };
    } else if (header.status === Status.ERROR) {
      const err = new LibvirtRemoteError(this.socketPath, procName(header.proc), decodeRemoteError(body));
      settle = () => {
        p.reject(err);
      };
    } else {
      throw new ParseError(`a reply with status ${header.status}`);
    }
    // Only a reply that decoded leaves the table; one that did not fails with the connection.
    this.pending.delete(header.serial);
    clearTimeout(p.timer);
    settle();
  }

  /** Ends the connection `sock` (if it is still the current one): every call in flight, and a connect, fail with `err`. */
  private fail(sock: Socket, err: LibvirtError): void {
    if (this.sock !== sock) return;
    this.sock = undefined;
    this.opened = false;
    sock.destroy();
    this.reader = new FrameReader();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.waitingForConnection?.(err);
  }
}

function procName(proc: number): string {
  return Object.entries(Proc).find(([, n]) => n === proc)?.[0] ?? `procedure ${proc}`;
}
