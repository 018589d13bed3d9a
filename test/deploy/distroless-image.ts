/**
 * The Dockerfile's final base, gcr.io/distroless/cc-debian12, built here because these machines cannot reach its
 * registry: what that image holds for a C++ program (glibc, libgcc, libstdc++; passwd and group with root,
 * nobody and nonroot), taken from the same debootstrap'd Debian 12 as the Node base (node-base-image.ts),
 * and tagged with the exact name the FROM uses, so `podman build --pull=never` finds it.
 */
import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readlink, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { promisify } from 'node:util';
import { requireTool, run } from '../support/require-tool.js';
import { debootstrapTarball } from './node-base-image.js';
import { podman } from './podman.js';

const execFileAsync = promisify(execFile);
const PACKAGES = ['libc6', 'libgcc-s1', 'libstdc++6'];
const ETC = {
  passwd: 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' +
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n',
  group: 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n',
  'nsswitch.conf': 'passwd: files\ngroup: files\nhosts: files dns\n',
};

/** `gcr.io/distroless/cc-debian12` → Debian's suite. */
export function parseDistrolessImage(name: string): { suite: string } {
  const m = /^gcr\.io\/distroless\/cc-debian(\d+)$/.exec(name);
  const suites: Record<string, string> = { '12': 'bookworm' };
  const suite = m ? suites[m[1]!] : undefined;
  if (suite === undefined) throw new Error(`${name}: expected gcr.io/distroless/cc-debian12`);
  return { suite };
}

/** Makes `name` exist locally; keeps one that already does. Returns what it did. */
export async function ensureDistrolessImage(name: string): Promise<string> {
  try {
    await podman(['image', 'exists', name]);
    return `${name}: already present`;
  } catch { /* build it */ }
  const { suite } = parseDistrolessImage(name);
  const tarball = await debootstrapTarball(suite);
  const dir = await mkdtemp('/tmp/qte-distroless-');
  try {
    const root = `${dir}/root`;
    await mkdir(root);
    await run('tar', ['--numeric-owner', '-xf', tarball, '-C', root], { timeoutMs: 120_000 });
    // The packages' files and symlinks at their real paths (Debian 12 merges /lib into /usr/lib), without their
    // directories, docs or locales; then the merge's own symlinks (/lib, /lib64).
    const listed = await run('dpkg-query', [`--admindir=${root}/var/lib/dpkg`, '-L', ...PACKAGES]);
    const files = new Set<string>();
    const links = new Map<string, string>();
    for (const path of new Set(listed.split('\n').filter((p) => p.startsWith('/') && !p.startsWith('/usr/share/')))) {
      const st = await lstat(`${root}${path}`).catch(() => undefined);
      if (!st || st.isDirectory()) continue;
      if (st.isSymbolicLink() && dirname(path) === '/') links.set(path.slice(1), await readlink(`${root}${path}`));
      else files.add(`${(await realpath(`${root}${dirname(path)}`)).slice(root.length + 1)}/${basename(path)}`);
    }
    await mkdir(`${dir}/ctx/fs/etc`, { recursive: true });
    await execFileAsync(requireTool('cp'), ['-a', '--parents', '-t', `${dir}/ctx/fs`, ...files], { cwd: root });
    for (const [link, target] of links) await symlink(target, `${dir}/ctx/fs/${link}`);
    for (const [file, text] of Object.entries(ETC)) await writeFile(`${dir}/ctx/fs/etc/${file}`, text);
    await writeFile(`${dir}/ctx/Containerfile`, 'FROM scratch\nCOPY fs/ /\n');
    await podman(['build', '--pull=never', '-f', `${dir}/ctx/Containerfile`, '-t', name, `${dir}/ctx`], { timeoutMs: 300_000 });
    return `${name}: built from debootstrap ${suite} (${PACKAGES.join(', ')}: ${String(files.size)} files)`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
