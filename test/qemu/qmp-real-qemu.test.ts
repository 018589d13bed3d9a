/**
 * The QMP client, the blockstats parser and qmpSocketsOf against a real qemu-system-x86_64 (no guest OS: its
 * firmware, SeaBIOS, reads the boot sector once it runs).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseCmdline } from '../../src/host/procfs/cmdline.js';
import { diskNameOf, parseBlockstats, type BlockStats } from '../../src/host/qemu/blockstats.js';
import { parseQemuCmdline } from '../../src/host/qemu/cmdline.js';
import {
  QmpCommandError,
  QmpTimeoutError,
  qmpBlockstats,
  qmpSession,
  qmpSetLatencyHistogram,
} from '../../src/host/qemu/qmp.js';
import { qmpSocketsOf } from '../../src/host/qemu/qmp-sockets.js';
import { launchQemu, startRealQemu, type Launched, type RealQemu } from '../support/real-qemu.js';
import { requireTool } from '../support/require-tool.js';

const SAMPLE = fileURLToPath(new URL('../fixtures/samples/qemu-7.2-qmp/', import.meta.url));
const EDGES = [10_000, 100_000, 1_000_000, 10_000_000];
const soon = (ms = 5000): number => Date.now() + ms;

/** The members of BlockDeviceStats that parseBlockstats reads, as QEMU spells them (not the schema example's `*_times_ns`). */
const READ_MEMBERS = [
  'rd_operations',
  'wr_operations',
  'flush_operations',
  'rd_bytes',
  'wr_bytes',
  'rd_total_time_ns',
  'wr_total_time_ns',
  'flush_total_time_ns',
];

async function argvOf(pid: number): Promise<string[]> {
  return parseCmdline(await readFile(`/proc/${String(pid)}/cmdline`, 'utf8'));
}

