import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { samples, startExporter } from './support/exporter.js';
import { GOLDEN as golden, HOST1 as host1, ourSeries } from './support/golden.js';

test('a fixture host with a libvirt VM and a bare QEMU gives exactly the golden /metrics', async () => {
  const { scrape, stop } = await startExporter({
    procfs: join(host1, 'proc'),
    sysfs: join(host1, 'sys'),
    rootfs: join(host1, 'rootfs'),
    libvirtStatusDir: join(host1, 'run/libvirt/qemu'),
  });
  let text: string;
  try {
    text = await scrape();
  } finally {
    await stop();
  }
  const ours = ourSeries(text);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, ours);
  assert.equal(
    ours,
    readFileSync(golden, 'utf8'),
    'run with UPDATE_GOLDEN=1 to accept a deliberate change, then review the diff',
  );

  // Series budget: every VM multiplies across a fleet.
  for (const domain of ['labvm', 'vm1']) {
    const n = [...samples(ours).keys()].filter((s) => s.includes(`domain="${domain}"`)).length;
    assert.ok(n <= 200, `${domain} costs ${n} series`);
  }
});
