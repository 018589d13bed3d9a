/** A real QEMU (no guest OS) with 2 vCPUs, an iothread, and a raw disk on virtio-scsi. */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { requireTool } from './require-tool.js';

/** Default home of disk images: on the repo's filesystem, world-traversable so libvirt's qemu user can open them. */
export const IMAGE_DIR = fileURLToPath(new URL('../.cache/images', import.meta.url));

/** TID → thread name (comm) of a live process; threads that vanish mid-read are skipped. */
export async function threadNames(pid: number): Promise<Map<number, string>> {
  const names = new Map<number, string>();
  for (const tid of await readdir(`/proc/${String(pid)}/task`)) {
    try {
      names.set(Number(tid), (await readFile(`/proc/${String(pid)}/task/${tid}/comm`, 'utf8')).trimEnd());
    } catch {
      /* thread exited */
    }
  }
  return names;
}

/** Polls until every pattern matches some thread name of `pid`; returns the names. */
export async function waitForThreads(
  pid: number,
  patterns: RegExp[],
  timeoutMs = 15_000,
): Promise<Map<number, string>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const names = await threadNames(pid);
    const all = [...names.values()];
    if (patterns.every((re) => all.some((name) => re.test(name)))) return names;
    if (Date.now() > deadline)
      throw new Error(
        `pid ${String(pid)}: no thread matching ${patterns.join(', ')} after ${String(timeoutMs)} ms; threads: ${all.join(', ')}`,
      );
    await sleep(20);
  }
}

/** The host block device (e.g. `vda`, `vda1`) holding `path`'s filesystem, or undefined (tmpfs, overlay, …). */
export async function blockDeviceOf(path: string): Promise<string | undefined> {
  const dev = (await stat(path, { bigint: true })).dev;
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  try {
    return basename(await realpath(`/sys/dev/block/${String(major)}:${String(minor)}`));
  } catch {
    return undefined;
  }
}

/**
 * Creates a raw image of `sizeMiB` MiB (really allocated, not sparse) unless it exists, in a 0755
 * directory, and checks that it lives on a block-device-backed filesystem.
 */
export async function createRawImage(path: string, sizeMiB = 8): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await chmod(dirname(path), 0o755);
  await writeFile(path, Buffer.alloc(sizeMiB << 20), { flag: 'wx' }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  });
  if (!(await blockDeviceOf(path))) {
    throw new Error(
      `${path} is not on a block-device-backed filesystem (see findmnt -T ${dirname(path)}); pass a diskPath elsewhere`,
    );
  }
}

export interface RealQemuOptions {
  name: string;
  uuid?: string;
  /** Raw image, created (8 MiB) if missing. Default IMAGE_DIR/NAME.raw, removed by stop(). */
  diskPath?: string;
}

export interface RealQemu {
  readonly pid: number;
  readonly name: string;
  readonly uuid: string;
  readonly diskPath: string;
  /** `KVM` or `TCG`, from the vCPU thread names. */
  readonly accel: 'KVM' | 'TCG';
  /** QMP socket (`IO mon_iothread` exists because of it). */
  readonly qmpSocket: string;
  /** SIGKILL, wait for the exit, remove the QMP socket (and the default image). Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts QEMU paused (-S: the vCPU threads exist but never run guest code) with `-accel kvm -accel tcg`
 * (QEMU falls back to TCG when KVM fails), and resolves once `CPU 1/…` and `IO iothread1` exist.
 * setpriv --pdeathsig makes QEMU die with the test process.
 */
export async function startRealQemu(opts: RealQemuOptions): Promise<RealQemu> {
  const uuid = opts.uuid ?? randomUUID();
  const diskPath = opts.diskPath ?? `${IMAGE_DIR}/${opts.name}.raw`;
  await createRawImage(diskPath);
  const qmpSocket = `${tmpdir()}/${opts.name}-${uuid.slice(0, 8)}.qmp`;
  const args = [
    '--pdeathsig',
    'KILL',
    '--',
    requireTool('qemu-system-x86_64'),
    '-name',
    `guest=${opts.name.replaceAll(',', ',,')},debug-threads=on`,
    '-uuid',
    uuid,
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
    '-no-user-config',
    '-qmp',
    `unix:${qmpSocket},server=on,wait=off`,
    '-object',
    'iothread,id=iothread1',
    '-device',
    'virtio-scsi-pci,id=scsi0,iothread=iothread1',
    '-drive',
    `file=${diskPath.replaceAll(',', ',,')},if=none,id=drive0,format=raw,cache=none,aio=threads`,
    '-device',
    'scsi-hd,bus=scsi0.0,drive=drive0,id=scsi0-0-0-0',
  ];
  let launched: Launched;
  try {
    launched = await launchQemu([requireTool('setpriv'), ...args], [/^CPU 1\/(KVM|TCG)$/, /^IO iothread1$/], opts.name);
  } catch (err) {
    await rm(qmpSocket, { force: true });
    if (opts.diskPath === undefined) await rm(diskPath, { force: true });
    throw err;
  }
  const stop = async () => {
    await launched.kill();
    await rm(qmpSocket, { force: true });
    if (opts.diskPath === undefined) await rm(diskPath, { force: true });
  };
  const accel = [...launched.names.values()].some((name) => name === 'CPU 0/KVM') ? 'KVM' : 'TCG';
  return { pid: launched.pid, name: opts.name, uuid, diskPath, accel, qmpSocket, stop };
}

export interface Launched {
  /** QEMU's pid (the spawned process, or one it started: see launchQemu). */
  readonly pid: number;
  /** Thread names once every `waitFor` pattern matched. */
  readonly names: Map<number, string>;
  /** SIGKILL the spawned process and wait for its exit. Safe to call twice. */
  kill(): Promise<void>;
}

/**
 * Spawns `argv` (a QEMU, or a wrapper that starts one: then `qemuPid` finds it) and resolves once QEMU has threads
 * matching every `waitFor` pattern; on failure the error carries QEMU's stderr.
 */
export async function launchQemu(
  argv: string[],
  waitFor: RegExp[],
  what: string,
  qemuPid: (spawned: number) => Promise<number> = (p) => Promise.resolve(p),
): Promise<Launched> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<string>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve(String(code ?? signal));
    });
    child.on('error', (err) => {
      resolve(err.message);
    });
  });
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  try {
    const died = exited.then((how) => {
      throw new Error(`exited (${how})`);
    });
    const pid = await Promise.race([qemuPid(child.pid!), died]);
    const names = await Promise.race([waitForThreads(pid, waitFor), died]);
    return { pid, names, kill };
  } catch (err) {
    await kill();
    throw new Error(`qemu ${what} did not start: ${stderr.trim()}`, { cause: err });
  }
}
