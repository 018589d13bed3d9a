import type { QemuCmdline } from '../host/qemu/cmdline.js';
import { GuestCounters } from './guest-disks.js';
import type { VmIdentity } from './identity.js';
import { ThreadLedger } from './thread-ledger.js';

/** One QEMU process as the exporter keeps it between reads: who it is, and its threads' table and ledger. */
export class Vm {
  readonly ledger = new ThreadLedger();
  /** Set once the census or a scrape has listed the threads: later new threads are spawns. */
  listed = false;
  /** Task listings so far (see ThreadSync). */
  syncs = 0;
  identity!: VmIdentity;
  /** Set when the identity changed in a way that can change thread roles (libvirt's status file arrived). */
  rolesStale = false;
  /** A thread carries a name QEMU gives (QEMU ≥ 11 names threads without debug-threads=on). */
  qemuNames = false;
  /** QEMU's disk counters, kept monotonic. */
  readonly guest = new GuestCounters();

  constructor(
    readonly pid: number,
    readonly starttime: number,
    readonly processComm: string,
    readonly cmdline: QemuCmdline,
    /** Runs in a Kubernetes pod (its cgroup says so): its libvirt, if any, is the pod's own (KubeVirt). */
    readonly inPod: boolean,
  ) {}

  /** QEMU names this VM's threads, so a name tells a role. */
  namedThreads(): boolean {
    return this.cmdline.debugThreads || this.qemuNames;
  }
}
