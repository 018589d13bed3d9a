import type { HostFs } from '../host-fs.js';
import { FsError } from '../host-fs.js';
import type { Problems } from '../problems.js';
import { parseNsPids } from '../procfs/status.js';
import { parseLibvirtStatus, type LibvirtDomain } from './status-xml.js';

/**
 * Where a libvirt running inside the QEMU's own container keeps its status file, relative to that container's
 * root: KubeVirt's non-root virt-launcher (`XDG_RUNTIME_DIR=/var/run`, and `/var/run` → `../run`), then the
 * root-mode layout (KubeVirt's Root feature gate, and containerised libvirts such as kolla's).
 */
const POD_STATUS_DIRS = ['run/libvirt/qemu/run', 'run/libvirt/qemu'];
const MAX_STATUS_BYTES = 1024 * 1024;
/** How often a VM without a status file is looked at again: the pod's libvirt writes it a moment after QEMU starts. */
const RECHECK_MS = 5000;

interface Entry {
  checkedAt: number;
  version: string | undefined;
  domain: LibvirtDomain | undefined;
  checking: Promise<void> | undefined;
}

/**
 * Status files the host's libvirt directory does not have: those of QEMUs run by a libvirt in their own mount
 * (and PID) namespace, such as KubeVirt's virt-launcher pods. Seen through /proc/PID/root (needs
 * CAP_SYS_PTRACE for another user's process), read off the scrape path, and translated to the host's view: the
 * pod's libvirt writes the pid and vCPU TIDs of the pod's PID namespace, mapped here through each thread's NSpid.
 */
export class PodStatusFiles {
  private readonly byPid = new Map<number, Entry>();

  constructor(
    private readonly fs: HostFs,
    private readonly problems: Problems,
  ) {}

  /** The domain of QEMU `pid` (named `guest` on its command line), as last read; looks again when due. */
  lookup(pid: number, guest: string, now: number): LibvirtDomain | undefined {
    let e = this.byPid.get(pid);
    if (!e) {
      e = { checkedAt: -Infinity, version: undefined, domain: undefined, checking: undefined };
      this.byPid.set(pid, e);
    }
    if (!e.checking && now - e.checkedAt >= RECHECK_MS && guest !== '' && !guest.includes('/')) {
      const entry = e;
      entry.checkedAt = now;
      entry.checking = this.check(pid, guest, entry).finally(() => {
        entry.checking = undefined;
      });
    }
    return e.domain;
  }

  /** Drops what is kept for pids that are no longer QEMU processes. */
  retain(alive: (pid: number) => boolean): void {
    for (const pid of this.byPid.keys()) if (!alive(pid)) this.byPid.delete(pid);
  }

  /** Waits for checks in flight (tests). */
  async settled(): Promise<void> {
    await Promise.all([...this.byPid.values()].flatMap((e) => (e.checking ? [e.checking] : [])));
  }

  private async check(pid: number, guest: string, e: Entry): Promise<void> {
    for (const dir of POD_STATUS_DIRS) {
      const path = this.fs.proc(pid, 'root', dir, `${guest}.xml`);
      let file;
      try {
        file = await this.fs.readFileCapped(path, MAX_STATUS_BYTES);
      } catch (err) {
        if (err instanceof FsError && err.kind === 'gone') continue;
        const hint =
          err instanceof FsError && err.kind === 'denied'
            ? ' (seeing into another container needs CAP_SYS_PTRACE)'
            : '';
        this.problems.readFailed('procfs', `pod-status:${dir}`, `cannot look for a status file at ${path}${hint}`, err);
        return;
      }
      if (file.version === e.version) return;
      let parsed;
      try {
        parsed = parseLibvirtStatus(file.text);
      } catch (err) {
        this.problems.report('libvirt', 'parse', `pod:${path}`, `cannot use ${path}: ${(err as Error).message}`);
        return;
      }
      try {
        e.domain = this.hostView(pid, parsed);
        e.version = file.version;
      } catch (err) {
        this.problems.readFailed('procfs', 'pod-ids', `cannot map the ids in ${path} to this host's`, err);
      }
      return;
    }
    e.version = undefined;
    e.domain = undefined;
  }

  /**
   * The domain with the host's pid and TIDs, or undefined when the file is another process's (a stale file,
   * or a name reused). The innermost NSpid of a task is its id where the pod's libvirt looked at it.
   */
  private hostView(pid: number, d: LibvirtDomain): LibvirtDomain | undefined {
    const qemu = this.innerId(this.fs.proc(pid, 'status'), pid);
    if (d.pid !== qemu) return undefined;
    if (qemu === pid) return { ...d, pid };
    const hostTid = new Map<number, number>();
    for (const name of this.fs.listDir(this.fs.proc(pid, 'task'))) {
      const tid = Number(name);
      try {
        hostTid.set(this.innerId(this.fs.proc(pid, 'task', tid, 'status'), tid), tid);
      } catch {
        // Exited meanwhile: not a vCPU of this domain.
      }
    }
    const vcpuTids = new Map<number, number>();
    for (const [tid, vcpu] of d.vcpuTids) {
      const host = hostTid.get(tid);
      if (host !== undefined) vcpuTids.set(host, vcpu);
    }
    return { ...d, pid, vcpuTids };
  }

  /** A task's id in its innermost PID namespace (`id` itself where the kernel predates NSpid). */
  private innerId(statusPath: string, id: number): number {
    return parseNsPids(this.fs.readSmall(statusPath, 'latin1')).at(-1) ?? id;
  }
}
