/**
 * deploy/kubernetes/prometheusrule.yaml is deploy/prometheus/rules.yml wrapped in a PrometheusRule, comments and all.
 * `npm run k8s:rules` rewrites it; test/deploy/kubernetes.test.ts fails when it is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Document, isSeq, parseDocument } from 'yaml';

export const RULES_FILE = fileURLToPath(new URL('../../deploy/prometheus/rules.yml', import.meta.url));
export const PROMETHEUS_RULE_FILE = fileURLToPath(new URL('../../deploy/kubernetes/prometheusrule.yaml', import.meta.url));

const HEADER = ' Generated from deploy/prometheus/rules.yml by `npm run k8s:rules`: edit that file, then run it.';

/** The PrometheusRule manifest for the rules file's text. */
export function prometheusRuleYaml(rulesYaml: string): string {
  const rules = parseDocument(rulesYaml);
  if (rules.errors.length > 0) throw new Error(`${RULES_FILE}: ${rules.errors.map((e) => e.message).join('; ')}`);
  const groups = rules.get('groups', true);
  if (!isSeq(groups)) throw new Error(`${RULES_FILE}: no groups list`);
  const doc = new Document({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'qemu-thread-exporter', labels: { 'app.kubernetes.io/name': 'qemu-thread-exporter' } },
    spec: { groups: [] },
  });
  doc.setIn(['spec', 'groups'], groups); // the parsed node keeps its comments and block scalars
  doc.commentBefore = HEADER;
  return doc.toString({ lineWidth: 0 });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(PROMETHEUS_RULE_FILE, prometheusRuleYaml(readFileSync(RULES_FILE, 'utf8')));
  console.log(`wrote ${PROMETHEUS_RULE_FILE}`);
}
