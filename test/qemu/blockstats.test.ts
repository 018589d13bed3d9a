import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ParseError } from '../../src/host/parse-error.js';
import { deviceIdOfQdev, diskNameOf, parseBlockstats, type BlockStats } from '../../src/host/qemu/blockstats.js';
import { parseQemuCmdline } from '../../src/host/qemu/cmdline.js';

const SAMPLE = fileURLToPath(new URL('../fixtures/samples/qemu-7.2-qmp/', import.meta.url));
const capture = (): unknown => JSON.parse(readFileSync(`${SAMPLE}/query-blockstats.json`, 'utf8'));

/**
 * BlockDeviceStats' mandatory members (qapi/block-core.json, QEMU 10.2), in the schema's order, with
 * `zone_append_*` (8.1) and `unmap_*` (4.2) among them: the parser reads 8 and must ignore the rest.
 */
const SCHEMA_INT_MEMBERS = [
  'rd_bytes',
  'wr_bytes',
  'zone_append_bytes',
  'unmap_bytes',
  'rd_operations',
  'wr_operations',
  'zone_append_operations',
  'flush_operations',
  'unmap_operations',
  'rd_total_time_ns',
  'wr_total_time_ns',
  'zone_append_total_time_ns',
  'flush_total_time_ns',
  'unmap_total_time_ns',
  'wr_highest_offset',
  'rd_merged',
  'wr_merged',
  'zone_append_merged',
  'unmap_merged',
  'failed_rd_operations',
  'failed_wr_operations',
  'failed_zone_append_operations',
  'failed_flush_operations',
  'failed_unmap_operations',
  'invalid_rd_operations',
  'invalid_wr_operations',
  'invalid_zone_append_operations',
  'invalid_flush_operations',
  'invalid_unmap_operations',
];

/** Stats with every schema member set to a distinct value (its index + 1, times 1000). */
function schemaStats(): Record<string, unknown> {
  const stats: Record<string, unknown> = Object.fromEntries(SCHEMA_INT_MEMBERS.map((k, i) => [k, (i + 1) * 1000]));
  return { ...stats, account_invalid: true, account_failed: false, timed_stats: [] };
}

function entry(stats: Record<string, unknown>, names: Record<string, unknown> = {}): unknown[] {
  return [{ device: 'drive0', qdev: 'scsi0-0-0-0', 'node-name': '#block123', ...names, stats }];
}

const value = (member: string): number => (SCHEMA_INT_MEMBERS.indexOf(member) + 1) * 1000;

