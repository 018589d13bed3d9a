/** `npm run dashboards`: writes grafana/dashboards/*.json from the code (test/grafana/dashboards.test.ts checks they match). */
import { mkdir, writeFile } from 'node:fs/promises';
import { DASHBOARD_DIR, DASHBOARDS, render } from './dashboards.js';

await mkdir(DASHBOARD_DIR, { recursive: true });
for (const { file, build } of DASHBOARDS) {
  await writeFile(`${DASHBOARD_DIR}${file}`, render(build()));
  console.log(`wrote grafana/dashboards/${file}`);
}
