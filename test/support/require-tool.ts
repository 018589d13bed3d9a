/**
 * External tools the live tests need. A missing tool FAILS the test (never skips: CI forbids
 * skipped tests); outside CI the message says how to install it.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter } from 'node:path';
import { promisify } from 'node:util';

/** Tool → Debian package that provides it. */
const PACKAGES: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  libvirtd: 'libvirt-daemon-system',
  virtlogd: 'libvirt-daemon-system',
  virsh: 'libvirt-clients',
  gcc: 'gcc libc6-dev',
  prometheus: 'prometheus',
  promtool: 'prometheus',
  'prometheus-process-exporter': 'prometheus-process-exporter',
  setpriv: 'util-linux',
  podman: 'podman',
  runc: 'runc',
  debootstrap: 'debootstrap',
  'systemd-analyze': 'systemd',
  kubectl: 'kubernetes-client',
  losetup: 'mount',
  umount: 'mount',
  taskset: 'util-linux',
  bindfs: 'bindfs',
  openssl: 'openssl',
  strip: 'binutils',
  'dpkg-deb': 'dpkg',
  'dpkg-shlibdeps': 'dpkg-dev',
  rpmbuild: 'rpm',
  rpm: 'rpm',
  lintian: 'lintian',
};

/** Absolute path of `name` (searching PATH, then /usr/sbin and /sbin); throws a clear error when missing. */
export function requireTool(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    try {
      accessSync(`${dir}/${name}`, constants.X_OK);
      return `${dir}/${name}`;
    } catch {
      /* next */
    }
  }
  const pkg = PACKAGES[name] ?? name;
  throw new Error(
    process.env.CI === 'true'
      ? `${name} is missing on this CI machine: .ci/run must install the Debian package(s) ${pkg}`
      : `${name} is required by this test and is not installed. Install it with:\n` +
          `  sudo apt-get install --no-install-recommends ${pkg}\n(or run .ci/run, which installs everything the tests need)`,
  );
}

const execFileAsync = promisify(execFile);

/** Runs a required tool and resolves with its stdout; rejects with its stderr in the message. */
export async function run(name: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync(requireTool(name), args, {
      timeout: opts.timeoutMs ?? 60_000,
      encoding: 'utf8',
    });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`${name} ${args.join(' ')} failed${stderr ? `: ${stderr}` : ''}`, { cause: err });
  }
}
