/** The package as users get it: `npm pack` (prepack builds it), then `npm install -g` of the tarball into a temp prefix. */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { requireTool } from '../support/require-tool.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const execFileAsync = promisify(execFile);

export interface GlobalInstall {
  /** The tarball `npm pack` wrote. */
  tarball: string;
  /** `PREFIX/bin/qemu-thread-exporter`, the command npm linked. */
  bin: string;
  /** What `npm install -g` printed (stdout and stderr). */
  installLog: string;
  remove(): Promise<void>;
}

async function npm(args: string[], cwd: string): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(requireTool('npm'), args, { cwd, timeout: 180_000, encoding: 'utf8' });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`npm ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
  }
}

export async function installGlobally(): Promise<GlobalInstall> {
  const dir = await mkdtemp(`${tmpdir()}/qte-npm-`);
  try {
    await npm(['pack', '--pack-destination', dir], ROOT);
    const tarball = `${dir}/${(await readdir(dir)).find((f) => f.endsWith('.tgz')) ?? 'missing.tgz'}`;
    const installLog = await npm(['install', '--global', '--prefix', `${dir}/prefix`, '--no-audit', '--no-fund', tarball], dir);
    return { tarball, bin: `${dir}/prefix/bin/qemu-thread-exporter`, installLog, remove: () => rm(dir, { recursive: true, force: true }) };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
