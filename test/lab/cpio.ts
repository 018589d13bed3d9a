/** A gzip-compressed cpio archive in the kernel's initramfs format ("newc"), written without host tools. */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export type CpioEntry =
  | { path: string; kind: 'dir' }
  | { path: string; kind: 'file'; data: Buffer; executable?: boolean }
  | { path: string; kind: 'symlink'; target: string }
  | { path: string; kind: 'chardev'; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function header(ino: number, mode: number, size: number, name: string, rdev: [number, number] = [0, 0]): Buffer {
  const fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, rdev[0], rdev[1], Buffer.byteLength(name) + 1, 0];
  const head = Buffer.from(
    '070701' + fields.map((n) => n.toString(16).padStart(8, '0')).join('') + name + '\0',
    'latin1',
  );
  return Buffer.concat([head, pad4(head.length)]);
}

function* records(entries: Iterable<CpioEntry>): Generator<Buffer> {
  let ino = 1;
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '');
    switch (e.kind) {
      case 'dir':
        yield header(ino++, S_IFDIR | 0o755, 0, path);
        break;
      case 'chardev':
        yield header(ino++, S_IFCHR | 0o600, 0, path, [e.major, e.minor]);
        break;
      case 'symlink': {
        const target = Buffer.from(e.target);
        yield header(ino++, S_IFLNK | 0o777, target.length, path);
        yield Buffer.concat([target, pad4(target.length)]);
        break;
      }
      case 'file':
        yield header(ino++, S_IFREG | (e.executable ? 0o755 : 0o644), e.data.length, path);
        yield e.data;
        yield pad4(e.data.length);
        break;
    }
  }
  yield header(0, 0, 0, 'TRAILER!!!');
}

/** Writes the entries (parents before children) as a gzipped newc archive. */
export async function writeCpioGz(file: string, entries: Iterable<CpioEntry>): Promise<void> {
  await pipeline(Readable.from(records(entries)), createGzip({ level: 6 }), createWriteStream(file));
}
