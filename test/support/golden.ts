/** The fixture host of test/golden.test.ts and how its /metrics is compared (also with the single executable). */
import { fileURLToPath } from 'node:url';

export const HOST1 = fileURLToPath(new URL('../fixtures/host1', import.meta.url));
export const GOLDEN = fileURLToPath(new URL('../fixtures/host1.metrics', import.meta.url));

/** The exporter's own series whose values depend on the machine running the test. */
const volatile = /^(qemu_exporter_scrape_duration_seconds|qemu_exporter_build_info)[ {]/;

/** Only our metrics: the Node process metrics of the exporter itself differ per run. */
export function ourSeries(text: string): string {
  return (
    text
      .split('\n')
      .filter((l) => /^(# (HELP|TYPE) )?qemu_/.test(l) && !volatile.test(l))
      .join('\n') + '\n'
  );
}

/** The command-line flags that point the exporter at a copy of the fixture host under `dir`. */
export function host1Flags(dir: string): string[] {
  return [
    `--path.procfs=${dir}/proc`,
    `--path.sysfs=${dir}/sys`,
    `--path.rootfs=${dir}/rootfs`,
    `--libvirt.status-dir=${dir}/run/libvirt/qemu`,
  ];
}
