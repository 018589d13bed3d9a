/**
 * End to end with a real Prometheus: it scrapes the real exporter CLI every second while a fake QEMU (with a
 * worker pool and a disk) and a real qemu-system-x86_64 run, and evaluates deploy/prometheus/rules.yml. Then every
 * rule and every query of both dashboards must evaluate, and every dashboard query must return data.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { startCli, type Cli } from '../support/cli.js';
import { startFakeQemu, type FakeQemu } from '../support/fake-qemu.js';
import {
  DASHBOARD_FILES,
  RULES_FILE,
  dataPanels,
  loadDashboard,
  loadRules,
  parseLabelValues,
  queryResultOptions,
  substitute,
  type DashboardJson,
} from '../support/monitoring-files.js';
import { startPrometheus, type Prometheus, type Series } from '../support/prometheus.js';
import { createRawImage, IMAGE_DIR, startRealQemu, type RealQemu } from '../support/real-qemu.js';
import { promtool } from '../support/promtool.js';

/** The job name rules.yml expects (QemuExporterDown, QemuExporterAbsent). */
const JOB = 'qemu-thread-exporter';
const fakeDomain = `e2e-prom-fake-${String(process.pid)}`;
const realDomain = `e2e-prom-real-${String(process.pid)}`;
const fakeImage = `${IMAGE_DIR}/${fakeDomain}.raw`;
/** Grafana's interval variables, for a 1 s scrape interval and a short time range. */
const INTERVALS = { __rate_interval: '5s', __interval: '1s', __range: '30s', __range_s: '30' };
/** How long data may take to appear: a few scrapes, then rule evaluations over them. */
const DATA_DEADLINE_MS = 30_000;

let fake: FakeQemu | undefined;
let real: RealQemu | undefined;
let cli: Cli | undefined;
let prometheus: Prometheus | undefined;
let target = '';

before(async () => {
  await createRawImage(fakeImage);
  fake = await startFakeQemu({
    name: fakeDomain,
    workers: 6,
    extraArgs: [
      '-id',
      '100', // as Proxmox VE's QEMU is given its VM id: the VM pickers show "100 (NAME)"
      '-device',
      'virtio-scsi-pci,id=scsi0,iothread=iothread1',
      '-drive',
      `file=${fakeImage},if=none,id=drive0,format=raw,cache=none,aio=threads`,
      '-device',
      'scsi-hd,bus=scsi0.0,drive=drive0,id=disk0',
    ],
  });
  real = await startRealQemu({ name: realDomain });
  // QEMU's own view of the real QEMU's disk (its QMP socket): the guest-latency rules and panel have data.
  // The fake's 6 idle workers make a busy pool from 4: the syscall observer sees them, and its panel has data.
  cli = await startCli(['--collector.qmp=true', '--explain.pool-busy=4']);
  target = cli.url.replace('http://', '');
  prometheus = await startPrometheus({ jobs: { [JOB]: [target] }, ruleFiles: [RULES_FILE] });
  // Both VMs scraped: from here on the template variables offer them.
  const vms = `qemu_vm_info{job="${JOB}", domain=~"${fakeDomain}|${realDomain}"}`;
  assert.deepEqual(
    await untilEmpty(async () => ((await prom().query(vms)).length === 2 ? [] : [`no 2 series for ${vms}`])),
    [],
  );
});

after(async () => {
  await prometheus?.stop();
  await cli?.terminate();
  await fake?.stop();
  await real?.stop();
  await rm(fakeImage, { force: true });
});

function prom(): Prometheus {
  assert.ok(prometheus, 'prometheus did not start');
  return prometheus;
}

/** Retries `attempt` until it returns no complaints or the deadline passes; returns the last complaints. */
async function untilEmpty(attempt: () => Promise<string[]>): Promise<string[]> {
  const deadline = Date.now() + DATA_DEADLINE_MS;
  for (;;) {
    const complaints = await attempt();
    if (complaints.length === 0 || Date.now() > deadline) return complaints;
    await sleep(500);
  }
}

const hasData = (series: Series[]) => series.some((s) => s.value !== undefined || (s.values?.length ?? 0) > 0);

test('promtool check metrics finds nothing to complain about in the exporter output', async () => {
  const text = await cli!.scrape();
  assert.match(text, new RegExp(`qemu_threads\\{domain="${fakeDomain}",role="worker"\\} 6`));
  const { code, output } = await promtool(['check', 'metrics'], text);
  assert.equal(output.trim(), '', `promtool check metrics:\n${output}`);
  assert.equal(code, 0);
});

test('Prometheus scrapes the exporter, loads every rule of rules.yml, and evaluates each without error', async () => {
  const rules = loadRules();
  const problems = await untilEmpty(async () => {
    const complaints: string[] = [];
    const targets = await prom().api<{ activeTargets: { scrapeUrl: string; health: string; lastError: string }[] }>(
      'targets',
    );
    for (const t of targets.activeTargets)
      if (t.health !== 'up') complaints.push(`target ${t.scrapeUrl}: ${t.health} ${t.lastError}`);
    const loaded = await prom().api<{ groups: { rules: { name: string; health: string; lastError?: string }[] }[] }>(
      'rules',
    );
    const byName = new Map(loaded.groups.flatMap((g) => g.rules).map((r) => [r.name, r]));
    for (const rule of rules) {
      const name = rule.record ?? rule.alert!;
      const state = byName.get(name);
      if (state?.health !== 'ok')
        complaints.push(`${name}: ${state ? `${state.health} ${state.lastError ?? ''}` : 'not loaded'}`);
    }
    return complaints;
  });
  assert.deepEqual(problems, []);

  for (const rule of rules) {
    await assert.doesNotReject(prom().query(rule.expr), `${rule.record ?? rule.alert!}: ${rule.expr}`);
  }
  // Every recording rule records something from a live exporter (a latency of a disk without I/O records NaN).
  const empty = await untilEmpty(async () => {
    const missing: string[] = [];
    for (const rule of rules) if (rule.record && !hasData(await prom().query(rule.record))) missing.push(rule.record);
    return missing;
  });
  assert.deepEqual(empty, [], 'recording rules without series');
});

