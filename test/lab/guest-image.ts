/**
 * The lab guest, built from Debian's packages and cached: the kernel of `linux-image-amd64`, and an initramfs
 * with busybox-static, fio and every shared library fio loads, the kernel modules a virtio-scsi disk needs,
 * and the init script. Nothing is installed on the host.
 */
import { createHash } from 'node:crypto';
import { copyFile, lstat, mkdir, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCpioGz, type CpioEntry } from './cpio.js';
import { dependsClosure, download, extract, kernelPackage } from './debian-packages.js';
import { dynamicDeps, moduleDepends } from './elf.js';
import { INIT_SCRIPT } from './guest-init.js';

export const LAB_CACHE = fileURLToPath(new URL('../.cache/lab', import.meta.url));
const GUEST_DIR = `${LAB_CACHE}/guest`;

/** The modules the guest loads (with their dependencies): the PCI transport, the SCSI HBA, and the disk driver. */
const ROOT_MODULES = ['virtio_pci', 'virtio_scsi', 'sd_mod'];
/** Where the x86-64 ABI puts the dynamic loader; binaries name it (PT_INTERP) rather than needing it. */
const INTERPRETER = 'ld-linux-x86-64.so.2';
/** Where Debian's loader looks when a library has no RUNPATH. */
const LIB_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/lib', '/usr/lib'];

export interface Guest {
  kernel: string;
  initrd: string;
  /** The .deb files it was built from (their names carry the versions). */
  packages: string[];
}

/** Everything that changes the initramfs; a cached guest built from another recipe is rebuilt. */
function recipe(): string {
  return createHash('sha256')
    .update(JSON.stringify({ INIT_SCRIPT, ROOT_MODULES, format: 1 }))
    .digest('hex')
    .slice(0, 16);
}

/** The cached guest, built first if missing or stale (about 120 MB of packages to download and unpack, once). */
export async function buildGuest(log: (msg: string) => void = () => undefined): Promise<Guest> {
  const guest: Guest = { kernel: `${GUEST_DIR}/vmlinuz`, initrd: `${GUEST_DIR}/initrd.gz`, packages: [] };
  try {
    const manifest = JSON.parse(await readFile(`${GUEST_DIR}/manifest.json`, 'utf8')) as {
      recipe: string;
      packages: string[];
    };
    await Promise.all([lstat(guest.kernel), lstat(guest.initrd)]);
    if (manifest.recipe === recipe()) return { ...guest, packages: manifest.packages };
  } catch {
    /* not built yet */
  }

  const work = `${GUEST_DIR}.build`;
  await rm(work, { recursive: true, force: true });
  const t0 = Date.now();
  log('downloading the kernel, busybox-static, fio and the packages fio depends on');
  const kernelDebs = await download(`${work}/debs/kernel`, async () => [await kernelPackage()]);
  const userDebs = await download(`${work}/debs/user`, async () => [
    'busybox-static',
    ...(await dependsClosure('fio')),
  ]);
  await Promise.all([
    extract(`${work}/debs/kernel/${kernelDebs[0]!}`, `${work}/kernel`),
    (async () => {
      for (const deb of userDebs) await extract(`${work}/debs/user/${deb}`, `${work}/user`);
    })(),
  ]);

  const modules = await moduleLoadOrder(`${work}/kernel`, ROOT_MODULES);
  const libs = await sharedLibraries(`${work}/user`, '/usr/bin/fio');

  const vmlinuz = (await readdir(`${work}/kernel/boot`)).find((f) => f.startsWith('vmlinuz-'));
  if (!vmlinuz) throw new Error(`${kernelDebs[0]!} has no /boot/vmlinuz-*`);
  await copyFile(`${work}/kernel/boot/${vmlinuz}`, `${work}/vmlinuz`);
  await writeCpioGz(`${work}/initrd.gz`, await initramfs(`${work}/user`, modules, libs));
  const packages = [...kernelDebs, ...userDebs];
  await rm(GUEST_DIR, { recursive: true, force: true });
  await mkdir(GUEST_DIR, { recursive: true });
  await rename(`${work}/vmlinuz`, guest.kernel);
  await rename(`${work}/initrd.gz`, guest.initrd);
  await writeFile(`${GUEST_DIR}/manifest.json`, JSON.stringify({ recipe: recipe(), packages }, null, 2) + '\n');
  await rm(work, { recursive: true, force: true });
  log(
    `guest built in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${vmlinuz}, ${String(libs.size)} libraries, modules ${modules.map((m) => m.name).join(' ')}`,
  );
  return { ...guest, packages };
}

