import { ParseError } from '../parse-error.js';
import { parseUintFields } from '../parse-uint.js';

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

/**
 * Parses the single whitespace-padded line of a block device's stat file: 11, 15 or 17 numbers.
 * Counts no kernel writes (12–14, 16) mean a truncated read and are rejected; more than 17 is accepted
 * and the extra fields ignored, as a future kernel may append some.
 */
export function parseBlockStat(text: string): BlockStat {
  const v = parseUintFields(text, 'block stat');
  const count = v.length;
  if (count < 11 || (count > 11 && count < 15) || count === 16) {
    throw new ParseError(`block stat: ${count} fields, expected 11, 15 or 17`);
  }
  const stat: BlockStat = {
    readsCompleted: v[0]!,
    readsMerged: v[1]!,
    readSectors: v[2]!,
    readTimeMs: v[3]!,
    writesCompleted: v[4]!,
    writesMerged: v[5]!,
    writeSectors: v[6]!,
    writeTimeMs: v[7]!,
    inFlight: v[8]!,
    ioTimeMs: v[9]!,
    weightedIoTimeMs: v[10]!,
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
