/**
 * The installed tree both packages hold, laid out under one directory: the executable, the hardened unit, its
 * flags file, the dashboards and rules, the man page and the documents Debian policy asks for.
 */
import { chmod, copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { gzipSync } from 'node:zlib';
import { EXECUTABLE, ROOT, sh, type BuildInfo } from './executable.js';
import { manPage } from './man-page.js';

export const NAME = 'qemu-thread-exporter';
export const HOMEPAGE = 'https://github.com/qemu-thread-exporter/qemu-thread-exporter';
export const SUMMARY = 'Prometheus exporter for the threads and disks of QEMU/KVM VMs';
export const DESCRIPTION = [
  'Serves, for every QEMU/KVM virtual machine on the host, its threads by role',
  '(vCPUs, iothreads, block worker pools), their CPU time and scheduling delay,',
  'and its disks with their host block devices. One executable (Node.js',
  'embedded), run by a hardened systemd unit holding only CAP_SYS_PTRACE and',
  'CAP_DAC_READ_SEARCH.',
];
/** Who the packages name as maintainer: DEB_MAINTAINER overrides it. */
export const MAINTAINER =
  process.env.DEB_MAINTAINER ?? 'qemu-thread-exporter developers <maintainers@qemu-thread-exporter.invalid>';
export const UNIT_PATH = `/usr/lib/systemd/system/${NAME}.service`;
export const CONFFILE = `/etc/default/${NAME}`;
export const DOC = `/usr/share/doc/${NAME}`;

/** The repository's unit, run from /usr/bin (systemd would otherwise take an npm-installed one in /usr/local/bin). */
export async function packagedUnit(): Promise<string> {
  const unit = await readFile(`${ROOT}deploy/systemd/${NAME}.service`, 'utf8');
  const header = /^(#[^\n]*\n)+/.exec(unit);
  const exec = /^# No directory:[^\n]*\nExecStart=qemu-thread-exporter /m;
  if (!header || !exec.test(unit))
    throw new Error(`deploy/systemd/${NAME}.service changed shape: update build/staging.ts`);
  return unit
    .replace(header[0], `# ${NAME} as a hardened systemd service, from its package: systemctl enable --now ${NAME}\n`)
    .replace(exec, `ExecStart=/usr/bin/${NAME} `);
}

/** LICENSE, LICENCE, COPYING… of a package directory. */
async function licenceText(dir: string): Promise<string | undefined> {
  const file = (await readdir(dir)).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
  return file === undefined ? undefined : readFile(`${dir}/${file}`, 'utf8');
}

/** Node's own LICENSE (with its bundled components'), where the usual installs put it. */
async function nodeLicence(): Promise<string> {
  const bin = dirname(process.execPath);
  for (const p of [`${bin}/../share/doc/nodejs/LICENSE`, `${bin}/../share/doc/node/LICENSE`, `${bin}/../LICENSE`]) {
    const text = await readFile(p, 'utf8').catch(() => undefined);
    if (text !== undefined) return text;
  }
  return `See https://github.com/nodejs/node/blob/${process.version}/LICENSE\n`;
}

interface Bundled {
  name: string;
  version: string;
  license: string;
  text: string | undefined;
}

async function bundled(dirs: string[]): Promise<Bundled[]> {
  const out: Bundled[] = [];
  for (const dir of dirs) {
    const pkg = JSON.parse(await readFile(`${dir}/package.json`, 'utf8')) as {
      name: string;
      version: string;
      license?: string;
    };
    out.push({
      name: pkg.name,
      version: pkg.version,
      license: pkg.license ?? 'see its notice',
      text: await licenceText(dir),
    });
  }
  return out;
}

/** debian/copyright in the machine-readable format; the bundled components' texts go to THIRD-PARTY-NOTICES. */
function copyright(deps: Bundled[], year: string): string {
  const list = deps.map((d) => ` ${d.name} ${d.version} (${d.license})`).join('\n');
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ${NAME}
Source: ${HOMEPAGE}
Comment: /usr/bin/${NAME} also holds Node.js ${process.version} (MIT, with the components it
 bundles under their own licences) and these npm packages:
${list}
 .
 Their licence texts are in ${DOC}/THIRD-PARTY-NOTICES.gz.

Files: *
Copyright: ${year} the qemu-thread-exporter developers
License: Apache-2.0

License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 can be
 found in /usr/share/common-licenses/Apache-2.0.
`;
}

async function notices(deps: Bundled[]): Promise<string> {
  const parts = [`Node.js ${process.version}\n\n${await nodeLicence()}`];
  for (const d of deps) parts.push(`${d.name} ${d.version} (${d.license})\n\n${d.text ?? `License: ${d.license}\n`}`);
  return parts.join(`\n${'='.repeat(78)}\n\n`);
}

/** Debian changelog: one entry for this version, dated by the commit it is built from. */
export function changelog(info: BuildInfo, date: string): string {
  return `${NAME} (${info.version}) unstable; urgency=medium

  * Release ${info.version}, revision ${info.revision}.

 -- ${MAINTAINER}  ${date}
`;
}

async function put(root: string, path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  await mkdir(dirname(`${root}${path}`), { recursive: true });
  await writeFile(`${root}${path}`, data);
  await chmod(`${root}${path}`, mode);
}

const gz = (text: string) => gzipSync(text, { level: 9 });

/**
 * Writes the installed tree under `root`; `date` is the commit's, RFC 2822. Returns the licences of what the
 * executable holds (ours, Node's, the bundled packages').
 */
export async function stage(root: string, info: BuildInfo, bundledDirs: string[], date: string): Promise<string[]> {
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  await mkdir(`${root}/usr/bin`, { recursive: true });
  await copyFile(EXECUTABLE, `${root}/usr/bin/${NAME}`);
  await chmod(`${root}/usr/bin/${NAME}`, 0o755);
  await put(root, UNIT_PATH, await packagedUnit());
  await put(root, CONFFILE, await readFile(`${ROOT}deploy/systemd/${NAME}.env`, 'utf8'));
  const share = `/usr/share/${NAME}`;
  for (const f of await readdir(`${ROOT}grafana/dashboards`)) {
    await put(root, `${share}/dashboards/${f}`, await readFile(`${ROOT}grafana/dashboards/${f}`));
  }
  await put(root, `${share}/rules/rules.yml`, await readFile(`${ROOT}deploy/prometheus/rules.yml`));
  const help = await sh(EXECUTABLE, ['--help']);
  const explainHelp = await sh(EXECUTABLE, ['explain', '--help']);
  const day = new Date(date).toISOString().slice(0, 10);
  await put(
    root,
    `/usr/share/man/man1/${NAME}.1.gz`,
    gz(manPage({ version: info.version, date: day, help, explainHelp })),
  );
  const deps = await bundled(bundledDirs);
  await put(root, `${DOC}/copyright`, copyright(deps, day.slice(0, 4)));
  await put(root, `${DOC}/THIRD-PARTY-NOTICES.gz`, gz(await notices(deps)));
  await put(root, `${DOC}/changelog.gz`, gz(changelog(info, date)));
  return [...new Set(['Apache-2.0', 'MIT', ...deps.map((d) => d.license)])];
}
