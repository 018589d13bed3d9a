/** What one read of the host saw: every VM's identity, threads by role, counters, pools and disks. The data model. */
import type { GuestDiskStats } from '../host/guest-disk-stats.js';
import type { SourceName } from '../host/problems.js';
import type { ProcessIo } from '../host/procfs/io.js';
import type { SyscallKind } from '../host/procfs/syscall-kinds.js';
import type { State } from '../host/procfs/task-state.js';
import type { DiskSpec } from '../host/qemu/disk-spec.js';
import type { Role } from '../host/qemu/thread-roles.js';
import type { BlockStat } from '../host/sysfs/block-stat.js';
import type { VmIdentity } from './identity.js';
import type { Counters } from './thread-ledger.js';

export interface RoleSnapshot {
  role: Role;
  threads: number;
  peak: number;
  states: Record<State, number>;
  totals: Counters;
  spawns: number;
  exits: number;
}

export interface DiskSnapshot {
  spec: DiskSpec;
  /** Kernel name of the host block device, '' when none backs the disk. */
  hostDevice: string;
  stat: BlockStat | undefined;
  /** QEMU's own counters for the disk (libvirt's API or QMP), monotonic for the VM's life; absent when no source has them. */
  guest?: GuestDiskStats;
}

/** Threads of one role seen in one kind of system call, on one of the VM's disks ('' for none of them). */
export interface SyscallCount {
  role: Role;
  syscall: SyscallKind;
  disk: string;
  /** The file or device those calls were on, as QEMU has it open ('' when no disk). */
  file: string;
  threads: number;
}

/** A busy VM's threads by system call, as last seen (see SyscallObserver). */
export interface Syscalls {
  /** When they were seen (ms since the epoch). */
  at: number;
  counts: SyscallCount[];
}

export interface VmSnapshot {
  identity: VmIdentity;
  pid: number;
  /** Process start time (ticks after boot): with the PID, names this QEMU process for good. */
  starttime: number;
  /** QEMU names the threads (`-name …,debug-threads=on`, or QEMU ≥ 11): names tell roles (otherwise they are inferred). */
  namedThreads: boolean;
  roles: RoleSnapshot[];
  vcpus: { vcpu: number; totals: Counters }[];
  pools: { pool: string; max: number; threads: number | undefined }[];
  disks: DiskSnapshot[];
  cpuTicks: number;
  rssBytes: number | undefined;
  io: ProcessIo | undefined;
  /** Seconds since a source last answered for this VM's disks (0: in this scrape); absent when none knows it. */
  guestAgeSeconds?: number;
  /** What its busy threads were doing at the last look; absent when nothing was busy (or it could not be seen). */
  syscalls?: Syscalls;
}

export interface Snapshot {
  /** When it was read (ms since the epoch). */
  at: number;
  vms: VmSnapshot[];
  /** The scrape deadline cut the read short: VMs may be missing. */
  partial: boolean;
  /** Sources that had a problem during this scrape (or are failing, like a bad libvirt status file). */
  failed: Set<SourceName>;
  /** Optional sources not in use (no libvirt socket; QMP not enabled): no qemu_exporter_source_success for them. */
  inactive: Set<SourceName>;
}
