/**
 * libvirt without systemd: starts virtlogd and libvirtd by hand when they are not running, defines
 * and starts a domain like the exporter's target (2 vCPUs, an iothread serving a virtio-scsi disk).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { chmod, chown, mkdir, open, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createRawImage, IMAGE_DIR } from './real-qemu.js';
import { requireTool, run } from './require-tool.js';

export const STATUS_DIR = '/run/libvirt/qemu';
const SOCKET = '/run/libvirt/libvirt-sock';
const LOG_DIR = fileURLToPath(new URL('../.cache/', import.meta.url));

const daemons: ChildProcess[] = [];

/** `virsh -c qemu:///system ARGS` → stdout. */
export function virsh(...args: string[]): Promise<string> {
  return run('virsh', ['-c', 'qemu:///system', ...args]);
}

async function alive(pidFile: string): Promise<boolean> {
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs `tool` in the foreground as our child; setpriv --pdeathsig: it dies with the test process. */
async function startDaemon(tool: string): Promise<void> {
  await mkdir(LOG_DIR, { recursive: true });
  const log = await open(`${LOG_DIR}${tool}.log`, 'a');
  const child = spawn(requireTool('setpriv'), ['--pdeathsig', 'TERM', '--', requireTool(tool)], {
    stdio: ['ignore', log.fd, log.fd],
  });
  await log.close();
  child.on('error', () => undefined);
  daemons.push(child);
}

/** `/dev/kvm` as udev leaves it (root:kvm 0660), so libvirt's qemu user (group kvm) can open it. */
async function fixKvmPermissions(): Promise<void> {
  try {
    const st = await stat('/dev/kvm');
    const kvmGid = Number((await run('getent', ['group', 'kvm'])).split(':')[2]);
    if (st.gid !== kvmGid || (st.mode & 0o060) !== 0o060) {
      await chown('/dev/kvm', 0, kvmGid);
      await chmod('/dev/kvm', 0o660);
    }
  } catch {
    /* no /dev/kvm or no kvm group: domains fall back to TCG */
  }
}

/** Starts virtlogd and libvirtd unless already running; resolves once `virsh` can connect. */
export async function ensureLibvirt(timeoutMs = 30_000): Promise<void> {
  requireTool('virsh');
  await fixKvmPermissions();
  if (!(await alive('/run/virtlogd.pid'))) await startDaemon('virtlogd');
  if (!(await alive('/run/libvirtd.pid'))) await startDaemon('libvirtd');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await stat(SOCKET);
      await virsh('version');
      return;
    } catch (err) {
      const dead = daemons.find((d) => d.exitCode !== null || d.signalCode !== null);
      if (dead || Date.now() > deadline) {
        throw new Error(
          `libvirtd not reachable${dead ? ` (${String(dead.spawnargs.at(-1))} exited)` : ''}; see ${LOG_DIR}libvirtd.log`,
          { cause: err },
        );
      }
      await sleep(100);
    }
  }
}

/** Stops the daemons ensureLibvirt started (not ones that were already running). */
export async function stopLibvirt(): Promise<void> {
  for (const child of daemons.splice(0).reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await once(child, 'exit');
    clearTimeout(timer);
  }
}

export interface DomainOptions {
  name: string;
  uuid?: string;
  /** Raw image, created (8 MiB) if missing. Default IMAGE_DIR/NAME.raw (destroy removes it); every parent dir must be world-traversable. */
  diskPath?: string;
  /**
   * `virsh start --paused`. Default false: the guest (no OS: SeaBIOS finds nothing to boot) runs, which under
   * this host's slow software KVM burns ~100% of a CPU (TCG: ~6%, paused: 0%).
   */
  paused?: boolean;
  /** Default `kvm`, falling back to `qemu` (TCG) when the KVM domain fails to start. */
  type?: 'kvm' | 'qemu';
  /** KVM or fail: no fallback to TCG (a test of what only KVM makes, such as its kernel threads). */
  kvmOnly?: boolean;
  /** A `<metadata>…</metadata>` element for the definition, as a management layer (Nova) writes it. */
  metadata?: string;
}

export interface Domain {
  readonly name: string;
  readonly uuid: string;
  /** QEMU's pid, from STATUS_DIR/NAME.pid. */
  readonly pid: number;
  readonly diskPath: string;
  /** `kvm`, or `qemu` (TCG) when a KVM domain failed to start. */
  readonly type: 'kvm' | 'qemu';
  /** STATUS_DIR/NAME.xml: `<domstatus pid=…>`, `<vcpus><vcpu id pid/>`, the live `<domain>`. */
  readonly statusPath: string;
}

export function domainXml(type: 'kvm' | 'qemu', name: string, uuid: string, diskPath: string, metadata = ''): string {
  const esc = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${String(c.charCodeAt(0))};`);
  return `<domain type='${type}'>
  <name>${esc(name)}</name>
  <uuid>${uuid}</uuid>
  ${metadata}
  <memory unit='MiB'>64</memory>
  <vcpu placement='static'>2</vcpu>
  <iothreads>1</iothreads>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>${requireTool('qemu-system-x86_64')}</emulator>
    <controller type='scsi' index='0' model='virtio-scsi'>
      <driver queues='2' iothread='1'/>
    </controller>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' cache='none' io='threads'/>
      <source file='${esc(diskPath)}'/>
      <target dev='sdc' bus='scsi'/>
    </disk>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

export async function defineFromXml(xml: string): Promise<void> {
  const file = `${tmpdir()}/qte-domain-${randomUUID()}.xml`;
  await writeFile(file, xml);
  try {
    await virsh('define', file);
  } finally {
    await unlink(file);
  }
}

/** Defines and starts a domain (replacing a leftover one of the same name); KVM first unless asked for TCG. */
export async function defineAndStart(opts: DomainOptions): Promise<Domain> {
  await ensureLibvirt();
  const uuid = opts.uuid ?? randomUUID();
  const diskPath = opts.diskPath ?? `${IMAGE_DIR}/${opts.name}.raw`;
  await destroy(opts.name);
  await createRawImage(diskPath);
  const start = ['start', opts.name, ...(opts.paused ? ['--paused'] : [])];
  let type = opts.type ?? 'kvm';
  await defineFromXml(domainXml(type, opts.name, uuid, diskPath, opts.metadata));
  try {
    await virsh(...start);
  } catch (err) {
    if (type === 'qemu' || opts.kvmOnly) throw err;
    type = 'qemu';
    await defineFromXml(domainXml(type, opts.name, uuid, diskPath, opts.metadata));
    await virsh(...start);
  }
  const pid = Number((await readFile(`${STATUS_DIR}/${opts.name}.pid`, 'utf8')).trim());
  return { name: opts.name, uuid, pid, diskPath, type, statusPath: `${STATUS_DIR}/${opts.name}.xml` };
}

/** Destroys (waits for QEMU to be gone) and undefines `name`, and removes IMAGE_DIR/NAME.raw; a missing domain is fine. */
export async function destroy(name: string): Promise<void> {
  const state = await virsh('domstate', name).catch(() => undefined);
  if (state !== undefined) {
    if (!state.includes('shut off')) await virsh('destroy', name);
    await virsh('undefine', name);
  }
  await rm(`${IMAGE_DIR}/${name}.raw`, { force: true });
}
