import type { Severity } from '../explain/findings/finding.js';
import { evidenceValue, fmt } from '../explain/findings/format.js';
import type { ExplainReport } from '../explain/report.js';
import { threadsChart } from './threads-chart.js';

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${String(c.charCodeAt(0))};`);

const BADGE: Record<Severity, string> = { critical: '#b00020', warning: '#9a4d00', info: '#2f5d8a' };

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:64em;padding:0 1em;color:#1d1d1d}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.2em;margin:0}nav a{margin-right:1em}
section.vm{border:1px solid #ddd;border-radius:6px;padding:1em;margin:1em 0}
.meta{color:#555;margin:.2em 0 .6em}.finding{margin:.8em 0;padding-left:.8em;border-left:4px solid}
.severity{display:inline-block;color:#fff;border-radius:3px;padding:0 .4em;font-size:.85em;font-weight:600;text-transform:uppercase;margin-right:.4em}
.summary{margin:.2em 0}ul.evidence{margin:.2em 0;padding-left:1.4em;color:#333}.advice{margin:.2em 0;font-weight:500}
.none{color:#2e7d32}.known{font-weight:400;color:#444}`;

/**
 * The landing page: every VM with its findings and a chart of its threads by role over the recent history,
 * rendered on the server (no script: the page's CSP forbids it), so an operator without Grafana sees it at a glance.
 */
export function landingPage(
  r: ExplainReport,
  o: { version: string; telemetryPath: string; refreshSeconds: number },
): string {
  const vms = r.vms
    .map((vm) => {
      const findings =
        vm.findings.length === 0
          ? '<p class="none">No findings: no pool growth, CPU contention, disk sleep or starved vCPU.</p>'
          : vm.findings
              .map(
                (f) => `<div class="finding ${f.severity}" style="border-color:${BADGE[f.severity]}">
<p class="summary"><span class="severity" style="background:${BADGE[f.severity]}">${f.severity}</span>${escapeHtml(f.summary)}</p>
<ul class="evidence">${f.evidence.map((e) => `<li>${escapeHtml(e.what)}: <b>${escapeHtml(evidenceValue(e))}</b></li>`).join('')}</ul>
${f.advice === '' ? '' : `<p class="advice">→ ${escapeHtml(f.advice)}</p>`}</div>`,
              )
              .join('\n');
      return `<section class="vm" id="vm-${escapeHtml(vm.domain)}">
<h2>${escapeHtml(vm.domain)}${vm.knownAs === '' ? '' : ` <span class="known">${escapeHtml(vm.knownAs)}</span>`}</h2>
<p class="meta">pid ${String(vm.pid)} · named by ${vm.source === 'libvirt' ? "libvirt's status file" : 'its command line'} · ${String(vm.samples)} samples over ${fmt(vm.seconds)} s</p>
${threadsChart(vm)}
${findings}
</section>`;
    })
    .join('\n');
  const path = escapeHtml(o.telemetryPath);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${String(o.refreshSeconds)}"><title>QEMU Thread Exporter</title><style>${STYLE}</style></head>
<body><h1>QEMU Thread Exporter</h1>
<nav><a href="${path}">Metrics</a><a href="/api/v1/explain">Explain (JSON)</a><a href="/-/healthy">Health</a><a href="/-/ready">Readiness</a></nav>
<p class="meta">Version ${escapeHtml(o.version)} · ${String(r.vms.length)} VM${r.vms.length === 1 ? '' : 's'} · findings over up to ${fmt(r.windowSeconds)} s of history, as of ${escapeHtml(r.generatedAt)}</p>
${r.vms.length === 0 ? '<p>No QEMU VM found on this host.</p>' : vms}
</body></html>
`;
}