/** The initramfs: busybox and fio from the unpacked packages in `userRoot`, fio's libraries, the modules, /init. */
async function initramfs(userRoot: string, modules: Module[], libs: Map<string, string>): Promise<CpioEntry[]> {
  if (!libs.has(INTERPRETER)) throw new Error(`fio's libraries do not include ${INTERPRETER}`);
  const entries: CpioEntry[] = [
    ...['bin', 'lib', 'lib64', 'dev', 'proc', 'sys', 'tmp', 'modules'].map((path) => ({ path, kind: 'dir' as const })),
    { path: 'dev/console', kind: 'chardev', major: 5, minor: 1 },
    { path: 'init', kind: 'file', data: Buffer.from(INIT_SCRIPT), executable: true },
    { path: 'bin/busybox', kind: 'file', data: await readFile(`${userRoot}/bin/busybox`), executable: true },
    { path: 'bin/fio', kind: 'file', data: await readFile(`${userRoot}/usr/bin/fio`), executable: true },
    { path: `lib64/${INTERPRETER}`, kind: 'symlink', target: `/lib/${INTERPRETER}` },
    { path: 'modules/order', kind: 'file', data: Buffer.from(modules.map((m) => m.name).join('\n') + '\n') },
  ];
  for (const [soname, file] of libs)
    entries.push({ path: `lib/${soname}`, kind: 'file', data: await readFile(file), executable: true });
  for (const m of modules) entries.push({ path: `modules/${m.name}.ko`, kind: 'file', data: await readFile(m.file) });
  return entries;
}

/** `path` inside the tree `root`, following symlinks (absolute ones too) without leaving the tree; undefined if missing. */
async function resolveIn(root: string, path: string): Promise<string | undefined> {
  for (let hops = 0; hops < 40; hops++) {
    try {
      if (!(await lstat(root + path)).isSymbolicLink()) return root + path;
    } catch {
      return undefined;
    }
    const target = await readlink(root + path);
    path = target.startsWith('/') ? target : posix.join(posix.dirname(path), target);
  }
  throw new Error(`${root}${path}: too many symlinks`);
}

/** soname → file in `root`, for every library `binary` loads, directly or through other libraries. */
async function sharedLibraries(root: string, binary: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const queue = [await resolveIn(root, binary)];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    const { needed, runpath } = dynamicDeps(await readFile(file));
    for (const soname of needed) {
      if (found.has(soname)) continue;
      let lib: string | undefined;
      for (const dir of [...runpath, ...LIB_DIRS]) {
        lib = await resolveIn(root, `${dir}/${soname}`);
        if (lib) break;
      }
      if (!lib) throw new Error(`${soname}, needed by ${file}, is in none of the downloaded packages`);
      found.set(soname, lib);
      queue.push(lib);
    }
  }
  return found;
}

interface Module {
  name: string;
  file: string;
}

/** The modules `roots` need, each after the modules it depends on (what modules.dep would say). */
async function moduleLoadOrder(kernelRoot: string, roots: string[]): Promise<Module[]> {
  const index = new Map<string, Module>();
  const key = (name: string) => name.replaceAll('-', '_'); // the kernel treats - and _ in module names alike
  for (const entry of await readdir(`${kernelRoot}/lib/modules`, { recursive: true })) {
    if (!entry.endsWith('.ko')) continue;
    const name = posix.basename(entry, '.ko');
    index.set(key(name), { name, file: `${kernelRoot}/lib/modules/${entry}` });
  }
  const builtin = new Set<string>();
  for (const version of await readdir(`${kernelRoot}/lib/modules`)) {
    const list = await readFile(`${kernelRoot}/lib/modules/${version}/modules.builtin`, 'utf8').catch(() => '');
    for (const line of list.split('\n')) if (line) builtin.add(key(posix.basename(line, '.ko')));
  }
  const order: Module[] = [];
  const visit = async (name: string) => {
    if (builtin.has(key(name))) return;
    const m = index.get(key(name));
    if (!m) throw new Error(`kernel module ${name} is neither in the kernel package nor built in`);
    if (order.includes(m)) return;
    for (const dep of moduleDepends(await readFile(m.file))) await visit(dep);
    order.push(m);
  };
  for (const root of roots) await visit(root);
  return order;
}
