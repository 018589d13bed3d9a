import { evidenceValue, fmt } from './findings/format.js';
import type { ExplainReport } from './report.js';

const WIDTH = 100;

/** Folds `text` to WIDTH columns, every line after the first indented by `indent`. */
function wrap(text: string, first: string, indent: string): string {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(' ')) {
    if (line !== first && line.length + word.length + 1 > WIDTH) {
      lines.push(line);
      line = indent + word;
    } else line += (line === first ? '' : ' ') + word;
  }
  lines.push(line);
  return lines.join('\n');
}

/** The report as an operator reads it in a terminal. */
export function explainText(r: ExplainReport): string {
  if (r.vms.length === 0) return 'No QEMU VM found.\n';
  const out: string[] = [];
  for (const vm of r.vms) {
    out.push(
      `${vm.domain}${vm.knownAs === '' ? '' : ` — ${vm.knownAs}`} (pid ${String(vm.pid)}, named by ${vm.source === 'libvirt' ? "libvirt's status file" : 'its command line'}; ${String(vm.samples)} samples over ${fmt(vm.seconds)} s)`,
    );
    if (vm.findings.length === 0)
      out.push('  Nothing to report: no pool growth, CPU contention, disk sleep or starved vCPU.');
    for (const f of vm.findings) {
      out.push(wrap(f.summary, `  ${f.severity.toUpperCase()} [${f.id}] `, '      '));
      for (const e of f.evidence) out.push(`      - ${e.what}: ${evidenceValue(e)}`);
      if (f.advice !== '') out.push(wrap(f.advice, '      → ', '        '));
    }
    out.push('');
  }
  return out.join('\n');
}
