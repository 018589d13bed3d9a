import { ParseError } from '../parse-error.js';
import { parseUint } from '../parse-uint.js';

/** The fields of /proc/PID/status (or task/TID/status) that the exporter uses. */
export interface TaskStatus {
  voluntaryCtxtSwitches: number;
  nonvoluntaryCtxtSwitches: number;
  /** VmRSS in bytes (the kernel writes kB); absent for kernel threads and zombies, which have no mm. */
  vmRssBytes?: number;
}

// Each key is matched with its leading newline: "voluntary_ctxt_switches:" is also the tail of "nonvoluntary_…".
const VOLUNTARY = '\nvoluntary_ctxt_switches:';
const NONVOLUNTARY = '\nnonvoluntary_ctxt_switches:';
const VMRSS = '\nVmRSS:';
const KB = ' kB';

const SPACE = 0x20;
const TAB = 0x09;

/**
 * Parses /proc/PID/status. Runs for every thread on every scrape, so it looks the three keys up with
 * indexOf (native, no per-line strings) instead of splitting the ~1.5 kB text into lines.
 */
export function parseStatus(text: string): TaskStatus {
  // The ctxt_switches lines are the last two of the file: search from the end.
  const voluntaryCtxtSwitches = valueAfter(text, text.lastIndexOf(VOLUNTARY), VOLUNTARY, false);
  const nonvoluntaryCtxtSwitches = valueAfter(text, text.lastIndexOf(NONVOLUNTARY), NONVOLUNTARY, false);
  const rssAt = text.indexOf(VMRSS);
  if (rssAt < 0) return { voluntaryCtxtSwitches, nonvoluntaryCtxtSwitches };
  const kb = valueAfter(text, rssAt, VMRSS, true);
  const vmRssBytes = kb * 1024;
  if (vmRssBytes > Number.MAX_SAFE_INTEGER) throw new ParseError('status: VmRSS exceeds 2^53 bytes');
  return { voluntaryCtxtSwitches, nonvoluntaryCtxtSwitches, vmRssBytes };
}

/** The number on the line whose key starts at `at` (the key's leading newline); optional " kB" unit suffix. */
function valueAfter(text: string, at: number, key: string, kb: boolean): number {
  if (at < 0) throw new ParseError(`status: no ${label(key)} line`);
  let start = at + key.length;
  let end = text.indexOf('\n', start);
  // Every line ends with a newline: a value without one may have been cut (`1234` → `12`).
  if (end < 0) throw new ParseError(`status: ${label(key)} line has no newline (cut short?)`);
  if (kb) {
    if (!text.startsWith(KB, end - KB.length)) throw new ParseError(`status: ${label(key)} has no " kB" unit`);
    end -= KB.length;
  }
  while (start < end) {
    const c = text.charCodeAt(start);
    if (c !== SPACE && c !== TAB) break;
    start++;
  }
  return parseUint(text, start, end, `status: ${label(key)}`);
}

/** The key without its newline and colon, built only for error messages. */
function label(key: string): string {
  return key.slice(1, -1);
}

const NSPID = '\nNSpid:';

/**
 * The task's id in each PID namespace it is in, outermost first (`NSpid:` of status, Linux ≥ 4.1): a QEMU in a
 * pod is `[12345, 87]` — 87 is what the pod's libvirt wrote into its status file. One entry, or none on an
 * older kernel, means the namespace is ours.
 */
export function parseNsPids(text: string): number[] {
  const at = text.indexOf(NSPID);
  if (at < 0) return [];
  const end = text.indexOf('\n', at + NSPID.length);
  if (end < 0) throw new ParseError('status: NSpid line has no newline (cut short?)');
  const out: number[] = [];
  let pos = at + NSPID.length;
  while (pos < end) {
    while (pos < end && (text.charCodeAt(pos) === SPACE || text.charCodeAt(pos) === TAB)) pos++;
    if (pos >= end) break;
    const start = pos;
    while (pos < end && text.charCodeAt(pos) !== SPACE && text.charCodeAt(pos) !== TAB) pos++;
    out.push(parseUint(text, start, pos, 'status: NSpid'));
  }
  return out;
}
