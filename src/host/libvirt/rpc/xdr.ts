/**
 * XDR (RFC 4506), the encoding of libvirt's RPC bodies: big-endian 4-byte units, strings and opaque data padded to
 * a multiple of 4, variable-length arrays and strings led by their count. The peer is a socket, so the reader trusts
 * nothing: every read is bounds-checked and every count is checked against its maximum before anything is read.
 */
import { ParseError } from '../../parse-error.js';

const pad = (n: number): number => (4 - (n % 4)) % 4;

export class XdrReader {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): number {
    if (n > this.remaining) throw new ParseError(`XDR: ${what} needs ${n} bytes, ${this.remaining} left`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  int(what = 'int'): number {
    return this.buf.readInt32BE(this.need(4, what));
  }

  uint(what = 'unsigned int'): number {
    return this.buf.readUInt32BE(this.need(4, what));
  }

  /** A 64-bit value, exact: a Number would round it beyond 2^53 (104 days of nanoseconds) before anyone chose to. */
  hyper(what = 'hyper'): bigint {
    return this.buf.readBigInt64BE(this.need(8, what));
  }

  uhyper(what = 'unsigned hyper'): bigint {
    return this.buf.readBigUInt64BE(this.need(8, what));
  }

  double(what = 'double'): number {
    return this.buf.readDoubleBE(this.need(8, what));
  }

  /** XDR's bool is an enum of exactly 0 and 1. */
  bool(what = 'bool'): boolean {
    const v = this.int(what);
    if (v !== 0 && v !== 1) throw new ParseError(`XDR: ${what} is ${v}, not a bool`);
    return v === 1;
  }

  /** A length (of a string, opaque or array) checked against its maximum before anything is read or allocated. */
  private count(max: number, what: string): number {
    const n = this.uint(`${what} length`);
    if (n > max) throw new ParseError(`XDR: ${what} has ${n} elements, more than its maximum ${max}`);
    return n;
  }

  /** Bytes as UTF-8 (libvirt's strings are; invalid sequences become U+FFFD). */
  string(max: number, what = 'string'): string {
    const n = this.count(max, what);
    const at = this.need(n + pad(n), what);
    return this.buf.toString('utf8', at, at + n);
  }

  opaqueFixed(n: number, what = 'opaque'): Buffer {
    const at = this.need(n + pad(n), what);
    return this.buf.subarray(at, at + n);
  }

  array<T>(max: number, item: (r: XdrReader) => T, what = 'array'): T[] {
    const n = this.count(max, what);
    // Every XDR item takes at least 4 bytes: a count the rest of the message cannot hold is refused at once.
    if (n > this.remaining / 4) throw new ParseError(`XDR: ${what} claims ${n} elements in ${this.remaining} bytes`);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this));
    return out;
  }

  /** `T *x`: a bool, then the value if true. */
  optional<T>(item: (r: XdrReader) => T, what = 'optional'): T | undefined {
    return this.bool(`${what} presence`) ? item(this) : undefined;
  }

  /** A body must be exactly its struct: trailing bytes mean it is something else. */
  done(what: string): void {
    if (this.remaining !== 0) throw new ParseError(`XDR: ${this.remaining} bytes left over after ${what}`);
  }
}

export class XdrWriter {
  private readonly parts: Buffer[] = [];

  int(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }

  uint(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    this.parts.push(b);
    return this;
  }

  hyper(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    this.parts.push(b);
    return this;
  }

  uhyper(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    this.parts.push(b);
    return this;
  }

  double(v: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    this.parts.push(b);
    return this;
  }

  bool(v: boolean): this {
    return this.int(v ? 1 : 0);
  }

  string(s: string, max: number): this {
    const bytes = Buffer.from(s, 'utf8');
    if (bytes.length > max) throw new RangeError(`XDR: string of ${bytes.length} bytes over its maximum ${max}`);
    this.uint(bytes.length);
    this.parts.push(bytes, Buffer.alloc(pad(bytes.length)));
    return this;
  }

  opaqueFixed(bytes: Buffer, n: number): this {
    if (bytes.length !== n) throw new RangeError(`XDR: opaque[${n}] given ${bytes.length} bytes`);
    this.parts.push(bytes, Buffer.alloc(pad(n)));
    return this;
  }

  array<T>(items: readonly T[], max: number, item: (w: this, v: T) => void): this {
    if (items.length > max) throw new RangeError(`XDR: array of ${items.length} over its maximum ${max}`);
    this.uint(items.length);
    for (const v of items) item(this, v);
    return this;
  }

  optional<T>(v: T | undefined, item: (w: this, v: T) => void): this {
    this.bool(v !== undefined);
    if (v !== undefined) item(this, v);
    return this;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}
