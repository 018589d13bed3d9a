/** The Grafana dashboards: generated from grafana/*.ts, complete on every panel, linked, fed by rules.yml. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DASHBOARD_DIR, DASHBOARDS, render } from '../../grafana/dashboards.js';
import { DASHBOARD_FILES, dataPanels, loadDashboard, loadRules } from '../support/monitoring-files.js';

const [hostOverview, vmDetail] = DASHBOARD_FILES.map(loadDashboard);
assert.ok(hostOverview && vmDetail);

test('the committed dashboards are exactly what grafana/ generates (npm run dashboards)', () => {
  for (const { file, build } of DASHBOARDS) {
    assert.equal(
      readFileSync(`${DASHBOARD_DIR}${file}`, 'utf8'),
      render(build()),
      `grafana/dashboards/${file} is stale: run npm run dashboards`,
    );
  }
});

test('every panel has a unique id, a description, a unit, thresholds, and queries on the selected data source', () => {
  for (const d of [hostOverview, vmDetail]) {
    const ids = d.panels.flatMap((p) => [p, ...(p.panels ?? [])]).map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `${d.uid}: duplicate panel ids`);
    for (const p of dataPanels(d)) {
      const where = `${d.uid} "${p.title}"`;
      assert.ok((p.description ?? '').length > 40, `${where}: description`);
      assert.ok(p.fieldConfig?.defaults.unit, `${where}: unit`);
      assert.ok((p.fieldConfig.defaults.thresholds?.steps ?? []).length > 0, `${where}: thresholds`);
      assert.equal(p.datasource?.uid, '${datasource}', `${where}: data source`);
      assert.ok((p.targets ?? []).length > 0, `${where}: queries`);
      for (const t of p.targets ?? []) {
        assert.ok(t.expr.trim() !== '' && t.refId !== '', `${where}: empty query`);
        assert.equal(t.datasource?.uid, '${datasource}', `${where} ${t.refId}: data source`);
      }
    }
  }
});

test('template variables: data source, job, host, VM, and on the VM detail its disks', () => {
  assert.deepEqual(
    hostOverview.templating.list.map((v) => v.name),
    ['datasource', 'job', 'instance', 'domain'],
  );
  assert.deepEqual(
    vmDetail.templating.list.map((v) => v.name),
    ['datasource', 'job', 'instance', 'domain', 'disk'],
  );
  // The host overview shows many hosts and VMs at once; the VM detail exactly one VM, any of its disks.
  assert.ok(hostOverview.templating.list.filter((v) => v.name !== 'datasource').every((v) => v.multi && v.includeAll));
  assert.deepEqual(
    vmDetail.templating.list.filter((v) => v.multi).map((v) => v.name),
    ['disk'],
  );
});

test('the dashboards link to each other, keeping the selected host and VM', () => {
  for (const [from, to] of [
    [hostOverview, vmDetail],
    [vmDetail, hostOverview],
  ] as const) {
    assert.ok(
      from.links.some((l) => l.url === `/d/${to.uid}` && l.includeVars),
      `${from.uid} does not link to ${to.uid}`,
    );
  }
});

test('the headline panel draws workers, their peak, the pool maximum and the disks in flight on one time axis', () => {
  const headline = dataPanels(vmDetail)[0]!;
  const exprs = (headline.targets ?? []).map((t) => t.expr).join('\n');
  for (const metric of [
    'qemu_threads{',
    'role="worker"',
    'qemu_threads_peak{',
    'qemu_thread_pool_max_threads{',
    'qemu_thread_pool_threads{',
    'qemu_disk_io_now{',
  ]) {
    assert.ok(exprs.includes(metric), `headline panel lacks ${metric}`);
  }
  assert.equal(headline.type, 'timeseries');
});

test('every recorded series a panel reads is recorded by rules.yml', () => {
  const recorded = new Set(
    loadRules()
      .map((r) => r.record)
      .filter((r) => r !== undefined),
  );
  const read = [hostOverview, vmDetail]
    .flatMap(dataPanels)
    .flatMap((p) => p.targets ?? [])
    .flatMap((t) => [...t.expr.matchAll(/\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b/g)].map((m) => m[0]));
  assert.ok(read.length > 0);
  assert.deepEqual(
    [...new Set(read)].filter((name) => !recorded.has(name)),
    [],
  );
});
