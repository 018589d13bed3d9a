import { ParseError } from '../parse-error.js';
import { parseUintFields } from '../parse-uint.js';

/** /proc/PID/task/TID/schedstat: time on the CPU, time waiting on a run queue, and number of timeslices run. */
export interface Schedstat {
  runNs: number;
  waitNs: number;
  timeslices: number;
}

/**
 * Parses "RUN_NS WAIT_NS TIMESLICES\n". Runs for every thread on every scrape.
 * Fields after the third are ignored, the way the kernel extends its other per-task files.
 */
export function parseSchedstat(text: string): Schedstat {
  const f = parseUintFields(text, 'schedstat', 3);
  if (f.length < 3) throw new ParseError(`schedstat: ${String(f.length)} fields, need 3`);
  return { runNs: f[0]!, waitNs: f[1]!, timeslices: f[2]! };
}
