/** The .rpm, from the same staged tree, with rpmbuild (Debian's rpm package builds it as on RHEL). */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { DIST, sh, type BuildInfo } from './executable.js';
import { CONFFILE, DESCRIPTION, DOC, HOMEPAGE, MAINTAINER, NAME, SUMMARY, UNIT_PATH } from './staging.js';

/** Like systemd's rpm macros (which Debian lacks): stop on erase, try-restart on upgrade; enable nothing. */
const SCRIPTLETS = `%post
# Enables and starts nothing: the operator runs systemctl enable --now ${NAME}.
if [ -d /run/systemd/system ]; then systemctl daemon-reload || :; fi

%preun
if [ $1 -eq 0 ] && [ -d /run/systemd/system ]; then systemctl stop ${NAME}.service || :; fi

%postun
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || :
  if [ $1 -ge 1 ]; then systemctl try-restart ${NAME}.service || :; fi
fi
`;

function spec(root: string, info: BuildInfo, date: string, licences: string[]): string {
  // rpm's changelog date: "Tue Dec 02 2025".
  const d = new Date(date);
  const day = `${d.toUTCString().slice(0, 3)} ${d.toUTCString().slice(8, 11)} ${d.toUTCString().slice(5, 7)} ${String(d.getUTCFullYear())}`;
  return `Name: ${NAME}
Version: ${info.version}
Release: 1
Summary: ${SUMMARY}
License: ${licences.map((l) => (l.includes(' ') ? `(${l.replace(/^\((.*)\)$/, '$1')})` : l)).join(' AND ')}
URL: ${HOMEPAGE}
BuildArch: x86_64
# The executable is Node with the exporter appended: stripping it (as brp-strip would) or splitting out its
# debug info loses the exporter, and it has no build-id links worth shipping.
%global debug_package %{nil}
%global __os_install_post %{nil}
%global _build_id_links none
# xz at level 1, as the .deb: level 6 or zstd -19 take minutes for a few MB.
%global _binary_payload w1.xzdio

%description
${DESCRIPTION.join('\n')}

%install
cp -a ${root}/. %{buildroot}/

%files
%attr(0755,root,root) /usr/bin/${NAME}
${UNIT_PATH}
%config(noreplace) ${CONFFILE}
/usr/share/${NAME}
/usr/share/man/man1/${NAME}.1.gz
${DOC}

${SCRIPTLETS}
%changelog
* ${day} ${MAINTAINER} - ${info.version}-1
- Release ${info.version} (revision ${info.revision})
`;
}

/** Builds dist/qemu-thread-exporter-VERSION-1.x86_64.rpm from the staged tree `root`. */
export async function buildRpm(root: string, info: BuildInfo, date: string, licences: string[]): Promise<string> {
  const top = `${DIST}/rpmbuild`;
  await rm(top, { recursive: true, force: true });
  await mkdir(`${top}/SPECS`, { recursive: true });
  await writeFile(`${top}/SPECS/${NAME}.spec`, spec(root, info, date, licences));
  await sh('rpmbuild', [
    '-bb',
    '--define',
    `_topdir ${top}`,
    '--define',
    `_rpmdir ${DIST}`,
    '--define',
    '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm',
    `${top}/SPECS/${NAME}.spec`,
  ]);
  await rm(top, { recursive: true, force: true });
  const rpm = (await readdir(DIST)).find((f) => f.startsWith(`${NAME}-${info.version}-1.`) && f.endsWith('.rpm'));
  if (rpm === undefined) throw new Error('rpmbuild wrote no .rpm');
  return `${DIST}/${rpm}`;
}
