/** One metric family of the per-VM exposition, and how it writes its samples. */
import type { VmSnapshot } from '../model/snapshot.js';

/** Label value escaping of the text format: backslash, double quote, line feed. */
export function escapeLabel(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`)) : v;
}

/** Writes one sample: `labels` inside the braces; `suffix` after the family's name (`_bucket`, `_sum`, `_count`). */
export type Emit = (labels: string, value: number, suffix?: string) => void;

export interface Family {
  name: string;
  help: string;
  type: 'gauge' | 'counter' | 'histogram';
  /** Emits this family's samples of one VM; `d` is its escaped `domain="…"` label. */
  samples(vm: VmSnapshot, d: string, emit: Emit): void;
}

/** One sample per disk that `pick` finds something for: `qemu_disk_x{domain,disk}`. */
export function perDisk<T>(
  name: string,
  help: string,
  type: Family['type'],
  pick: (d: VmSnapshot['disks'][number]) => T | undefined,
  value: (s: T) => number,
): Family {
  return {
    name,
    help,
    type,
    samples: (vm, d, emit) => {
      for (const disk of vm.disks) {
        const s = pick(disk);
        if (s !== undefined) emit(`${d},disk="${escapeLabel(disk.spec.name)}"`, value(s));
      }
    },
  };
}

/** Sample values as prom-client writes them. */
export const num = (v: number): string =>
  Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);
