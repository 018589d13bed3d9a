import { ParseError } from '../parse-error.js';

/**
 * /sys/block/DEV/stat (and DEV/PART/stat), per Documentation/block/stat.rst.
 * Sector counts are always in 512-byte units, whatever the device's logical block size.
 * Times are milliseconds. Discard fields need kernel ≥ 4.18, flush fields ≥ 5.5.
 */
export interface BlockStat {
  readsCompleted: number;
  readsMerged: number;
  readSectors: number;
  readTimeMs: number;
  writesCompleted: number;
  writesMerged: number;
  writeSectors: number;
  writeTimeMs: number;
  /** A gauge: requests in flight now. */
  inFlight: number;
  ioTimeMs: number;
  weightedIoTimeMs: number;
  discardsCompleted?: number;
  discardsMerged?: number;
  discardSectors?: number;
  discardTimeMs?: number;
  flushesCompleted?: number;
  flushTimeMs?: number;
}

const ZERO = 0x30;
const NINE = 0x39;

/**
 * Parses the single whitespace-padded line of a block device's stat file: 11, 15 or 17 numbers.
 * Counts no kernel writes (12–14, 16) mean a truncated read and are rejected; more than 17 is accepted
 * and the extra fields ignored, as a future kernel may append some.
 */
export function parseBlockStat(text: string): BlockStat {
  const v: number[] = [];
  const len = text.length;
  let pos = 0;
  for (;;) {
    while (pos < len && isBlank(text.charCodeAt(pos))) pos++;
    if (pos >= len) break;
    const start = pos;
    let n = 0;
    while (pos < len) {
      const c = text.charCodeAt(pos);
      if (isBlank(c)) break;
      if (c < ZERO || c > NINE) {
        let end = pos;
        while (end < len && !isBlank(text.charCodeAt(end))) end++;
        throw new ParseError(`block stat: field ${v.length + 1} ${JSON.stringify(text.slice(start, end))} is not a non-negative integer`);
      }
      n = n * 10 + (c - ZERO); // exact up to MAX_SAFE_INTEGER; beyond it the rounded value is ≥ 2^53
      if (n > Number.MAX_SAFE_INTEGER) throw new ParseError(`block stat: field ${v.length + 1} exceeds 2^53`);
      pos++;
    }
    v.push(n);
  }
  const count = v.length;
  if (count < 11 || (count > 11 && count < 15) || count === 16) {
    throw new ParseError(`block stat: ${count} fields, expected 11, 15 or 17`);
  }
  const stat: BlockStat = {
    readsCompleted: v[0]!, readsMerged: v[1]!, readSectors: v[2]!, readTimeMs: v[3]!,
    writesCompleted: v[4]!, writesMerged: v[5]!, writeSectors: v[6]!, writeTimeMs: v[7]!,
    inFlight: v[8]!, ioTimeMs: v[9]!, weightedIoTimeMs: v[10]!,
  };
  if (count >= 15) {
    stat.discardsCompleted = v[11]!;
    stat.discardsMerged = v[12]!;
    stat.discardSectors = v[13]!;
    stat.discardTimeMs = v[14]!;
  }
  if (count >= 17) {
    stat.flushesCompleted = v[15]!;
    stat.flushTimeMs = v[16]!;
  }
  return stat;
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a;
}
