/** QMP's framing: a byte stream cut into JSON objects, one message each (see JsonObjectStream). */
import { ParseError } from '../parse-error.js';

/** QEMU's largest answers (query-qmp-schema) are ~200 KiB; query-blockstats is ~1 KiB a disk. */
export const MAX_MESSAGE = 1 << 20;

const WHITESPACE = new Set([0x20, 0x09, 0x0d, 0x0a]);
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Cuts a byte stream into JSON objects. QEMU ends each with CRLF, but a pretty monitor (`-qmp-pretty`,
 * `-mon pretty=on`) spreads one over many lines, so an object ends at its closing brace (counted outside strings),
 * not at a newline. Byte-wise is safe: a UTF-8 sequence never holds an ASCII byte (and QEMU sends ASCII).
 * Throws ParseError; the first one leaves it unusable.
 */
export class JsonObjectStream {
  private parts: Buffer[] = [];
  private size = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly maxBytes = MAX_MESSAGE) {}

  /** The objects completed by `chunk`, in order. */
  push(chunk: Buffer): unknown[] {
    const out: unknown[] = [];
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.depth === 0) {
        if (WHITESPACE.has(c)) continue;
        if (c !== OPEN_BRACE) throw new ParseError(`byte 0x${c.toString(16).padStart(2, '0')} outside a JSON object`);
        start = i;
        this.depth = 1;
      } else if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.inString = false;
      } else if (c === QUOTE) this.inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth++;
      else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --this.depth === 0) {
        // a `]` closing a `{` is not JSON: JSON.parse says so
        out.push(this.complete(chunk.subarray(start, i + 1)));
      }
    }
    if (this.depth > 0) this.keep(chunk.subarray(start));
    return out;
  }

  private keep(part: Buffer): void {
    this.size += part.length;
    if (this.size > this.maxBytes) throw new ParseError(`a message over ${String(this.maxBytes)} bytes`);
    // A copy: the socket's chunk may be a slice of a larger pooled buffer that a pending part would pin.
    this.parts.push(Buffer.from(part));
  }

  private complete(last: Buffer): unknown {
    this.keep(last);
    const text = Buffer.concat(this.parts, this.size).toString('utf8');
    this.parts = [];
    this.size = 0;
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new ParseError(`not JSON: ${(err as Error).message}`);
    }
  }
}
