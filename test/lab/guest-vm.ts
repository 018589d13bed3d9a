/**
 * Boots the lab guest under QEMU with TCG (the software /dev/kvm here is too slow for a guest kernel): one
 * vCPU, a virtio-scsi controller on an iothread, and the raw disk with the given `aio=` mode. The serial
 * console is QEMU's stdin/stdout, so the host reads the guest's `LAB …` markers and can answer it.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { requireTool } from '../support/require-tool.js';
import type { Guest } from './guest-image.js';

export type AioMode = 'threads' | 'native';

export interface GuestVmOptions {
  name: string;
  guest: Guest;
  disk: string;
  aio: AioMode;
  runtimeS: number;
  iodepths: number[];
  /** Every console line, as it arrives. */
  onLine: (line: string) => void;
  /** A QMP socket for QEMU's own disk statistics (the exporter's --collector.qmp). */
  qmpSocket?: string;
}

export interface GuestVm {
  readonly pid: number;
  /** Writes a line to the guest's console. */
  send(line: string): void;
  /** Resolves with QEMU's exit code once it exits (the guest powers off at the end). */
  readonly exited: Promise<number | null>;
  /** SIGKILL if still running, and wait for the exit. */
  kill(): Promise<void>;
}

export function startGuestVm(opts: GuestVmOptions): GuestVm {
  const escape = (s: string) => s.replaceAll(',', ',,');
  const args = [
    '--pdeathsig',
    'KILL',
    '--',
    requireTool('qemu-system-x86_64'),
    '-name',
    `guest=${escape(opts.name)},debug-threads=on`,
    '-machine',
    'q35',
    '-accel',
    'tcg',
    '-smp',
    '1',
    '-m',
    '512',
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-serial',
    'stdio',
    '-kernel',
    opts.guest.kernel,
    '-initrd',
    opts.guest.initrd,
    '-append',
    `console=ttyS0 quiet panic=-1 lab.runtime=${opts.runtimeS} lab.iodepths=${opts.iodepths.join(',')}`,
    '-object',
    'iothread,id=iothread1',
    '-device',
    'virtio-scsi-pci,id=scsi0,iothread=iothread1',
    '-drive',
    `file=${escape(opts.disk)},if=none,id=drive0,format=raw,cache=none,aio=${opts.aio}`,
    '-device',
    'scsi-hd,bus=scsi0.0,drive=drive0,id=disk0',
    ...(opts.qmpSocket === undefined ? [] : ['-qmp', `unix:${escape(opts.qmpSocket)},server=on,wait=off`]),
  ];
  const child = spawn(requireTool('setpriv'), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => undefined); // a line sent as the guest powers off: nobody is listening any more
  createInterface({ input: child.stdout }).on('line', (line) => {
    opts.onLine(line.replace(/\r$/, ''));
  });
  createInterface({ input: child.stderr }).on('line', (line) => {
    opts.onLine(`qemu: ${line}`);
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      resolve(code);
    });
    child.on('error', (err) => {
      opts.onLine(`qemu: ${err.message}`);
      resolve(null);
    });
  });
  return {
    pid: child.pid!,
    send(line) {
      child.stdin.write(`${line}\n`);
    },
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
