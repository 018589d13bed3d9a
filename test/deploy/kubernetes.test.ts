/** deploy/kubernetes: the kustomize base as `kubectl kustomize` renders it, checked against the real schemas. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/cli/flags.js';
import { run } from '../support/require-tool.js';
import { typeCheckManifests, validateManifest, type Manifest } from './kubernetes-schemas.js';
import { PROMETHEUS_RULE_FILE, prometheusRuleYaml, RULES_FILE } from './prometheus-rule.js';

const BASE = fileURLToPath(new URL('../../deploy/kubernetes', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

interface Container {
  name: string;
  image: string;
  args: string[];
  ports: { name: string; containerPort: number }[];
  securityContext: { allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean; capabilities: { drop: string[]; add: string[] } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  hostPID: boolean;
  hostNetwork?: boolean;
  serviceAccountName: string;
  automountServiceAccountToken: boolean;
  securityContext: { runAsNonRoot: boolean; runAsUser: number };
  containers: Container[];
  volumes: { name: string; hostPath: { path: string } }[];
}
interface DaemonSet { spec: { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } }
interface Service { metadata: { name: string; labels: Record<string, string> }; spec: { selector: Record<string, string>; ports: { name: string; targetPort: string }[] } }
interface ServiceMonitor { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] } }

let manifests: Manifest[];
/** The one rendered manifest of `kind`. */
function the(kind: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind);
  assert.equal(found.length, 1, `want one ${kind}, got ${found.length}`);
  return found[0]!;
}
const contains = (labels: Record<string, string>, subset: Record<string, string>) =>
  Object.entries(subset).every(([k, v]) => labels[k] === v);

before(async () => {
  const rendered = await run('kubectl', ['kustomize', BASE]);
  manifests = parseAllDocuments(rendered).map((d) => d.toJS() as Manifest);
});

test('kubectl kustomize renders the base: every object in the exporter namespace', () => {
  assert.deepEqual(manifests.map((m) => m.kind).sort(),
    ['DaemonSet', 'Namespace', 'PrometheusRule', 'Service', 'ServiceAccount', 'ServiceMonitor']);
  const namespace = the('Namespace').metadata.name;
  for (const m of manifests) if (m.kind !== 'Namespace') assert.equal(m.metadata.namespace, namespace, m.kind);
});

test('every manifest validates against the Kubernetes and prometheus-operator schemas', async () => {
  for (const m of manifests) await assert.doesNotReject(validateManifest(m), `${m.kind} ${m.metadata.name}`);
});

test('every manifest type-checks strictly against its model (no unknown or misspelled field)', () => {
  assert.deepEqual(typeCheckManifests(manifests), []);
});

test('the DaemonSet: host PIDs, non-root, read-only, exactly the two capabilities', () => {
  const pod = (the('DaemonSet') as unknown as DaemonSet).spec.template.spec;
  assert.equal(pod.hostPID, true);
  assert.notEqual(pod.hostNetwork, true);
  assert.equal(pod.automountServiceAccountToken, false);
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.ok(pod.securityContext.runAsUser > 0);
  assert.equal(pod.containers.length, 1);
  const c = pod.containers[0]!;
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'], add: ['SYS_PTRACE', 'DAC_READ_SEARCH'] });
  for (const kind of ['requests', 'limits'] as const) assert.ok(c.resources[kind].cpu && c.resources[kind].memory, kind);
  assert.equal(c.image, `ghcr.io/qemu-thread-exporter/qemu-thread-exporter:${pkg.version}`);
});

test('the DaemonSet: flags the exporter accepts, pointing at read-only host mounts', () => {
  const pod = (the('DaemonSet') as unknown as DaemonSet).spec.template.spec;
  const c = pod.containers[0]!;
  const cfg = parseConfig(c.args, 'test'); // throws on an unknown flag or a bad value
  const hostPathOf = (mountPath: string) => {
    const mount = c.volumeMounts.find((m) => m.mountPath === mountPath);
    assert.ok(mount, `nothing mounted at ${mountPath}`);
    assert.equal(mount.readOnly, true, mountPath);
    return pod.volumes.find((v) => v.name === mount.name)?.hostPath.path;
  };
  assert.equal(hostPathOf(cfg.sysfs), '/sys');
  assert.equal(hostPathOf(cfg.rootfs), '/');
  assert.equal(hostPathOf(cfg.libvirtStatusDir), '/run/libvirt/qemu');
  assert.equal(c.volumeMounts.length, 3);
  const port = c.ports.find((p) => p.containerPort === cfg.listenPort);
  assert.ok(port, `no container port ${cfg.listenPort}`);
  assert.deepEqual(c.livenessProbe.httpGet, { path: '/-/healthy', port: port.name });
  assert.deepEqual(c.readinessProbe.httpGet, { path: '/-/ready', port: port.name });
});

test('Prometheus finds the pods: ServiceMonitor → Service → DaemonSet pods, job named as the alerts expect', () => {
  const ds = the('DaemonSet') as unknown as DaemonSet;
  const service = the('Service') as unknown as Service;
  const monitor = the('ServiceMonitor') as unknown as ServiceMonitor;
  assert.ok(contains(ds.spec.template.metadata.labels, ds.spec.selector.matchLabels));
  assert.ok(contains(ds.spec.template.metadata.labels, service.spec.selector));
  assert.ok(contains(service.metadata.labels, monitor.spec.selector.matchLabels));
  const containerPorts = ds.spec.template.spec.containers[0]!.ports.map((p) => p.name);
  for (const p of service.spec.ports) assert.ok(containerPorts.includes(p.targetPort), p.targetPort);
  for (const e of monitor.spec.endpoints) assert.ok(service.spec.ports.some((p) => p.name === e.port), e.port);
  // prometheus-operator names the job after the Service; the rules' QemuExporterDown/Absent select that job.
  assert.match(readFileSync(RULES_FILE, 'utf8'), new RegExp(`job="${service.metadata.name}"`));
});

test('the PrometheusRule is deploy/prometheus/rules.yml, regenerated (npm run k8s:rules)', () => {
  const rules = readFileSync(RULES_FILE, 'utf8');
  assert.equal(readFileSync(PROMETHEUS_RULE_FILE, 'utf8'), prometheusRuleYaml(rules),
    'deploy/kubernetes/prometheusrule.yaml is stale: run `npm run k8s:rules`');
  const rendered = the('PrometheusRule') as unknown as { spec: { groups: unknown } };
  assert.deepEqual(rendered.spec.groups, (parse(rules) as { groups: unknown }).groups);
});
