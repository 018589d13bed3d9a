/**
 * Where a V8 heap snapshot (node --heapsnapshot-signal, v8.writeHeapSnapshot) holds its memory: count, self size
 * and retained size per constructor (or node type, for strings, code, arrays), and the single objects that retain
 * the most. Retained sizes come from the dominator tree (Cooper, Harvey and Kennedy's iterative algorithm), weak
 * edges left out, as DevTools computes them.
 *
 *   node --import tsx test/bench/heap-summary.ts FILE.heapsnapshot [TOP] [WITHIN]
 *
 * With WITHIN (a constructor name), only what objects of that constructor retain is summarized.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
    node_count: number;
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface GroupFigures {
  count: number;
  selfBytes: number;
  retainedBytes: number;
}

export interface HeapSummary {
  totalBytes: number;
  nodes: number;
  byGroup: Map<string, GroupFigures>;
  /** The objects retaining the most, with the edge their dominator holds them by. */
  top: { name: string; retainedBytes: number; selfBytes: number; via: string }[];
}

export function summarizeHeap(s: Snapshot, top = 20, within?: string): HeapSummary {
  const { meta } = s.snapshot;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const nType = meta.node_fields.indexOf('type');
  const nName = meta.node_fields.indexOf('name');
  const nSize = meta.node_fields.indexOf('self_size');
  const nEdges = meta.node_fields.indexOf('edge_count');
  const eType = meta.edge_fields.indexOf('type');
  const eName = meta.edge_fields.indexOf('name_or_index');
  const eTo = meta.edge_fields.indexOf('to_node');
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const weak = edgeTypes.indexOf('weak');
  const N = s.nodes.length / nf;

  // First edge of each node (edges are stored node after node).
  const firstEdge = new Uint32Array(N + 1);
  for (let i = 0; i < N; i++) firstEdge[i + 1] = firstEdge[i]! + s.nodes[i * nf + nEdges]! * ef;
  const target = (e: number): number => s.edges[e + eTo]! / nf;
  const strong = (e: number): boolean => s.edges[e + eType] !== weak;

  // Post-order numbers by an iterative depth-first search from the root (node 0).
  const post = new Int32Array(N).fill(-1);
  const order: number[] = [];
  const visited = new Uint8Array(N);
  const stack = [0];
  const next = new Uint32Array(N);
  visited[0] = 1;
  next[0] = firstEdge[0]!;
  while (stack.length) {
    const v = stack[stack.length - 1]!;
    if (next[v]! < firstEdge[v + 1]!) {
      const e = next[v]!;
      next[v] = e + ef;
      const w = target(e);
      if (strong(e) && !visited[w]) {
        visited[w] = 1;
        next[w] = firstEdge[w]!;
        stack.push(w);
      }
    } else {
      stack.pop();
      post[v] = order.length;
      order.push(v);
    }
  }

  // Predecessors, as compressed rows.
  const predCount = new Uint32Array(N + 1);
  for (let v = 0; v < N; v++)
    if (visited[v])
      for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += ef) if (strong(e)) predCount[target(e) + 1]!++;
  for (let i = 0; i < N; i++) predCount[i + 1]! += predCount[i]!;
  const preds = new Uint32Array(predCount[N]!);
  const fill = predCount.slice(0, N);
  for (let v = 0; v < N; v++)
    if (visited[v])
      for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += ef) if (strong(e)) preds[fill[target(e)]!++] = v;

  // Immediate dominators, by post-order number.
  const idom = new Int32Array(N).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (post[a]! < post[b]!) a = idom[a]!;
      while (post[b]! < post[a]!) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed;) {
    changed = false;
    for (let i = order.length - 2; i >= 0; i--) {
      const v = order[i]!;
      let d = -1;
      for (let p = predCount[v]!; p < predCount[v + 1]!; p++) {
        const u = preds[p]!;
        if (idom[u] === -1) continue;
        d = d === -1 ? u : intersect(u, d);
      }
      if (d !== -1 && idom[v] !== d) {
        idom[v] = d;
        changed = true;
      }
    }
  }

  const self = (v: number): number => s.nodes[v * nf + nSize]!;
  const retained = new Float64Array(N);
  for (const v of order) retained[v]! += self(v);
  for (const v of order) if (v !== 0) retained[idom[v]!]! += retained[v]!;

  const groupOf = (v: number): string => {
    const type = nodeTypes[s.nodes[v * nf + nType]!]!;
    const name = s.strings[s.nodes[v * nf + nName]!]!;
    if (type === 'object' || type === 'native') return name.length > 60 ? `${name.slice(0, 57)}...` : name;
    if (type === 'closure') return '(closure)';
    if (type === 'hidden' || type === 'object shape') return `(${type}) ${name.slice(0, 40)}`;
    return `(${type})`;
  };
  const groups = new Array<string>(N);
  for (const v of order) groups[v] = groupOf(v);
  // Within: the nodes some object of that constructor dominates (post-order: a dominator after what it dominates).
  const inside = new Uint8Array(N);
  if (within === undefined) inside.fill(1);
  else
    for (let i = order.length - 1; i >= 0; i--) {
      const v = order[i]!;
      if (groups[v] === within || (v !== 0 && inside[idom[v]!])) inside[v] = 1;
    }
  const byGroup = new Map<string, GroupFigures>();
  for (const v of order) {
    if (!inside[v]) continue;
    const g = groups[v]!;
    let f = byGroup.get(g);
    if (!f) byGroup.set(g, (f = { count: 0, selfBytes: 0, retainedBytes: 0 }));
    f.count++;
    f.selfBytes += self(v);
  }
  // A group's retained size: its objects' that no other object of the group dominates (no double count).
  for (const v of order) {
    if (v === 0 || !inside[v]) continue;
    let d = idom[v]!;
    while (d !== 0 && groups[d] !== groups[v]) d = idom[d]!;
    if (d === 0) byGroup.get(groups[v]!)!.retainedBytes += retained[v]!;
  }

  // The edge by which a node's dominator (or the nearest predecessor) holds it, for the top list.
  const via = (v: number): string => {
    const d = idom[v]!;
    for (let e = firstEdge[d]!; e < firstEdge[d + 1]!; e += ef) {
      if (target(e) !== v) continue;
      const t = edgeTypes[s.edges[e + eType]!]!;
      const n = s.edges[e + eName]!;
      return `${groups[d]!}${t === 'element' || t === 'hidden' ? `[${String(n)}]` : `.${s.strings[n] ?? String(n)}`}`;
    }
    return `(dominated by ${groups[d]!})`;
  };
  const candidates = order.filter((v) => v !== 0 && inside[v] && nodeTypes[s.nodes[v * nf + nType]!] !== 'synthetic');
  candidates.sort((a, b) => retained[b]! - retained[a]!);
  // Leave out an object whose dominator is already listed with about the same size (a chain of wrappers).
  const listed: HeapSummary['top'] = [];
  const shown = new Set<number>();
  for (const v of candidates) {
    if (listed.length >= top) break;
    if (shown.has(idom[v]!) && retained[v]! > retained[idom[v]!]! * 0.9) {
      shown.add(v);
      continue;
    }
    shown.add(v);
    listed.push({ name: groups[v]!, retainedBytes: retained[v]!, selfBytes: self(v), via: via(v) });
  }
  return { totalBytes: retained[0]!, nodes: N, byGroup, top: listed };
}

