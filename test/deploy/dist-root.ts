/**
 * A Debian 12 root filesystem with no Node.js, for the single executable and its packages: the same debootstrap
 * minbase the container image's base is made of (cached by node-base-image.ts), unpacked afresh for each use.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { requireTool, run } from '../support/require-tool.js';
import { debootstrapTarball } from './node-base-image.js';

const execFileAsync = promisify(execFile);

export interface Root {
  dir: string;
  /** Runs `argv` chrooted into it; resolves with stdout, rejects with stderr. */
  exec(argv: string[], timeoutMs?: number): Promise<string>;
  /** The command prefix that runs a program in it (for startCli). */
  prefix: string[];
  remove(): Promise<void>;
}

/** This machine's environment, without what names host files the root lacks (the CI's extra CA bundle). */
function chrootEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_OPTIONS;
  return env;
}

export async function debianRoot(label: string): Promise<Root> {
  const tarball = await debootstrapTarball('bookworm');
  const dir = await mkdtemp(`${tmpdir()}/qte-${label}-root-`);
  await run('tar', ['--numeric-owner', '-xf', tarball, '-C', dir], { timeoutMs: 120_000 });
  const chroot = requireTool('chroot');
  return {
    dir,
    prefix: ['env', '-u', 'NODE_EXTRA_CA_CERTS', '-u', 'NODE_OPTIONS', chroot, dir],
    async exec(argv, timeoutMs = 60_000) {
      try {
        const { stdout } = await execFileAsync(chroot, [dir, ...argv], { env: chrootEnv(), encoding: 'utf8', timeout: timeoutMs });
        return stdout;
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        throw new Error(`chroot ${dir} ${argv.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
      }
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Runs a required tool; resolves with stdout and stderr together, rejects with both. */
export async function tool(name: string, args: string[], timeoutMs = 120_000): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(requireTool(name), args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`${name} ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
  }
}
