/**
 * Log lines carry text from hostile sources (a QEMU-like argv's drive ids, status file names): whatever a value
 * holds, one record is one line, no control or bidi character reaches the terminal raw, and the value reads back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { toLogfmt } from '../../src/util/log.js';
import { runs } from '../support/fuzz.js';

/** Splits a logfmt line into key → value; a quoted value is a JSON string. Throws on anything else. */
function readLogfmt(line: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?: |$)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) {
    const raw = m[2]!;
    out.set(m[1]!, raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
    if (re.lastIndex === line.length) return out;
  }
  throw new Error(`not logfmt at ${String(re.lastIndex)}: ${JSON.stringify(line)}`);
}

test('fuzz: any message and field values make one logfmt line of printable text that reads back', () => {
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.string({ unit: 'grapheme', maxLength: 30 }),
    fc.constantFrom(
      '\x1b[2J\x1b[31mred',
      'a\r\nlevel=error msg=forged',
      '\u202egnp.exe',
      'x=y',
      '"',
      '\\',
      '',
      ' ',
      '\u0085',
      '\u2028',
    ),
  );
  fc.assert(
    fc.property(text, text, fc.integer(), (msg, path, n) => {
      const line = toLogfmt(JSON.stringify({ level: 40, time: 0, msg, path, n }));
      assert.ok(line.endsWith('\n'));
      const body = line.slice(0, -1);
      assert.doesNotMatch(body, /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/u, JSON.stringify(line));
      const fields = readLogfmt(body);
      assert.deepEqual([...fields.keys()], ['ts', 'level', 'msg', 'path', 'n']);
      assert.equal(fields.get('msg'), msg);
      assert.equal(fields.get('path'), path);
      assert.equal(fields.get('n'), String(n));
    }),
    runs(1000),
  );
});
