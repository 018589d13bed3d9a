/** The dashboards users import, and the files they are written to (see generate.ts). */
import { fileURLToPath } from 'node:url';
import type { ClassicDashboard } from './common.js';
import { hostOverview } from './host-overview.js';
import { vmDetail } from './vm-detail.js';

export const DASHBOARD_DIR = fileURLToPath(new URL('dashboards/', import.meta.url));

export const DASHBOARDS: { file: string; build: () => ClassicDashboard }[] = [
  { file: 'host-overview.json', build: hostOverview },
  { file: 'vm-detail.json', build: vmDetail },
];

/** A dashboard as committed: 2-space JSON and a final newline. */
export function render(dashboard: ClassicDashboard): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
