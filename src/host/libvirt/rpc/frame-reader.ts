/**
 * libvirt's framing (virnetprotocol.x): each message is a 4-byte big-endian length that counts itself, then the
 * header and body. Bytes come from the socket in chunks of any size: one frame may span many chunks, one chunk may
 * hold several frames. The length is checked as soon as its 4 bytes are in, so a frame over the protocol's maximum is
 * refused before any of it is buffered; what is buffered is at most one frame (and the chunk that ends it).
 */
import { frameLength } from './protocol.js';

const LEN_BYTES = 4;

export class FrameReader {
  /** Received bytes not yet handed out, in buf[start, end). */
  private buf = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  /** The length of the frame being read, once its length word is in (length word included). */
  private frameLen: number | undefined;

  push(chunk: Buffer): void {
    if (this.end + chunk.length > this.buf.length) {
      // Grown by doubling (a peer trickling one byte at a time costs copies linear in the bytes, not quadratic), and
      // compacted: what was already handed out is not kept.
      const size = this.end - this.start + chunk.length;
      const doubled = Math.min(2 * this.buf.length, this.frameLen ?? Infinity);
      const grown = Buffer.allocUnsafe(Math.max(size, doubled));
      this.buf.copy(grown, 0, this.start, this.end);
      this.buf = grown;
      this.end -= this.start;
      this.start = 0;
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  /**
   * The next whole frame without its length word (a copy: the reader's buffer is reused), or undefined until one is
   * in. Throws the ParseError of frameLength for a length out of bounds; the stream is then lost.
   */
  next(): Buffer | undefined {
    if (this.frameLen === undefined) {
      if (this.end - this.start < LEN_BYTES) return undefined;
      this.frameLen = frameLength(this.buf.subarray(this.start, this.start + LEN_BYTES));
    }
    if (this.end - this.start < this.frameLen) return undefined;
    const frame = Buffer.from(this.buf.subarray(this.start + LEN_BYTES, this.start + this.frameLen));
    this.start += this.frameLen;
    this.frameLen = undefined;
    if (this.start === this.end) {
      // Nothing left: a big frame's buffer is let go rather than kept for the next, small, one.
      this.buf = Buffer.alloc(0);
      this.start = this.end = 0;
    }
    return frame;
  }

  /** Bytes received towards the frame being read: 0 between frames. */
  get pending(): number {
    return this.end - this.start;
  }

  /** `in the middle of a message (N of M bytes)`, or '' between frames: for the error when the peer hangs up. */
  describePartial(): string {
    if (this.pending === 0) return '';
    return ` in the middle of a message (${String(this.pending)} of ${this.frameLen === undefined ? '?' : String(this.frameLen)} bytes)`;
  }
}