describe('parseBlockstats, from the QAPI schema', () => {
  test('every BlockDeviceStats member: the 8 read map to their own, the rest are ignored', () => {
    assert.deepEqual(parseBlockstats(entry(schemaStats())), [
      {
        device: 'drive0',
        qdev: 'scsi0-0-0-0',
        nodeName: '#block123',
        rdOperations: value('rd_operations'),
        wrOperations: value('wr_operations'),
        flushOperations: value('flush_operations'),
        rdBytes: value('rd_bytes'),
        wrBytes: value('wr_bytes'),
        rdTotalTimeNs: value('rd_total_time_ns'),
        wrTotalTimeNs: value('wr_total_time_ns'),
        flushTotalTimeNs: value('flush_total_time_ns'),
        histograms: {},
      },
    ]);
  });

  test("the schema's histogram example: boundaries [10, 50, 100], bins [3, 1, 5, 2]", () => {
    const h = { boundaries: [10, 50, 100], bins: [3, 1, 5, 2] };
    const [s] = parseBlockstats(
      entry({
        ...schemaStats(),
        rd_latency_histogram: h,
        flush_latency_histogram: h,
        zone_append_latency_histogram: h,
      }),
    );
    assert.deepEqual(s!.histograms, { rd: h, flush: h });
  });

  test('device, qdev and node-name are optional (an empty drive has no node; query-nodes entries have no device)', () => {
    const [s] = parseBlockstats([{ stats: schemaStats() }]);
    assert.deepEqual([s!.device, s!.qdev, s!.nodeName], ['', '', '']);
    assert.deepEqual(parseBlockstats([]), []);
  });

  test('a counter past 2^53 is kept as JSON.parse rounds it, up to 2^64 - 1; beyond is not a uint64', () => {
    const withRdTime = (digits: string): unknown =>
      JSON.parse(
        JSON.stringify(entry({ ...schemaStats(), rd_total_time_ns: 0 })).replace(
          '"rd_total_time_ns":0',
          `"rd_total_time_ns":${digits}`,
        ),
      );
    assert.equal(parseBlockstats(withRdTime('9007199254740993'))[0]!.rdTotalTimeNs, 2 ** 53);
    assert.equal(parseBlockstats(withRdTime('18446744073709551615'))[0]!.rdTotalTimeNs, 2 ** 64);
    assert.throws(() => parseBlockstats(withRdTime('18446744073709555712')), ParseError); // 2^64 + 4096
    assert.throws(() => parseBlockstats(withRdTime('1e400')), ParseError); // Infinity
  });

  const malformed: [string, unknown][] = [
    ['not an array', { return: [] }],
    ['null', null],
    ['an entry that is not an object', [1]],
    ['an entry that is an array', [[]]],
    ['no stats', [{ device: 'd' }]],
    ['stats that is an array', [{ stats: [] }]],
    ['a counter missing', entry({ ...schemaStats(), wr_bytes: undefined })],
    ['a negative counter', entry({ ...schemaStats(), rd_operations: -1 })],
    ['a fractional counter', entry({ ...schemaStats(), rd_bytes: 1.5 })],
    ['a counter as a string', entry({ ...schemaStats(), flush_operations: '7' })],
    ['a counter that is null', entry({ ...schemaStats(), flush_total_time_ns: null })],
    ['device not a string', entry(schemaStats(), { device: 1 })],
    ['qdev not a string', entry(schemaStats(), { qdev: null })],
    ['node-name not a string', entry(schemaStats(), { 'node-name': {} })],
    ['a histogram that is not an object', entry({ ...schemaStats(), rd_latency_histogram: [] })],
    ['bins missing', entry({ ...schemaStats(), wr_latency_histogram: { boundaries: [10] } })],
    ['as many bins as boundaries', entry({ ...schemaStats(), rd_latency_histogram: { boundaries: [10], bins: [1] } })],
    [
      'two bins more than boundaries',
      entry({ ...schemaStats(), rd_latency_histogram: { boundaries: [10], bins: [1, 2, 3] } }),
    ],
    [
      'boundaries not ascending',
      entry({ ...schemaStats(), rd_latency_histogram: { boundaries: [10, 10], bins: [1, 2, 3] } }),
    ],
    ['a boundary of 0', entry({ ...schemaStats(), rd_latency_histogram: { boundaries: [0], bins: [1, 2] } })],
    ['a negative bin', entry({ ...schemaStats(), flush_latency_histogram: { boundaries: [5], bins: [1, -2] } })],
  ];
  for (const [what, json] of malformed) {
    test(`ParseError: ${what}`, () => {
      assert.throws(() => parseBlockstats(json), ParseError);
    });
  }

  test('the error names the entry and the member, and does not echo a huge value', () => {
    assert.throws(
      () =>
        parseBlockstats(entry({ ...schemaStats(), rd_bytes: 'x'.repeat(1 << 20) }, { device: 'y'.repeat(1 << 20) })),
      (err: Error) => {
        assert.ok(err instanceof ParseError);
        assert.match(
          err.message,
          /^query-blockstats\[0\] \(y+…\)\.stats\.rd_bytes is "x+…", not a non-negative integer$/,
        );
        assert.ok(err.message.length < 200, err.message);
        return true;
      },
    );
  });
});

