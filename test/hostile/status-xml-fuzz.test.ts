/**
 * The libvirt status-XML parser under fuzzing, on libvirt 9's real status files: the only failure allowed is a
 * ParseError; a file cut short is refused, never read as a smaller domain; a giant or broken number is refused
 * where it is used.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseLibvirtStatus, type LibvirtDomain } from '../../src/host/libvirt/status-xml.js';
import {
  assertSameNumbers,
  assertSaneNumbers,
  bytesAsText,
  digitRuns,
  edited,
  fixtureTexts,
  giantNumber,
  parseOrRefuse,
  runs,
  STRAY,
} from '../support/fuzz.js';

const SAMPLES = fixtureTexts(/(status[^/]*|labvm)\.xml$/);
const FULL = new Map(SAMPLES.map((s) => [s, parseLibvirtStatus(s)]));

function assertWellFormed(d: LibvirtDomain, input: string): void {
  assertSaneNumbers(d, input);
  assert.ok(d.name !== '' && d.uuid !== '', input);
  for (const disk of d.disks) for (const v of Object.values(disk)) assert.equal(typeof v, 'string', input);
  for (const t of d.iothreads) assert.equal(typeof t.id, 'string', input);
}

describe('fuzz: libvirt status XML', () => {
  test('anything (random bytes, random text, edited status files): a well-formed domain or a ParseError', () => {
    fc.assert(
      fc.property(fc.oneof(bytesAsText(300), fc.string({ maxLength: 300 }), edited(SAMPLES)), (xml) => {
        const d = parseOrRefuse(parseLibvirtStatus, xml);
        if (d) assertWellFormed(d, xml);
      }),
      runs(300),
    );
  });

  test('cut short anywhere inside the root element: a ParseError (libvirt mid-write)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SAMPLES), fc.nat(), (xml, at) => {
        const end = xml.trimEnd().length;
        const cut = xml.slice(0, at % end);
        assert.equal(
          parseOrRefuse(parseLibvirtStatus, cut),
          undefined,
          `accepted a file cut at ${String(at % end)} of ${String(end)}`,
        );
      }),
      runs(300),
    );
  });

  test('a giant number in place of any number: a ParseError, or a result that does not use it', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SAMPLES), fc.nat(), giantNumber, (xml, i, giant) => {
        const numbers = digitRuns(xml);
        const { start, end } = numbers[i % numbers.length]!;
        const text = xml.slice(0, start) + giant + xml.slice(end);
        const d = parseOrRefuse(parseLibvirtStatus, text);
        if (d) assertSameNumbers(d, FULL.get(xml), text.slice(Math.max(0, start - 60), start + giant.length + 20));
      }),
      runs(300),
    );
  });

  test('a stray byte anywhere: a ParseError, or the same numbers', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SAMPLES),
        fc.nat(),
        fc.constantFrom(...STRAY, '<', '>', '&', "'", '"'),
        (xml, at, c) => {
          const pos = at % (xml.length + 1);
          const text = xml.slice(0, pos) + c + xml.slice(pos);
          const d = parseOrRefuse(parseLibvirtStatus, text);
          if (d) assertSameNumbers(d, FULL.get(xml), text.slice(Math.max(0, pos - 60), pos + 20));
        },
      ),
      runs(300),
    );
  });

  test('an entity declaration or DOCTYPE anywhere: a ParseError, whatever it declares', () => {
    const decl = fc.constantFrom(
      '<!DOCTYPE domstatus>',
      '<!DOCTYPE domstatus SYSTEM "http://127.0.0.1:1/x.dtd">',
      '<!doctype domstatus>',
      '<!DOCTYPE d [<!ENTITY x "y">]>',
      '<!ENTITY x SYSTEM "file:///etc/shadow">',
      '<!DOCTYPE d [<!ENTITY % p SYSTEM "x"> %p;]>',
    );
    fc.assert(
      fc.property(fc.constantFrom(...SAMPLES), fc.nat(), decl, (xml, at, d) => {
        const pos = at % (xml.length + 1);
        assert.equal(parseOrRefuse(parseLibvirtStatus, xml.slice(0, pos) + d + xml.slice(pos)), undefined);
      }),
      runs(200),
    );
  });
});
