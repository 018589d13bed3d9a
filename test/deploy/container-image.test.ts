/**
 * The top-level Dockerfile, built by podman and run the way README's "Deploy" says: non-root, --pid=host, exactly
 * CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, read-only, while a real QEMU runs. Its libvirt status file is 0600 root
 * and its /proc/PID/io 0400 root, so the VM's name and I/O counters show that both capabilities reached the
 * exporter (the single executable, on distroless).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { access, chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { value } from '../support/exporter.js';
import { domainXml } from '../support/libvirt.js';
import { blockDeviceOf, startRealQemu, threadNames, type RealQemu } from '../support/real-qemu.js';
import { run } from '../support/require-tool.js';
import { ensureDistrolessImage } from './distroless-image.js';
import { ensureNodeBaseImage } from './node-base-image.js';
import { podman } from './podman.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCKERFILE = readFileSync(`${ROOT}Dockerfile`, 'utf8');
const README = readFileSync(`${ROOT}README.md`, 'utf8');
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string };
const IMAGE = 'localhost/qemu-thread-exporter:test';
const CAPS = ['--cap-drop=ALL', '--cap-add=SYS_PTRACE', '--cap-add=DAC_READ_SEARCH'];
/** README's run line, but for the status directory's source and the image name. */
const RUN_FLAGS = ['--pid=host', '--network=host', ...CAPS, '--read-only'];
/** podman hides /sys/dev/block (an empty tmpfs): the host's /sys, and its / for disk sources. */
const HOST_MOUNTS = ['-v', '/sys:/host/sys:ro', '-v', '/:/host/root:ro'];
const HOST_FLAGS = ['--path.sysfs=/host/sys', '--path.rootfs=/host/root'];

const started = Date.now();
const containers: string[] = [];
/** What before() set up, undone in reverse by after(), even when before() failed half-way. */
const cleanups: (() => Promise<void>)[] = [];
let qemu: RealQemu;
let statusDir: string;
const domain = `image-test-${String(process.pid)}`;

