import { ParseError } from './parse-error.js';

const ZERO = 0x30;
const NINE = 0x39;

/**
 * The decimal digits in text[start, end) as a Number; ParseError (naming `what`) unless they are a non-negative
 * integer ≤ 2^53. One charCodeAt pass: the procfs parsers run for every thread on every scrape.
 */
export function parseUint(text: string, start: number, end: number, what: string): number {
  return uint(text, start, end, what, 0);
}

const label = (what: string, field: number): string => (field > 0 ? `${what}: field ${String(field)}` : what);

/** parseUint, `what` followed by `: field N` when field > 0: the label is built only for an error, not per field. */
function uint(text: string, start: number, end: number, whatBase: string, field: number): number {
  if (start >= end) throw new ParseError(`${label(whatBase, field)} is empty`);
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < ZERO || c > NINE)
      throw new ParseError(
        `${label(whatBase, field)} ${JSON.stringify(text.slice(start, end))} is not a non-negative integer`,
      );
    // Exact while n ≤ MAX_SAFE_INTEGER; once past it the rounded result is ≥ 2^53, which the check catches.
    n = n * 10 + (c - ZERO);
    if (n > Number.MAX_SAFE_INTEGER) throw new ParseError(`${label(whatBase, field)} exceeds 2^53`);
  }
  return n;
}

const isBlank = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a;

/**
 * The first `max` blank-separated unsigned fields of text (schedstat, block stat); `what` names the file in errors.
 * The kernel ends these files with a newline, so a field that runs to the very end of the text may have been cut
 * (`1234` read as `12`): that is a ParseError, never a smaller number.
 */
export function parseUintFields(text: string, what: string, max = Infinity): number[] {
  const out: number[] = [];
  const len = text.length;
  let pos = 0;
  while (out.length < max) {
    while (pos < len && isBlank(text.charCodeAt(pos))) pos++;
    if (pos >= len) break;
    const start = pos;
    while (pos < len && !isBlank(text.charCodeAt(pos))) pos++;
    const n = uint(text, start, pos, what, out.length + 1);
    if (pos === len)
      throw new ParseError(`${what}: field ${String(out.length + 1)} is not followed by a newline (cut short?)`);
    out.push(n);
  }
  return out;
}
