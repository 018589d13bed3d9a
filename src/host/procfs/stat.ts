import { ParseError } from '../parse-error.js';
import { parseUint } from '../parse-uint.js';

/** The fields of /proc/PID/stat (or task/TID/stat) that the exporter uses. Times are in clock ticks (USER_HZ). */
export interface TaskStat {
  comm: string;
  /** One character: R, S, D, Z, T, t, X, I, … */
  state: string;
  flags: number;
  utimeTicks: number;
  stimeTicks: number;
  numThreads: number;
  starttimeTicks: number;
  rssPages: number;
}

// proc(5) field numbers, counted from 1; field 3 (state) is the first one after the comm's closing ')'.
const FIRST_AFTER_COMM = 3;
const F_FLAGS = 9;
const F_UTIME = 14;
const F_STIME = 15;
const F_NUM_THREADS = 20;
const F_STARTTIME = 22;
const F_RSS = 24;

/** Task states in fs/proc/array.c, old and new (K, W and x are from older kernels). */
const STATE_LETTERS = 'RSDTtXxZPIKW';

const SPACE = 0x20;
const NEWLINE = 0x0a;

/**
 * Parses /proc/PID/stat or /proc/PID/task/TID/stat.
 * Scans the text once with charCodeAt: this runs for every thread on every scrape, so no split() or regex.
 */
export function parseStat(text: string): TaskStat {
  // The comm may hold spaces, '(' and ')' (`a) b (c`), so it runs from the first '(' to the LAST ')'.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new ParseError('stat: no "(comm)"');
  const comm = text.slice(open + 1, close);

  let state = '';
  let flags = 0;
  let utime = 0;
  let stime = 0;
  let numThreads = 0;
  let starttime = 0;
  let rss = 0;

  const len = text.length;
  let pos = close + 1;
  let field = FIRST_AFTER_COMM;
  while (field <= F_RSS) {
    while (pos < len && text.charCodeAt(pos) === SPACE) pos++;
    const start = pos;
    while (pos < len) {
      const c = text.charCodeAt(pos);
      if (c === SPACE || c === NEWLINE) break;
      pos++;
    }
    if (start === pos) throw new ParseError(`stat: ${field - 1} fields, need at least ${F_RSS}`);
    // The kernel writes 52 fields and a newline: a field we use that ends the text may have been cut (`1234` → `12`).
    if (pos === len) throw new ParseError(`stat: field ${field} is not followed by a blank (cut short?)`);
    switch (field) {
      case FIRST_AFTER_COMM:
        // A letter the kernel uses: a stray ')' further on would otherwise pass for the comm's end and shift every field.
        if (pos - start !== 1 || !STATE_LETTERS.includes(text[start]!))
          throw new ParseError(`stat: state ${JSON.stringify(text.slice(start, pos))} is not a task state letter`);
        state = text[start]!;
        break;
      case F_FLAGS:
        flags = parseUint(text, start, pos, 'stat: flags');
        break;
      case F_UTIME:
        utime = parseUint(text, start, pos, 'stat: utime');
        break;
      case F_STIME:
        stime = parseUint(text, start, pos, 'stat: stime');
        break;
      case F_NUM_THREADS:
        numThreads = parseUint(text, start, pos, 'stat: num_threads');
        break;
      case F_STARTTIME:
        starttime = parseUint(text, start, pos, 'stat: starttime');
        break;
      case F_RSS:
        rss = parseUint(text, start, pos, 'stat: rss');
        break;
      default:
        break; // fields we skip (ppid, tty_nr, nice, …) may be negative: not validated
    }
    field++;
  }

  return {
    comm,
    state,
    flags,
    utimeTicks: utime,
    stimeTicks: stime,
    numThreads,
    starttimeTicks: starttime,
    rssPages: rss,
  };
}
