import { ParseError } from '../parse-error.js';
import { parseUint } from '../parse-uint.js';

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

/** Parses /proc/PID/io ("key: value" lines). Every one of the seven keys must be present; unknown keys are ignored. */
export function parseIo(text: string): ProcessIo {
  // NaN marks "not seen yet" so a missing key can be reported by name.
  let rchar = NaN,
    wchar = NaN,
    syscr = NaN,
    syscw = NaN,
    readBytes = NaN,
    writeBytes = NaN,
    cancelled = NaN;
  const len = text.length;
  let pos = 0;
  while (pos < len) {
    const eol = text.indexOf('\n', pos);
    // Every line ends with a newline: a last line without one may have been cut (`1234` → `12`).
    if (eol < 0) throw new ParseError(`io: line ${JSON.stringify(text.slice(pos))} has no newline (cut short?)`);
    if (eol > pos) {
      const colon = text.indexOf(':', pos);
      if (colon < 0 || colon > eol) throw new ParseError(`io: line ${JSON.stringify(text.slice(pos, eol))} has no ":"`);
      const key = text.slice(pos, colon);
      // The value after the colon, without the padding blanks.
      let start = colon + 1;
      while (start < eol && text.charCodeAt(start) === 0x20) start++;
      const uint = () => parseUint(text, start, eol, `io: ${key}`);
      switch (key) {
        case 'rchar':
          rchar = uint();
          break;
        case 'wchar':
          wchar = uint();
          break;
        case 'syscr':
          syscr = uint();
          break;
        case 'syscw':
          syscw = uint();
          break;
        case 'read_bytes':
          readBytes = uint();
          break;
        case 'write_bytes':
          writeBytes = uint();
          break;
        case 'cancelled_write_bytes':
          cancelled = uint();
          break;
        default:
          break;
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
