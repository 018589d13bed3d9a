import type { GuestDiskSource, GuestDisksAnswer, GuestDiskStats } from '../guest-disk-stats.js';
import type { HostFs } from '../host-fs.js';
import type { Problems, Reason } from '../problems.js';
import type { Source, SourceVm } from '../source.js';
import { LibvirtClient, LibvirtError, LibvirtTimeoutError } from './rpc/client.js';
import type { BlockStats, DomainStats } from './rpc/domain-stats.js';

/** libvirtd's read-only socket, then the modular daemons' (Debian 13, Fedora, RHEL 9): `auto` takes the first that exists. */
const SOCKETS = ['/run/libvirt/libvirt-sock-ro', '/run/libvirt/virtqemud-sock-ro'];
/** After a failed connection, wait this long, doubling up to the maximum, before the next try. */
const BACKOFF_MS = 1000;
const BACKOFF_MAX_MS = 30_000;

export interface LibvirtApiOptions {
  /** A socket path (under --path.rootfs), `auto`, or undefined: off. */
  socket: string | undefined;
  timeoutMs: number;
}

/**
 * QEMU's disk statistics through libvirt's own API (virConnectGetAllDomainStats over its read-only socket), for
 * libvirt's domains: one connection kept open and reconnected with backoff, asked at every scrape under the scrape's
 * deadline. libvirt answers NOWAIT: a domain busy with another job comes back without counters and keeps its last
 * answer (stale by its age), so it never holds up a scrape or another domain.
 */
export class LibvirtApi implements Source, GuestDiskSource {
  readonly name = 'libvirt_api';
  private client: LibvirtClient | undefined;
  private readonly byUuid = new Map<string, GuestDisksAnswer>();
  private failedLast = false;
  private retryAt = 0;
  private backoffMs = BACKOFF_MS;
  /** With `auto`: the socket found last. */
  private found: string | undefined;

  constructor(
    private readonly fs: HostFs,
    private readonly problems: Problems,
    private readonly o: LibvirtApiOptions,
  ) {}

  start(): Promise<void> {
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    await this.client?.close().catch(() => undefined);
  }

  /**
   * In use when configured; `auto` once one of the sockets has existed (a host without libvirt has none; a libvirtd
   * that goes away after is a failure to say, not a reason to fall silent).
   */
  active(): boolean {
    return this.socketPath() !== undefined;
  }

  healthy(): boolean {
    return !this.failedLast;
  }

  guestDisks(vm: SourceVm): GuestDisksAnswer | undefined {
    return vm.source === 'libvirt' ? this.byUuid.get(vm.uuid) : undefined;
  }

  async collect(deadline: number, vms: readonly SourceVm[]): Promise<void> {
    const path = this.socketPath();
    if (path === undefined) return;
    const until = Math.min(deadline, Date.now() + this.o.timeoutMs);
    try {
      if (this.client?.socketPath !== path) {
        await this.client?.close().catch(() => undefined);
        this.client = new LibvirtClient({ socketPath: path });
      }
      if (!this.client.connected) {
        if (Date.now() < this.retryAt) {
          this.failedLast = true;
          return;
        }
        await this.client.connect(until);
      }
      this.remember(await this.client.allDomainStats(until), vms);
      this.failedLast = false;
      this.backoffMs = BACKOFF_MS;
    } catch (err) {
      this.failedLast = true;
      if (!this.client?.connected) {
        this.retryAt = Date.now() + this.backoffMs;
        this.backoffMs = Math.min(BACKOFF_MAX_MS, this.backoffMs * 2);
      }
      // A peer that does not speak libvirt's RPC (kind `protocol`) sent something not in its format: `parse`, as a
      // malformed stats record is, not `io`.
      const reason: Reason =
        err instanceof LibvirtTimeoutError
          ? 'timeout'
          : err instanceof LibvirtError && err.kind !== 'protocol'
            ? err.kind === 'auth' || err.errno === 'EACCES'
              ? 'denied'
              : 'io'
            : 'parse';
      this.problems.report(
        'libvirt_api',
        reason,
        `${reason}:${err instanceof LibvirtError ? err.kind : ''}`,
        `libvirt API: ${(err as Error).message}`,
      );
    }
  }

  /** The configured socket's path under the root filesystem, or the first of SOCKETS that exists there. */
  private socketPath(): string | undefined {
    const { socket } = this.o;
    if (socket === undefined) return undefined;
    if (socket !== 'auto') return this.fs.host(socket);
    this.found = SOCKETS.map((s) => this.fs.host(s)).find((p) => this.fs.exists(p)) ?? this.found;
    return this.found;
  }

  /** Domains that answered with counters; a domain that came back without them (busy) keeps its last answer. */
  private remember(domains: DomainStats[], vms: readonly SourceVm[]): void {
    const now = Date.now();
    const seen = new Set<string>();
    for (const d of domains) {
      seen.add(d.uuid);
      const disks = new Map<string, GuestDiskStats>();
      for (const b of d.blocks) {
        const stats = guestStats(b);
        if (stats) disks.set(b.name, stats);
      }
      if (disks.size > 0 || d.blocks.length === 0) this.byUuid.set(d.uuid, { disks, at: now });
    }
    // Domains no longer running, and those the inventory does not have, are forgotten.
    const known = new Set(vms.map((v) => v.uuid));
    for (const uuid of this.byUuid.keys()) if (!seen.has(uuid) || !known.has(uuid)) this.byUuid.delete(uuid);
  }
}

/** A disk's counters, when libvirt sent QEMU's (it leaves them out for a busy domain, and for a disk without a medium). */
function guestStats(b: BlockStats): GuestDiskStats | undefined {
  if (b.rdReqs === undefined || b.wrReqs === undefined) return undefined;
  return {
    reads: b.rdReqs,
    writes: b.wrReqs,
    flushes: b.flReqs ?? 0,
    readBytes: b.rdBytes ?? 0,
    writtenBytes: b.wrBytes ?? 0,
    readTimeNs: b.rdTimesNs ?? 0,
    writeTimeNs: b.wrTimesNs ?? 0,
    flushTimeNs: b.flTimesNs ?? 0,
  };
}
