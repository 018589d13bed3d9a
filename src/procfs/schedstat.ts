import { ParseError } from '../parse-error.js';

/** /proc/PID/task/TID/schedstat: time on the CPU, time waiting on a run queue, and number of timeslices run. */
export interface Schedstat {
  runNs: number;
  waitNs: number;
  timeslices: number;
}

const SPACE = 0x20;
const NEWLINE = 0x0a;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * Parses "RUN_NS WAIT_NS TIMESLICES\n". Runs for every thread on every scrape: one charCodeAt pass, no split.
 * Fields after the third are ignored, the way the kernel extends its other per-task files.
 */
export function parseSchedstat(text: string): Schedstat {
  const len = text.length;
  let pos = 0;
  let runNs = 0;
  let waitNs = 0;
  let timeslices = 0;
  for (let field = 0; field < 3; field++) {
    while (pos < len && isSpace(text.charCodeAt(pos))) pos++;
    const start = pos;
    let n = 0;
    while (pos < len) {
      const c = text.charCodeAt(pos);
      if (isSpace(c)) break;
      if (c < ZERO || c > NINE) throw new ParseError(`schedstat: field ${field + 1} is not a non-negative integer`);
      n = n * 10 + (c - ZERO); // exact up to MAX_SAFE_INTEGER; beyond it the rounded value is ≥ 2^53
      if (n > Number.MAX_SAFE_INTEGER) throw new ParseError(`schedstat: field ${field + 1} exceeds 2^53`);
      pos++;
    }
    if (start === pos) throw new ParseError(`schedstat: ${field} fields, need 3`);
    if (field === 0) runNs = n;
    else if (field === 1) waitNs = n;
    else timeslices = n;
  }
  return { runNs, waitNs, timeslices };
}

function isSpace(c: number): boolean {
  return c === SPACE || c === NEWLINE;
}
