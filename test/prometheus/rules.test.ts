/** deploy/prometheus/rules.yml: valid, unit-tested alert by alert, and every alert documented in docs/runbooks.md. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { RULES_FILE, RULES_TEST_FILE, RUNBOOKS_FILE, loadRules } from '../support/monitoring-files.js';
import { promtool } from '../support/promtool.js';

const RUNBOOKS_URL = 'https://github.com/qemu-thread-exporter/qemu-thread-exporter/blob/main/docs/runbooks.md';
const alerts = loadRules().filter((r) => r.alert !== undefined);

test('promtool check rules accepts rules.yml', async () => {
  const { code, output } = await promtool(['check', 'rules', RULES_FILE]);
  assert.equal(code, 0, output);
  assert.match(output, /SUCCESS: \d+ rules found/);
});

test('promtool test rules: each alert fires in its case and stays silent in its near misses', async () => {
  const { code, output } = await promtool(['test', 'rules', RULES_TEST_FILE]);
  assert.equal(code, 0, output);
});

test('every alert has a unit test in which it fires', () => {
  type AlertTest = { alertname: string; exp_alerts?: unknown[] };
  const file = parse(readFileSync(RULES_TEST_FILE, 'utf8')) as { tests: { alert_rule_test?: AlertTest[] }[] };
  const firing = new Set(
    file.tests
      .flatMap((t) => t.alert_rule_test ?? [])
      .filter((t) => (t.exp_alerts ?? []).length > 0)
      .map((t) => t.alertname),
  );
  assert.deepEqual(
    alerts.map((a) => a.alert).filter((name) => !firing.has(name!)),
    [],
  );
});

/** GitHub's anchor for a Markdown heading. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');
}

test('every alert has a severity, a summary, a description with its values, and a runbook section', () => {
  const headings = new Set(
    [...readFileSync(RUNBOOKS_FILE, 'utf8').matchAll(/^#{2,3} (.+)$/gm)].map((m) => anchor(m[1]!)),
  );
  assert.ok(alerts.length >= 7);
  for (const a of alerts) {
    assert.match(a.labels?.severity ?? '', /^(warning|critical)$/, `${a.alert!}: severity`);
    assert.ok(a.annotations?.summary, `${a.alert!}: summary`);
    assert.match(a.annotations.description ?? '', /\$labels\.|\$value/, `${a.alert!}: description without values`);
    const url = a.annotations.runbook_url ?? '';
    assert.equal(url, `${RUNBOOKS_URL}#${a.alert!.toLowerCase()}`, `${a.alert!}: runbook_url`);
    assert.ok(headings.has(a.alert!.toLowerCase()), `docs/runbooks.md has no section ${a.alert!}`);
  }
});
