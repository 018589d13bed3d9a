/**
 * Real QEMUs started the way other platforms start them (no guest OS, paused):
 * - Proxmox VE: `/usr/bin/kvm`, a link to qemu-system-x86_64, with qemu-server's argument layout;
 * - KubeVirt: QEMU in its own mount and PID namespace, as in a virt-launcher pod, in a `kubepods` cgroup, with
 *   the pod's libvirt status file only inside that namespace.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRawImage, IMAGE_DIR, launchQemu, type Launched } from './real-qemu.js';
import { requireTool } from './require-tool.js';

export interface PlatformQemu {
  readonly pid: number;
  readonly uuid: string;
  readonly diskPath: string;
  stop(): Promise<void>;
}

/**
 * qemu-server's command line (PVE/QemuServer.pm, config_to_command) for VM `vmid` named `name`, minus `-id`
 * (a Proxmox patch upstream QEMU refuses) and `-daemonize` (the test keeps QEMU as its child), plus `-S`.
 */
export async function startProxmoxLikeQemu(name: string): Promise<PlatformQemu> {
  const uuid = randomUUID();
  const dir = `${tmpdir()}/qte-pve-${String(process.pid)}`;
  await mkdir(dir, { recursive: true });
  const kvm = `${dir}/kvm`;
  await rm(kvm, { force: true });
  await symlink(requireTool('qemu-system-x86_64'), kvm);
  const diskPath = `${IMAGE_DIR}/${name}-disk-0.raw`;
  await createRawImage(diskPath);
  const args = [
    kvm,
    '-name',
    `${name},debug-threads=on`,
    '-no-shutdown',
    '-chardev',
    `socket,id=qmp,path=${dir}/100.qmp,server=on,wait=off`,
    '-mon',
    'chardev=qmp,mode=control',
    '-pidfile',
    `${dir}/100.pid`,
    '-smbios',
    `type=1,uuid=${uuid}`,
    '-smp',
    '2,sockets=1,cores=2,maxcpus=2',
    '-nodefaults',
    '-display',
    'none',
    '-object',
    'iothread,id=iothread-virtio0',
    '-m',
    '64',
    '-drive',
    `file=${diskPath},if=none,id=drive-virtio0,format=raw,cache=none,aio=io_uring,detect-zeroes=on`,
    '-device',
    'virtio-blk-pci,drive=drive-virtio0,id=virtio0,bus=pci.0,addr=0xa,iothread=iothread-virtio0,bootindex=100',
    '-machine',
    'type=pc,accel=kvm:tcg',
    '-S',
  ];
  const q = await launchQemu(
    [requireTool('setpriv'), '--pdeathsig', 'KILL', '--', ...args],
    [/^CPU 1\/(KVM|TCG)$/],
    name,
  );
  return {
    pid: q.pid,
    uuid,
    diskPath,
    async stop() {
      await q.kill();
      await rm(dir, { recursive: true, force: true });
      await rm(diskPath, { force: true });
    },
  };
}

export interface PodQemu extends PlatformQemu {
  /** The domain name the pod's libvirt uses: `NAMESPACE_NAME`. */
  readonly domain: string;
  /** QEMU's pid inside its PID namespace (what the pod's libvirt writes). */
  readonly podPid: number;
  /** vCPU index → thread id inside the pod, from QMP (what the pod's libvirt writes into its status file). */
  readonly podVcpuTids: number[];
  /** Writes the pod's libvirt status file (`/run/libvirt/qemu/run/NAME.xml` inside the pod) through /proc/PID/root. */
  writeStatus(xml: string): Promise<void>;
}

/** The innermost NSpid of a task: its id inside its PID namespace. */
async function podId(statusPath: string): Promise<number> {
  const m = /^NSpid:\s+([\d\s]+)$/m.exec(await readFile(statusPath, 'utf8'));
  return Number(m![1]!.trim().split(/\s+/).at(-1));
}

/** A one-shot QMP exchange: capabilities, then `command`; returns its `return`. */
function qmp(socketPath: string, command: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    let buf = '';
    let step = 0;
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        buf = buf.slice(nl + 1);
        if ('QMP' in msg) sock.write('{"execute":"qmp_capabilities"}\n');
        else if ('return' in msg && step++ === 0) sock.write(`{"execute":"${command}"}\n`);
        else if ('return' in msg) {
          sock.end();
          resolve(msg.return);
        } else if ('error' in msg) reject(new Error(JSON.stringify(msg.error)));
      }
    });
    sock.on('error', reject);
  });
}

/**
 * QEMU as KubeVirt's virt-launcher runs it: `-name guest=NAMESPACE_NAME,…`, in a new mount and PID namespace
 * (`unshare --mount --pid --fork`) whose /run/libvirt is a tmpfs of its own, moved into a `kubepods` cgroup.
 * `debugThreads` false leaves the threads unnamed, so only the status file's (mapped) vCPU TIDs can name vCPUs.
 */