/**
 * Resolves the dashboard's template variables the way Grafana does, through their label_values() or query_result()
 * queries, and checks that each offers the wanted value; `null` means All (`.*`), `undefined` the first value offered.
 * `texts` gets what the picker shows for each value.
 */
async function resolveVariables(
  d: DashboardJson,
  wanted: Record<string, string | null | undefined>,
  texts: Record<string, Map<string, string>> = {},
): Promise<Record<string, string>> {
  const values: Record<string, string> = { ...INTERVALS };
  for (const v of d.templating.list) {
    if (v.type === 'datasource') {
      values[v.name] = 'prometheus';
      continue;
    }
    let offered: string[];
    const queryResult = /^query_result\((.+)\)$/s.exec(v.query!);
    if (queryResult) {
      const options = queryResultOptions(v, await prom().query(substitute(queryResult[1]!, values)));
      offered = options.map((o) => o.value);
      texts[v.name] = new Map(options.map((o) => [o.value, o.text]));
    } else {
      const { selector, label } = parseLabelValues(v.query!);
      offered = await prom().api<string[]>(`label/${label}/values`, { 'match[]': substitute(selector, values) });
    }
    const want = wanted[v.name];
    if (want === null) {
      assert.ok(v.includeAll, `${d.uid}: $${v.name} has no All`);
      assert.ok(offered.length > 0, `${d.uid}: $${v.name} offers nothing`);
      values[v.name] = '.*';
    } else if (want === undefined) {
      assert.ok(offered[0] !== undefined, `${d.uid}: $${v.name} offers nothing`);
      values[v.name] = offered[0];
    } else {
      assert.ok(offered.includes(want), `${d.uid}: $${v.name} offers ${JSON.stringify(offered)}, not ${want}`);
      values[v.name] = want;
    }
  }
  return values;
}

/** Queries of QEMU's own view of the disks (libvirt's API, QMP): the fake QEMU speaks neither. */
const GUEST_VIEW = /qemu_disk_(guest|added)_|guest_latency|added_latency/;
/** Queries of a busy pool's system calls: the real QEMU (no guest OS) has no busy pool. */
const BUSY_VIEW = /qemu_threads_in_syscall/;

/**
 * Every query of every panel, with the variables substituted; complaints for queries that return no data (except
 * those matching `exempt`: what this VM cannot have).
 */
async function panelsWithoutData(d: DashboardJson, values: Record<string, string>, exempt?: RegExp): Promise<string[]> {
  const complaints: string[] = [];
  for (const panel of dataPanels(d)) {
    for (const t of panel.targets ?? []) {
      if (exempt?.test(t.expr)) continue;
      const expr = substitute(t.expr, values);
      let series: Series[];
      try {
        series = t.instant ? await prom().query(expr) : await prom().queryRange(expr, 30, 1);
      } catch (err) {
        // A query Prometheus rejects will not heal: fail now, with the query.
        throw new Error(`${d.uid} "${panel.title}" ${t.refId}: ${(err as Error).message}`, { cause: err });
      }
      if (!hasData(series)) complaints.push(`${d.uid} "${panel.title}" ${t.refId}: no data for ${expr}`);
    }
  }
  return complaints;
}

test('every panel query of both dashboards evaluates and returns data', async () => {
  const [hostOverview, vmDetail] = DASHBOARD_FILES.map(loadDashboard);
  assert.ok(hostOverview && vmDetail);

  const texts: Record<string, Map<string, string>> = {};
  const hostValues = await resolveVariables(hostOverview, { job: JOB, instance: target, domain: null }, texts);
  // The VM picker shows the platform's name of a VM, and selects it by its domain.
  assert.equal(texts.domain!.get(fakeDomain), `100 (${fakeDomain})`);
  assert.equal(texts.domain!.get(realDomain), realDomain);
  const vmValues = await Promise.all(
    [fakeDomain, realDomain].map((domain) =>
      resolveVariables(vmDetail, { job: JOB, instance: target, domain, disk: undefined }),
    ),
  );
  assert.equal(vmValues[0]?.disk, 'disk0');

  const complaints = await untilEmpty(async () => [
    ...(await panelsWithoutData(hostOverview, hostValues)),
    ...(
      await Promise.all(
        vmValues.map((values) =>
          panelsWithoutData(vmDetail, values, values.domain === realDomain ? BUSY_VIEW : GUEST_VIEW),
        ),
      )
    ).flat(),
  ]);
  assert.deepEqual(complaints, []);
  const queries = [hostOverview, vmDetail, vmDetail].flatMap(dataPanels).flatMap((p) => p.targets ?? []).length;
  console.log(`${String(queries)} panel queries returned data (VM detail for ${fakeDomain} and ${realDomain})`);
});
