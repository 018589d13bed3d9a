/**
 * Just enough of ELF64 (little-endian, x86-64) to build the guest without host tools: the shared
 * libraries a binary needs (DT_NEEDED, DT_RUNPATH) and a kernel module's `depends=` (.modinfo).
 */

interface Section {
  name: string;
  type: number;
  offset: number;
  size: number;
  link: number;
}

const SHT_DYNAMIC = 6;
const DT_NEEDED = 1n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;

function sections(elf: Buffer): Section[] {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1)
    throw new Error('not a 64-bit little-endian ELF file');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  const raw = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * shentsize;
    return {
      nameAt: elf.readUInt32LE(at),
      type: elf.readUInt32LE(at + 4),
      offset: Number(elf.readBigUInt64LE(at + 0x18)),
      size: Number(elf.readBigUInt64LE(at + 0x20)),
      link: elf.readUInt32LE(at + 0x28),
    };
  });
  const names = raw[shstrndx];
  return raw.map((s) => ({ ...s, name: names ? cString(elf, names.offset + s.nameAt) : '' }));
}

function cString(buf: Buffer, at: number): string {
  const end = buf.indexOf(0, at);
  return buf.toString('latin1', at, end < 0 ? buf.length : end);
}

/** The sonames a dynamically linked binary or library needs, and where its RUNPATH (or RPATH) says to look. */
export function dynamicDeps(elf: Buffer): { needed: string[]; runpath: string[] } {
  const all = sections(elf);
  const dynamic = all.find((s) => s.type === SHT_DYNAMIC);
  if (!dynamic) return { needed: [], runpath: [] }; // statically linked
  const strtab = all[dynamic.link]!;
  const needed: string[] = [];
  const runpath: string[] = [];
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
    const tag = elf.readBigUInt64LE(at);
    const str = () => cString(elf, strtab.offset + Number(elf.readBigUInt64LE(at + 8)));
    if (tag === DT_NEEDED) needed.push(str());
    else if (tag === DT_RUNPATH || tag === DT_RPATH) runpath.push(...str().split(':').filter(Boolean));
  }
  return { needed, runpath };
}

/** The modules a kernel module depends on, from `depends=` in its .modinfo section. */
export function moduleDepends(ko: Buffer): string[] {
  const modinfo = sections(ko).find((s) => s.name === '.modinfo');
  if (!modinfo) throw new Error('no .modinfo section: not a kernel module');
  const entries = ko.toString('latin1', modinfo.offset, modinfo.offset + modinfo.size).split('\0');
  const depends = entries.find((e) => e.startsWith('depends='));
  return depends ? depends.slice('depends='.length).split(',').filter(Boolean) : [];
}
