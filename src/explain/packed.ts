/**
 * A value packed for keeping: its numbers in a plain array, the objects it keeps by reference in another, its
 * structure — keys, strings, booleans — in a shape that consecutive values of the same structure share. The explain history holds
 * ~20 snapshots a VM; as objects a VM's snapshot is ~37 small objects (~3 KB), packed ~0.3 KB. Exact: the numbers
 * are the same JS numbers, and unpacking rebuilds the same keys in the same order. A plain array, not a
 * Float64Array: V8 keeps it on its heap (4 bytes a small integer, 8 a double), without the off-heap backing store
 * and external-memory accounting every typed array past 64 bytes has.
 */

/** The structure of a packed value: `template` is the first value of it (only its strings and such are read back). */
export interface Shape {
  readonly key: string;
  readonly template: unknown;
}

export interface Packed {
  readonly shape: Shape;
  readonly numbers: readonly number[];
  /** Kept by reference, in walk order (a new identity object at each inventory refresh: not part of the shape). */
  readonly refs: readonly object[];
}

/** Plain objects under these keys are shared with the live model (a VM's identity, a disk's spec): kept as they are. */
const BY_REFERENCE = new Set(['identity', 'spec']);

const isPlain = (v: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === Array.prototype || proto === null;
};

/** Walks `v` in a fixed order: numbers into `numbers`, the structure into `key`, references into `refs`. */
function walk(v: unknown, numbers: number[], key: string[], refs: object[], byReference: boolean): void {
  if (typeof v === 'number') {
    numbers.push(v);
    key.push('#');
  } else if (typeof v === 'string') {
    key.push(JSON.stringify(v));
  } else if (typeof v !== 'object' || v === null) {
    key.push(String(v)); // boolean, undefined, null (no bigint, symbol or function in a snapshot)
  } else if (byReference || !isPlain(v)) {
    key.push('@');
    refs.push(v);
  } else if (Array.isArray(v)) {
    key.push('[');
    for (const x of v) walk(x, numbers, key, refs, false);
    key.push(']');
  } else {
    key.push('{');
    for (const [k, x] of Object.entries(v)) {
      key.push(JSON.stringify(k), ':');
      walk(x, numbers, key, refs, BY_REFERENCE.has(k));
    }
    key.push('}');
  }
}

/** Packs `v`, sharing `like`'s shape when the structure is the same. */
export function pack(v: unknown, like?: Shape): Packed {
  const numbers: number[] = [];
  const parts: string[] = [];
  const refs: object[] = [];
  walk(v, numbers, parts, refs, false);
  const key = parts.join('');
  // slice(): an array of exactly this length, without the spare capacity push() leaves.
  return { shape: like?.key === key ? like : { key, template: v }, numbers: numbers.slice(), refs: refs.slice() };
}

/** The value as it was packed: new plain objects and arrays, the same references, strings and numbers. */
export function unpack(p: Packed): unknown {
  let n = 0;
  let r = 0;
  const build = (t: unknown, byReference: boolean): unknown => {
    if (typeof t === 'number') return p.numbers[n++];
    if (typeof t !== 'object' || t === null) return t;
    if (byReference || !isPlain(t)) return p.refs[r++];
    if (Array.isArray(t)) return t.map((x) => build(x, false));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(t)) out[k] = build(x, BY_REFERENCE.has(k));
    return out;
  };
  return build(p.shape.template, false);
}