describe('parseBlockstats on a real QEMU 7.2 capture (six ways to attach a disk)', () => {
  const stats = parseBlockstats(capture());
  const zero = {
    rdOperations: 0,
    wrOperations: 0,
    flushOperations: 0,
    rdBytes: 0,
    wrBytes: 0,
    rdTotalTimeNs: 0,
    wrTotalTimeNs: 0,
    flushTotalTimeNs: 0,
  };
  const edges = [10_000, 100_000, 1_000_000, 10_000_000];

  test('every entry, as QEMU reported it', () => {
    assert.deepEqual(stats, [
      {
        device: 'drive-v1',
        qdev: '/machine/peripheral/virtio1/virtio-backend',
        nodeName: '#block121',
        ...zero,
        rdOperations: 1,
        rdBytes: 512,
        rdTotalTimeNs: 278645,
        histograms: {
          rd: { boundaries: edges, bins: [0, 0, 1, 0, 0] },
          wr: { boundaries: edges, bins: [0, 0, 0, 0, 0] },
          flush: { boundaries: edges, bins: [0, 0, 0, 0, 0] },
        },
      },
      {
        device: 'drive-v2',
        qdev: '/machine/peripheral-anon/device[0]/virtio-backend',
        nodeName: '#block313',
        ...zero,
        histograms: {},
      },
      { device: 'ide0-hd0', qdev: '/machine/unattached/device[17]', nodeName: '#block549', ...zero, histograms: {} },
      {
        device: 'drive-usb',
        qdev: '/machine/peripheral/usb0/usb0.0/legacy[0]',
        nodeName: '#block780',
        ...zero,
        histograms: { rd: { boundaries: [50_000, 500_000], bins: [0, 0, 0] } },
      },
      { device: '', qdev: '/machine/peripheral-anon/device[1]', nodeName: 'n5-format', ...zero, histograms: {} },
      { device: '', qdev: 'sd6', nodeName: 'n6', ...zero, histograms: {} },
    ]);
  });

  test('diskNameOf names each disk as the exporter does from the same command line', () => {
    const argv = readFileSync(`${SAMPLE}/qemu-cmdline.txt`, 'utf8').trimEnd().split('\n');
    const disks = parseQemuCmdline(argv).disks.map((d) => d.name);
    assert.deepEqual(disks, ['virtio1', 'drive-v2', 'ide0-hd0', 'usb0', 'n5-format', 'sd6']);
    assert.deepEqual(stats.map(diskNameOf), disks);
  });
});

describe('deviceIdOfQdev', () => {
  const cases: [string, string | undefined][] = [
    ['scsi0-0-0-0', 'scsi0-0-0-0'], // a device with an id: the id itself
    ['/machine/peripheral/virtio1/virtio-backend', 'virtio1'], // virtio-blk-pci's inner device
    ['/machine/peripheral/usb0/usb0.0/legacy[0]', 'usb0'], // usb-storage's inner scsi-hd
    ['/machine/peripheral/virtio1', 'virtio1'],
    ['/machine/peripheral-anon/device[0]/virtio-backend', undefined],
    ['/machine/peripheral-anon/device[1]', undefined],
    ['/machine/unattached/device[17]', undefined],
    ['/machine/peripheral/', undefined],
    ['/machine/peripheralx/a', undefined],
    ['', undefined],
  ];
  for (const [qdev, id] of cases) {
    test(`${JSON.stringify(qdev)} → ${String(id)}`, () => {
      assert.equal(deviceIdOfQdev(qdev), id);
    });
  }

  test('diskNameOf: the device id, else the legacy drive, else a node named on the command line', () => {
    const s = (device: string, qdev: string, nodeName: string): BlockStats => ({
      ...parseBlockstats(entry(schemaStats()))[0]!,
      device,
      qdev,
      nodeName,
    });
    assert.equal(diskNameOf(s('drive0', 'scsi0', '#block1')), 'scsi0');
    assert.equal(diskNameOf(s('drive0', '/machine/unattached/device[3]', '#block1')), 'drive0');
    assert.equal(diskNameOf(s('', '/machine/peripheral-anon/device[2]', 'fmt0')), 'fmt0');
    assert.equal(diskNameOf(s('', '', '#block1')), undefined);
  });
});