/** The images the FROMs name: the Node one the executable is built in, then distroless, which it runs on. */
function baseImages(): [string, string] {
  const names = [...DOCKERFILE.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]!);
  assert.equal(names.length, 2, `FROM names ${names.join(', ')}`);
  assert.match(names[1]!, /^gcr\.io\/distroless\//);
  return [names[0]!, names[1]!];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** libvirt's status file for the QEMU (mode 0600 root, as libvirtd writes it), in a 0755 directory of its own. */
async function writeStatusDir(vm: RealQemu): Promise<string> {
  const dir = await mkdtemp(`${tmpdir()}/qte-image-status-`);
  await chmod(dir, 0o755);
  const vcpus = [...(await threadNames(vm.pid))]
    .flatMap(([tid, name]) => { const m = /^CPU (\d+)\//.exec(name); return m ? [`<vcpu id='${m[1]!}' pid='${String(tid)}'/>`] : []; });
  const xml = `<domstatus state='running' reason='booted' pid='${String(vm.pid)}'>\n<vcpus>${vcpus.join('')}</vcpus>\n` +
    `${domainXml('kvm', vm.name, vm.uuid, vm.diskPath)}</domstatus>\n`;
  await writeFile(`${dir}/${vm.name}.xml`, xml, { mode: 0o600 });
  return dir;
}

interface Running { name: string; url: string }

/**
 * `podman run -d RUNFLAGS IMAGE COMMAND…`, where `command` gets the --web.listen-address flag to place; resolves
 * once /-/ready answers 200, or rejects with the container's log.
 */
async function runImage(label: string, runFlags: string[], command: (listen: string) => string[]): Promise<Running> {
  const name = `qte-${label}-${String(process.pid)}`;
  containers.push(name);
  const port = await freePort();
  await podman(['run', '-d', '--name', name, ...runFlags, IMAGE, ...command(`--web.listen-address=127.0.0.1:${String(port)}`)]);
  const url = `http://127.0.0.1:${String(port)}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${url}/-/ready`).catch(() => undefined);
    if (res?.status === 200) return { name, url };
    const running = (await podman(['inspect', '--format', '{{.State.Running}}', name])).trim();
    if (running !== 'true' || Date.now() > deadline) {
      throw new Error(`${name} not ready (running: ${running}):\n${await podman(['logs', name]).catch(String)}`);
    }
    await sleep(200);
  }
}

/** The uid and effective capabilities (hex) of the container's process, from the host's /proc. */
async function credentials(c: Running): Promise<{ uid: string; capEff: string }> {
  const pid = (await podman(['inspect', '--format', '{{.State.Pid}}', c.name])).trim();
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return { uid: /^Uid:\s+(\d+)/m.exec(status)?.[1] ?? '', capEff: /^CapEff:\s+(\w+)/m.exec(status)?.[1] ?? '' };
}
/** CAP_DAC_READ_SEARCH (2) and CAP_SYS_PTRACE (19), nothing else. */
const TWO_CAPS = ((1n << 2n) | (1n << 19n)).toString(16).padStart(16, '0');

async function scrape(c: Running): Promise<string> {
  const res = await fetch(`${c.url}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** What both capabilities show: the libvirt name (DAC_READ_SEARCH), process I/O (both), and the host disk. */
async function assertFullView(text: string): Promise<void> {
  assert.equal(value(text, 'qemu_vm_info', { domain, uuid: qemu.uuid, pid: String(qemu.pid), source: 'libvirt' }), 1,
    'the VM is not named from its 0600 status file');
  assert.equal(value(text, 'qemu_threads', { domain, role: 'vcpu' }), 2);
  assert.equal(value(text, 'qemu_threads', { domain, role: 'iothread' }), 1);
  assert.equal(value(text, 'qemu_threads', { domain, role: 'main' }), 1);
  assert.notEqual(value(text, 'qemu_process_read_bytes_total', { domain }), undefined, '/proc/PID/io was not readable');
  const dev = await blockDeviceOf(qemu.diskPath);
  assert.ok(dev);
  assert.equal(value(text, 'qemu_disk_info', { domain, disk: 'sdc', source: qemu.diskPath, host_device: dev }), 1);
}

before(async () => {
  const t0 = Date.now();
  const [node, distroless] = baseImages();
  console.log(await ensureNodeBaseImage(node));
  console.log(await ensureDistrolessImage(distroless));
  const t1 = Date.now();
  const revision = (await run('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']).catch(() => 'unknown')).trim();
  // npm ci inside the build needs this machine's CA bundle (its egress proxy signs TLS); mounted, never copied.
  const npmrc = `${await mkdtemp(`${tmpdir()}/qte-npmrc-`)}/npmrc`;
  await writeFile(npmrc, 'cafile=/etc/ssl/certs/ca-certificates.crt\nfund=false\naudit=false\n');
  try {
    await podman(['build', '--pull=never', '--format=docker', '--network=host',
      '-v', '/etc/ssl/certs:/etc/ssl/certs:ro', '-v', `${npmrc}:/root/.npmrc:ro`,
      '--build-arg', `REVISION=${revision}`, '-t', IMAGE, ROOT], { timeoutMs: 600_000 });
  } finally {
    await rm(npmrc, { force: true });
  }
  console.log(`base image ${String((t1 - t0) / 1000)} s, image build ${String((Date.now() - t1) / 1000)} s`);
  qemu = await startRealQemu({ name: domain, uuid: randomUUID() });
  cleanups.push(() => qemu.stop());
  statusDir = await writeStatusDir(qemu);
  cleanups.push(() => rm(statusDir, { recursive: true, force: true }));
});

after(async () => {
  for (const name of containers) await podman(['rm', '--force', '--time=5', name]).catch(() => undefined);
  // Earlier builds of this image, which each rebuild leaves untagged (no other image is touched).
  await podman(['image', 'prune', '--force', '--filter=label=org.opencontainers.image.title=qemu-thread-exporter']);
  for (const cleanup of cleanups.reverse()) await cleanup();
  console.log(`container image test: ${String((Date.now() - started) / 1000)} s in all`);
});

test('the image: non-root, OCI labels, a working health check, stops without the capabilities, no build-time secrets', async () => {
  const [config] = JSON.parse(await podman(['image', 'inspect', IMAGE])) as {
    Size: number; Healthcheck?: { Test: string[] }; Config: { User: string; ExposedPorts: Record<string, unknown>; Labels: Record<string, string> };
  }[];
  assert.ok(config);
  assert.match(config.Config.User, /^[1-9]\d*:[1-9]\d*$/);
  assert.deepEqual(Object.keys(config.Config.ExposedPorts), ['10077/tcp']);
  // No shell or curl in the image: the health check is the exporter's explain, asking the running one.
  assert.deepEqual(config.Healthcheck?.Test.slice(1), ['/usr/local/bin/qemu-thread-exporter', 'explain', '--url=http://127.0.0.1:10077']);
  assert.equal(config.Config.Labels['org.opencontainers.image.version'], pkg.version);
  assert.equal(config.Config.Labels['org.opencontainers.image.title'], 'qemu-thread-exporter');
  console.log(`image size: ${(config.Size / 1e6).toFixed(1)} MB`);
  const version = await podman(['run', '--rm', ...CAPS, '--no-healthcheck', IMAGE, '--version']);
  assert.match(version, new RegExp(`^qemu-thread-exporter ${pkg.version.replaceAll('.', '\\.')} \\(revision \\w+, node v\\d+`));
  // Without the two capabilities its entrypoint stops at once, and says why (README, "Deploy").
  await assert.rejects(podman(['run', '--rm', '--cap-drop=ALL', '--no-healthcheck', IMAGE, '--version']),
    /setpriv: apply capabilities: Operation not permitted/);
  // Its HEALTHCHECK, on the default port: in a network namespace of its own, so the host's port 10077 may be taken.
  const name = `qte-health-${String(process.pid)}`;
  containers.push(name);
  await podman(['run', '-d', '--name', name, '--network=none', ...CAPS, IMAGE]);
  const deadline = Date.now() + 30_000;
  while (!(await podman(['healthcheck', 'run', name]).then(() => true, () => false))) {
    assert.ok(Date.now() < deadline, `never healthy:\n${await podman(['logs', name])}`);
    await sleep(500);
  }
  // The CA bundle and npmrc were mounted into the build only: nothing of them is in the image (at most the empty
  // mount points the build's RUN left); nor is a shell or a node.
  const fs = (await podman(['image', 'mount', IMAGE])).trim();
  try {
    for (const path of ['/etc/ssl/certs', '/root/.npmrc']) {
      const st = await stat(`${fs}${path}`).catch(() => undefined);
      const size = st?.isDirectory() ? (await readdir(`${fs}${path}`)).length : (st?.size ?? 0);
      assert.equal(size, 0, `${path} is in the image`);
    }
    for (const path of ['/bin/sh', '/usr/bin/sh', '/usr/local/bin/node']) {
      assert.equal(await access(`${fs}${path}`).then(() => true, () => false), false, `${path} is in the image`);
    }
  } finally {
    await podman(['image', 'unmount', IMAGE]);
  }
});

test("README's run line: the QEMU's threads, libvirt name, I/O and disk, as a non-root user", async () => {
  const mounts = ['-v /run/libvirt/qemu:/run/libvirt/qemu:ro', `${HOST_MOUNTS[0]!} ${HOST_MOUNTS[1]!}`, `${HOST_MOUNTS[2]!} ${HOST_MOUNTS[3]!}`];
  for (const flag of [...RUN_FLAGS, ...mounts, ...HOST_FLAGS]) assert.ok(README.includes(flag), `README's run line lacks ${flag}`);
  const c = await runImage('podman', [...RUN_FLAGS, '-v', `${statusDir}:/run/libvirt/qemu:ro`, ...HOST_MOUNTS],
    (listen) => [listen, ...HOST_FLAGS]);
  await assertFullView(await scrape(c));
  assert.deepEqual(await credentials(c), { uid: '10077', capEff: TWO_CAPS });
  const t0 = Date.now();
  await podman(['stop', '--time=10', c.name]);
  assert.equal((await podman(['inspect', '--format', '{{.State.ExitCode}}', c.name])).trim(), '0');
  console.log(`podman stop: ${String(Date.now() - t0)} ms`);
});

test('a runtime that sets no ambient capabilities, with no_new_privs (Docker, containerd, CRI-O): the same view', async () => {
  // podman hands a non-root user its added capabilities as ambient ones; Docker and the Kubernetes runtimes do not,
  // so exec drops them. Emulated: the container starts as root; setpriv switches to the image's user, keeping the
  // capabilities permitted (as runc does) but none inheritable or ambient, bounds them to the two, sets no_new_privs
  // and runs the image's entrypoint: only its file capabilities can hand the two to the exporter. (The image has
  // no other setpriv: its entrypoint's, run as root, plays the runtime; as root its file capabilities add nothing.)
  const [config] = JSON.parse(await podman(['image', 'inspect', IMAGE])) as { Config: { User: string; Entrypoint: string[] } }[];
  const [uid = '', gid = ''] = config!.Config.User.split(':');
  const c = await runImage('no-ambient', [
    '--pid=host', '--network=host', '--read-only', '--user=0', `--entrypoint=${config!.Config.Entrypoint[0]!}`,
    '--cap-drop=ALL', '--cap-add=SYS_PTRACE,DAC_READ_SEARCH,SETUID,SETGID,SETPCAP',
    '-v', `${statusDir}:/run/libvirt/qemu:ro`, ...HOST_MOUNTS,
  ], (listen) => [
    `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--inh-caps=-all',
    '--bounding-set=-all,+sys_ptrace,+dac_read_search', '--no-new-privs', '--',
    ...config!.Config.Entrypoint, listen, ...HOST_FLAGS,
  ]);
  await assertFullView(await scrape(c));
  assert.deepEqual(await credentials(c), { uid: '10077', capEff: TWO_CAPS });
});