export async function startPodLikeQemu(namespace: string, vmi: string, debugThreads: boolean): Promise<PodQemu> {
  const domain = `${namespace}_${vmi}`;
  const uuid = randomUUID();
  const qmpSocket = `${tmpdir()}/qte-pod-${String(process.pid)}.qmp`;
  const diskPath = `${IMAGE_DIR}/${domain}.raw`;
  await createRawImage(diskPath);
  const qemu = [
    requireTool('qemu-system-x86_64'),
    '-name',
    `guest=${domain}${debugThreads ? ',debug-threads=on' : ''}`,
    '-machine',
    'q35',
    '-accel',
    'kvm',
    '-accel',
    'tcg',
    '-smp',
    '2',
    '-m',
    '64',
    '-S',
    '-display',
    'none',
    '-nodefaults',
    '-qmp',
    `unix:${qmpSocket},server=on,wait=off`,
    '-object',
    'iothread,id=iothread1',
    '-drive',
    `file=${diskPath},if=none,id=drive0,format=raw,cache=none,aio=native`,
    '-device',
    'virtio-blk-pci,drive=drive0,id=ua-disk0,iothread=iothread1',
  ];
  const script = 'mount -t tmpfs -o mode=0755 tmpfs /run/libvirt && mkdir -p /run/libvirt/qemu/run && exec "$@"';
  const argv = [
    requireTool('setpriv'),
    '--pdeathsig',
    'KILL',
    '--',
    requireTool('unshare'),
    '--mount',
    '--propagation',
    'private',
    '--pid',
    '--fork',
    '--kill-child',
    '--',
    'sh',
    '-c',
    script,
    'sh',
    ...qemu,
  ];
  await mkdir('/run/libvirt', { recursive: true });
  // unshare forks once: QEMU is its child.
  const child = async (parent: number): Promise<number> => {
    for (let i = 0; i < 500; i++) {
      const kids = (
        await readFile(`/proc/${String(parent)}/task/${String(parent)}/children`, 'utf8').catch(() => '')
      ).trim();
      if (kids !== '') {
        const pid = Number(kids.split(' ')[0]);
        if ((await readFile(`/proc/${String(pid)}/comm`, 'utf8').catch(() => '')).startsWith('qemu')) return pid;
      }
      await sleep(20);
    }
    throw new Error('unshare started no QEMU');
  };
  const q: Launched = await launchQemu(argv, [/^(CPU 1\/(KVM|TCG)|qemu-system-x86)$/], domain, child);
  // A pod's cgroup, as the kubelet makes it (cgroup v1's cpu controller here; v2 where that is the host's).
  const cgroup = `/sys/fs/cgroup/${await cgroupRoot()}/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uuid.replaceAll('-', '_')}.slice/crio-${uuid.replaceAll('-', '')}.scope`;
  await mkdir(cgroup, { recursive: true });
  await writeFile(`${cgroup}/cgroup.procs`, String(q.pid));
  for (
    let i = 0;
    i < 200 &&
    !(await readFile(qmpSocket).then(
      () => true,
      (e: unknown) => (e as NodeJS.ErrnoException).code !== 'ENOENT',
    ));
    i++
  )
    await sleep(20);
  const cpus = (await qmp(qmpSocket, 'query-cpus-fast')) as { 'cpu-index': number; 'thread-id': number }[];
  const podVcpuTids = cpus.sort((a, b) => a['cpu-index'] - b['cpu-index']).map((c) => c['thread-id']);
  return {
    pid: q.pid,
    uuid,
    diskPath,
    domain,
    podVcpuTids,
    podPid: await podId(`/proc/${String(q.pid)}/status`),
    async writeStatus(xml: string) {
      const dir = `/proc/${String(q.pid)}/root/run/libvirt/qemu/run`;
      await writeFile(`${dir}/.${domain}.xml.new`, xml);
      await rename(`${dir}/.${domain}.xml.new`, `${dir}/${domain}.xml`);
    },
    async stop() {
      await q.kill();
      // unshare's child dies with it (--kill-child), a moment later.
      for (
        let i = 0;
        i < 250 &&
        (await readFile(`/proc/${String(q.pid)}/comm`, 'utf8').then(
          () => true,
          () => false,
        ));
        i++
      )
        await sleep(20);
      await rm(qmpSocket, { force: true });
      await rm(diskPath, { force: true });
      // A cgroup goes with rmdir once empty; the shared parents stay if another test's pod is in them.
      for (let dir = cgroup; dir.includes('kubepods'); dir = dir.slice(0, dir.lastIndexOf('/')))
        await rmdir(dir).catch(() => undefined);
    },
  };
}

/** The cgroup hierarchy to put a pod in: the v2 root when the host has one, else v1's cpu controller. */
async function cgroupRoot(): Promise<string> {
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  if (/^\S+ \/sys\/fs\/cgroup cgroup2 /m.test(mounts)) return '.';
  return 'cpu';
}