describe('QMP on a real QEMU (test/support/real-qemu.ts: scsi-hd scsi0-0-0-0 on drive drive0)', () => {
  let qemu: RealQemu;
  before(async () => {
    qemu = await startRealQemu({ name: `qmp-${String(process.pid)}` });
  });
  after(async () => {
    await qemu.stop();
  });

  test('query-blockstats: the members read, the disk named as the exporter names it, the socket found in argv', async () => {
    const [version, raw] = await qmpSession(
      qemu.qmpSocket,
      [{ execute: 'query-version' }, { execute: 'query-blockstats' }],
      soon(),
    );
    console.log(`QEMU ${JSON.stringify((version as { qemu: unknown }).qemu)}, ${qemu.accel}`);
    assert.ok(Array.isArray(raw) && raw.length === 1, JSON.stringify(raw));
    const stats = (raw[0] as { stats: Record<string, unknown> }).stats;
    for (const m of READ_MEMBERS) assert.equal(stats[m], 0, m);
    for (const m of ['rd_latency_histogram', 'wr_latency_histogram', 'flush_latency_histogram', 'idle_time_ns'])
      assert.ok(!(m in stats), `${m} before any histogram or I/O`);

    const parsed = parseBlockstats(raw);
    assert.equal(parsed.length, 1);
    const s = parsed[0]!;
    assert.equal(s.device, 'drive0');
    assert.equal(s.qdev, 'scsi0-0-0-0');
    assert.match(s.nodeName, /^#block\d+$/);
    assert.deepEqual(s.histograms, {});

    const argv = await argvOf(qemu.pid);
    assert.deepEqual(
      parsed.map(diskNameOf),
      parseQemuCmdline(argv).disks.map((d) => d.name),
    );
    assert.deepEqual(qmpSocketsOf(argv), [qemu.qmpSocket]);
  });

  test('a latency histogram set with the client reads back: a bin more than boundaries; a drive id is refused', async () => {
    await qmpSetLatencyHistogram(qemu.qmpSocket, 'scsi0-0-0-0', EDGES, soon());
    const [s] = await qmpBlockstats(qemu.qmpSocket, soon());
    for (const op of ['rd', 'wr', 'flush'] as const) {
      const h = s!.histograms[op];
      assert.ok(h, op);
      assert.deepEqual(h.boundaries, EDGES);
      assert.equal(h.bins.length, EDGES.length + 1);
      assert.deepEqual(h.bins, [0, 0, 0, 0, 0]);
    }
    // block-latency-histogram-set looks up a device (block/qapi-system.c, qmp_get_blk), not a drive or node
    await assert.rejects(qmpSetLatencyHistogram(qemu.qmpSocket, 'drive0', EDGES, soon()), (err) => {
      assert.ok(err instanceof QmpCommandError);
      assert.equal(err.errorClass, 'DeviceNotFound');
      assert.match(err.desc, /drive0/);
      return true;
    });
  });

  test('the firmware reads the boot sector: counted in the counters and in the histogram', async () => {
    await qmpSession(qemu.qmpSocket, [{ execute: 'cont' }], soon());
    const until = soon(30_000);
    let s: BlockStats | undefined;
    while (Date.now() < until) {
      [s] = await qmpBlockstats(qemu.qmpSocket, soon());
      if (s!.rdOperations > 0) break;
      await sleep(50);
    }
    assert.ok(s && s.rdOperations > 0, 'no read within 30 s');
    console.log(`after cont: ${JSON.stringify(s)}`);
    const rd = s.histograms.rd!;
    assert.equal(
      rd.bins.reduce((a, b) => a + b, 0),
      s.rdOperations,
    );
    assert.ok(s.rdBytes >= 512 * s.rdOperations && s.rdBytes % 512 === 0, String(s.rdBytes));
    assert.ok(s.rdTotalTimeNs > 0);
    await qmpSession(qemu.qmpSocket, [{ execute: 'stop' }], soon());
  });

  test('while another client holds the monitor, no greeting comes: a timeout that says so; then it serves us', async () => {
    const holder = createConnection(qemu.qmpSocket);
    await new Promise<void>((resolve, reject) => {
      holder.once('data', () => {
        resolve();
      });
      holder.once('error', reject);
    });
    const t0 = Date.now();
    await assert.rejects(qmpBlockstats(qemu.qmpSocket, t0 + 500), (err) => {
      assert.ok(err instanceof QmpTimeoutError, String(err));
      assert.equal(err.phase, 'greeting');
      assert.match(err.message, /another client probably holds this monitor/);
      return true;
    });
    assert.ok(Date.now() - t0 < 500 + 300, `${String(Date.now() - t0)} ms`);
    holder.destroy();
    // QEMU then greets the connection we dropped (it is next in the backlog), sees it closed, and takes ours.
    const stats = await qmpBlockstats(qemu.qmpSocket, soon());
    assert.equal(stats[0]!.qdev, 'scsi0-0-0-0');
  });
});

describe('qdev on a real QEMU: six ways to attach a disk (the command line of test/fixtures/samples/qemu-7.2-qmp)', () => {
  let dir: string;
  let launched: Launched;
  let socket: string;
  let argv: string[];
  before(async () => {
    dir = await mkdtemp(`${tmpdir()}/qmp-qdev-`);
    socket = `${dir}/qmp.sock`;
    const sample = (await readFile(`${SAMPLE}/qemu-cmdline.txt`, 'utf8')).trimEnd().split('\n');
    argv = sample.map((a) => a.replaceAll('/var/lib/images/', `${dir}/`).replace('/run/blockstats.qmp', socket));
    argv[0] = requireTool('qemu-system-x86_64');
    for (let i = 1; i <= 6; i++) await writeFile(`${dir}/d${String(i)}.raw`, Buffer.alloc(1 << 20));
    launched = await launchQemu(
      [requireTool('setpriv'), '--pdeathsig', 'KILL', '--', ...argv],
      [/^CPU 0\/(KVM|TCG)$/],
      'with six disks',
    );
  });
  after(async () => {
    await launched.kill();
    await rm(dir, { recursive: true, force: true });
  });

  test('qdev is the device id, else a QOM path; diskNameOf matches the exporter on every one', async () => {
    const stats = await qmpBlockstats(socket, soon());
    assert.deepEqual(
      stats.map((s) => [s.device, s.qdev]),
      [
        ['drive-v1', '/machine/peripheral/virtio1/virtio-backend'],
        ['drive-v2', '/machine/peripheral-anon/device[0]/virtio-backend'],
        ['ide0-hd0', stats[2]!.qdev],
        ['drive-usb', '/machine/peripheral/usb0/usb0.0/legacy[0]'],
        ['', '/machine/peripheral-anon/device[1]'],
        ['', 'sd6'],
      ],
    );
    assert.match(stats[2]!.qdev, /^\/machine\/unattached\/device\[\d+\]$/);
    assert.deepEqual(
      stats.map(diskNameOf),
      parseQemuCmdline(argv).disks.map((d) => d.name),
    );
    assert.deepEqual(qmpSocketsOf(argv), [socket]);
  });

  test("virtio-blk-pci's id is refused by block-latency-histogram-set (the proxy has no drive); its qdev is taken", async () => {
    await assert.rejects(qmpSetLatencyHistogram(socket, 'virtio1', EDGES, soon()), (err) => {
      assert.ok(err instanceof QmpCommandError);
      assert.equal(err.errorClass, 'GenericError');
      assert.match(err.desc, /does not have a block device backend/);
      return true;
    });
    for (const s of await qmpBlockstats(socket, soon())) await qmpSetLatencyHistogram(socket, s.qdev, EDGES, soon());
    for (const s of await qmpBlockstats(socket, soon())) assert.deepEqual(s.histograms.rd?.boundaries, EDGES, s.qdev);
  });
});
