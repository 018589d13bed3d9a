import { ParseError } from '../parse-error.js';

/** /proc/PID/io, all counters in bytes or syscalls since the process started. */
export interface ProcessIo {
  rchar: number;
  wchar: number;
  syscr: number;
  syscw: number;
  readBytes: number;
  writeBytes: number;
  cancelledWriteBytes: number;
}

const ZERO = 0x30;
const NINE = 0x39;

/** Parses /proc/PID/io ("key: value" lines). Every one of the seven keys must be present; unknown keys are ignored. */
export function parseIo(text: string): ProcessIo {
  // NaN marks "not seen yet" so a missing key can be reported by name.
  let rchar = NaN, wchar = NaN, syscr = NaN, syscw = NaN, readBytes = NaN, writeBytes = NaN, cancelled = NaN;
  const len = text.length;
  let pos = 0;
  while (pos < len) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = len;
    if (eol > pos) {
      const colon = text.indexOf(':', pos);
      if (colon < 0 || colon > eol) throw new ParseError(`io: line ${JSON.stringify(text.slice(pos, eol))} has no ":"`);
      const key = text.slice(pos, colon);
      switch (key) {
        case 'rchar': rchar = uint(text, colon + 1, eol, key); break;
        case 'wchar': wchar = uint(text, colon + 1, eol, key); break;
        case 'syscr': syscr = uint(text, colon + 1, eol, key); break;
        case 'syscw': syscw = uint(text, colon + 1, eol, key); break;
        case 'read_bytes': readBytes = uint(text, colon + 1, eol, key); break;
        case 'write_bytes': writeBytes = uint(text, colon + 1, eol, key); break;
        case 'cancelled_write_bytes': cancelled = uint(text, colon + 1, eol, key); break;
        default: break;
      }
    }
    pos = eol + 1;
  }
  const io: ProcessIo = { rchar, wchar, syscr, syscw, readBytes, writeBytes, cancelledWriteBytes: cancelled };
  for (const [name, value] of Object.entries(io)) {
    if (Number.isNaN(value)) throw new ParseError(`io: no ${name} line`);
  }
  return io;
}

/** The number in text[start, end), surrounding blanks allowed; ParseError unless a non-negative safe integer. */
function uint(text: string, start: number, end: number, name: string): number {
  const s = text.slice(start, end).trim();
  if (s === '') throw new ParseError(`io: ${name} is empty`);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < ZERO || c > NINE) throw new ParseError(`io: ${name} ${JSON.stringify(s)} is not a non-negative integer`);
    n = n * 10 + (c - ZERO); // exact up to MAX_SAFE_INTEGER; beyond it the rounded value is ≥ 2^53
  }
  if (n > Number.MAX_SAFE_INTEGER) throw new ParseError(`io: ${name} exceeds 2^53`);
  return n;
}