const mb = (b: number): string => (b / 1024 / 1024).toFixed(2);

export function formatHeapSummary(h: HeapSummary, top = 20): string[] {
  const rows = [...h.byGroup].sort((a, b) => b[1].retainedBytes - a[1].retainedBytes).slice(0, top);
  const bySelf = [...h.byGroup].sort((a, b) => b[1].selfBytes - a[1].selfBytes).slice(0, top);
  const row = ([g, f]: [string, GroupFigures]): string =>
    `| ${g.replaceAll('|', '\\|')} | ${f.count.toLocaleString('en-US')} | ${mb(f.selfBytes)} | ${mb(f.retainedBytes)} |`;
  return [
    `Heap: ${mb(h.totalBytes)} MB reachable in ${h.nodes.toLocaleString('en-US')} nodes.`,
    '',
    'By retained size (a group counts what its objects retain that no other object of it dominates):',
    '',
    '| constructor / type | count | self (MB) | retained (MB) |',
    '|---|---|---|---|',
    ...rows.map(row),
    '',
    'By self size:',
    '',
    '| constructor / type | count | self (MB) | retained (MB) |',
    '|---|---|---|---|',
    ...bySelf.map(row),
    '',
    'Single objects retaining the most:',
    '',
    '| object | retained (MB) | self (bytes) | held by |',
    '|---|---|---|---|',
    ...h.top.map(
      (t) =>
        `| ${t.name.replaceAll('|', '\\|')} | ${mb(t.retainedBytes)} | ${String(t.selfBytes)} | ${t.via.replaceAll('|', '\\|')} |`,
    ),
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, n, within] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: heap-summary.ts FILE.heapsnapshot [TOP]\n');
    process.exit(2);
  }
  const top = Number(n ?? 25);
  const summary = summarizeHeap(JSON.parse(readFileSync(file, 'utf8')) as Snapshot, top, within);
  process.stdout.write(`${formatHeapSummary(summary, top).join('\n')}\n`);
}
