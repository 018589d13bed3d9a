/** The .deb, from the staged tree, with dpkg-deb (no debian/ source tree: the package is native and binary-only). */
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { DIST, ROOT, sh, type BuildInfo } from './executable.js';
import { CONFFILE, DESCRIPTION, HOMEPAGE, MAINTAINER, NAME, SUMMARY } from './staging.js';

/** Every regular file under `dir`, relative to it. */
async function files(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(`${dir}${rel}`, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...(await files(dir, `${rel}/${e.name}`)));
    else out.push(`${rel}/${e.name}`.slice(1));
  }
  return out.sort();
}

/** libc6, libstdc++6, libgcc-s1 with the versions the executable needs, as dpkg-shlibdeps finds them. */
async function shlibDepends(executable: string): Promise<string> {
  // dpkg-shlibdeps wants a debian/control to read; a throwaway one will do.
  const dir = await mkdtemp(`${tmpdir()}/qte-shlibdeps-`);
  try {
    await mkdir(`${dir}/debian`);
    await writeFile(`${dir}/debian/control`, `Source: ${NAME}\n\nPackage: ${NAME}\nArchitecture: any\n`);
    const out = await sh('dpkg-shlibdeps', ['-O', executable], { cwd: dir });
    const m = /^shlibs:Depends=(.+)$/m.exec(out);
    if (!m) throw new Error(`dpkg-shlibdeps said: ${out}`);
    return m[1]!;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function installedSizeKiB(root: string, list: string[]): Promise<number> {
  let bytes = 0;
  for (const f of list) bytes += (await stat(`${root}/${f}`)).size;
  return Math.ceil(bytes / 1024);
}

/** Builds dist/qemu-thread-exporter_VERSION_amd64.deb from the staged tree `root` (which it adds DEBIAN/ to). */
export async function buildDeb(root: string, info: BuildInfo): Promise<string> {
  const overrides = `${root}/usr/share/lintian/overrides/${NAME}`;
  await mkdir(dirname(overrides), { recursive: true });
  await copyFile(`${ROOT}deploy/package/lintian-overrides`, overrides);
  const list = await files(root);
  const control = [
    `Package: ${NAME}`,
    `Version: ${info.version}`,
    'Architecture: amd64',
    `Maintainer: ${MAINTAINER}`,
    `Installed-Size: ${String(await installedSizeKiB(root, list))}`,
    // No init-system-helpers (deb-systemd-invoke, in the maintainer scripts): it is essential.
    `Depends: ${await shlibDepends(`${root}/usr/bin/${NAME}`)}`,
    'Section: net',
    'Priority: optional',
    `Homepage: ${HOMEPAGE}`,
    `Description: ${SUMMARY}`,
    ...DESCRIPTION.map((l) => ` ${l}`),
    '',
  ].join('\n');
  const md5sums = await Promise.all(
    list.map(
      async (f) =>
        `${createHash('md5')
          .update(await readFile(`${root}/${f}`))
          .digest('hex')}  ${f}\n`,
    ),
  );
  const debian = `${root}/DEBIAN`;
  await mkdir(debian);
  await writeFile(`${debian}/control`, control);
  await writeFile(`${debian}/md5sums`, md5sums.join(''));
  await writeFile(`${debian}/conffiles`, `${CONFFILE}\n`);
  for (const script of ['postinst', 'prerm', 'postrm']) {
    await copyFile(`${ROOT}deploy/package/${script}`, `${debian}/${script}`);
    await chmod(`${debian}/${script}`, 0o755);
  }
  const deb = `${DIST}/${NAME}_${info.version}_amd64.deb`;
  // root:root owners without fakeroot. xz as Debian's own packages, at level 1: 90 MB at -6 takes minutes on a
  // small CI machine, for 3 MB less.
  await sh('dpkg-deb', ['--root-owner-group', '-Zxz', '-z1', '--build', root, deb]);
  await rm(debian, { recursive: true });
  await rm(`${root}/usr/share/lintian`, { recursive: true });
  return deb;
}
