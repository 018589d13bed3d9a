/**
 * Debian packages for the guest, fetched with the host's own apt (`apt-get download`: nothing is installed,
 * and no root is needed once the package lists exist) and unpacked with `dpkg-deb -x`.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { requireTool } from '../support/require-tool.js';

const execFileAsync = promisify(execFile);

// As root, download as root (no `_apt` sandbox warning); wait for another apt's lock instead of failing.
const APT_OPTS = ['-o', 'APT::Sandbox::User=root', '-o', 'DPkg::Lock::Timeout=120'];

async function sh(tool: string, args: string[], cwd?: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync(requireTool(tool), args, {
      cwd,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      timeout: 600_000,
    });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`${tool} ${args.join(' ')} failed${stderr ? `:\n${stderr}` : ''}`, { cause: err });
  }
}

/** The versioned kernel image package that the `linux-image-amd64` metapackage points at today. */
export async function kernelPackage(): Promise<string> {
  const out = await sh('apt-cache', ['depends', 'linux-image-amd64']);
  const pkg = /Depends: (linux-image-\S+)/.exec(out)?.[1];
  if (!pkg) throw new Error(`apt-cache depends linux-image-amd64 names no kernel image:\n${out}`);
  return pkg;
}

/** `pkg` and everything it depends on, recursively (Depends and Pre-Depends only; virtual packages left out). */
export async function dependsClosure(pkg: string): Promise<string[]> {
  const out = await sh('apt-cache', [
    'depends',
    '--recurse',
    '--no-recommends',
    '--no-suggests',
    '--no-conflicts',
    '--no-breaks',
    '--no-replaces',
    '--no-enhances',
    pkg,
  ]);
  const names = out.split('\n').filter((line) => /^[a-z0-9]/.test(line));
  if (!names.includes(pkg)) throw new Error(`apt-cache knows no package ${pkg}`);
  return [...new Set(names)];
}

/**
 * Downloads the packages `resolve` names into `dir` and resolves with the .deb file names (they carry the
 * versions). If that fails, runs `apt-get update` (a fresh machine has no package lists; old lists may name
 * versions the mirror dropped) and tries once more, resolving the names again.
 */
export async function download(dir: string, resolve: () => Promise<string[]>): Promise<string[]> {
  const attempt = async () => {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await sh('apt-get', [...APT_OPTS, '-qq', 'download', ...(await resolve())], dir);
    return (await readdir(dir)).filter((f) => f.endsWith('.deb')).sort();
  };
  try {
    return await attempt();
  } catch (err) {
    if (process.getuid?.() !== 0)
      throw new Error('apt-get download failed: run `sudo apt-get update` (or run the lab as root)', { cause: err });
    await sh('apt-get', [...APT_OPTS, '-qq', 'update']);
    return attempt();
  }
}

/** Unpacks a .deb's files under `dir` (no maintainer scripts run, nothing is installed). */
export async function extract(deb: string, dir: string): Promise<void> {
  await sh('dpkg-deb', ['-x', deb, dir]);
}
