// Ancestry over the commit range as integer-indexed arrays, so candidate sets and weights stay linear-ish on 100k commits.
import { tableOf, type CommitTable } from "./compact";
import type { CommitGraph, Sha } from "./types";

/** Thrown when the input breaks the engine's contract (a caller bug, not a bisection result). */
export class EngineInputError extends Error {
  override name = "EngineInputError";
}

/**
 * The commits that count, indexed 0..n-1 with every parent before its children (the tip is n-1).
 * Backed by the job's CommitTable: `node[i]` is range node i's commit number there. Shas are
 * strings only on request (`sha`, `find`; `shas` and `index` build the whole lists).
 */
export class RangeGraph {
  private shaList: Sha[] | null = null;
  private shaIndex: Map<Sha, number> | null = null;

  constructor(
    readonly table: CommitTable,
    /** Range node → commit number in `table`. */
    readonly node: Int32Array,
    /** Commit number in `table` → range node, or -1 outside the range. */
    readonly rangeOf: Int32Array,
    /** In-range parents of node i: parents[parentStart[i] .. parentStart[i+1]) (first-parent only when following first parents). */
    readonly parentStart: Int32Array,
    readonly parents: Int32Array,
  ) {}

  get n(): number {
    return this.node.length;
  }

  get tip(): number {
    return this.node.length - 1;
  }

  sha(i: number): Sha {
    return this.table.shas.at(this.node[i]!);
  }

  /** The range node of `sha`, or -1. */
  find(sha: Sha): number {
    const k = this.table.shas.find(sha);
    return k < 0 ? -1 : this.rangeOf[k]!;
  }

  /** The first parent of node i in git's order, which may lie outside the range; null for a root commit. */
  firstParent(i: number): Sha | null {
    const k = this.node[i]!;
    return this.table.parentStart[k]! < this.table.parentStart[k + 1]!
      ? this.table.parentSha(this.table.parentStart[k]!)
      : null;
  }

  /** Every node's sha, in node order. */
  get shas(): Sha[] {
    if (!this.shaList) this.shaList = Array.from(this.node, (k) => this.table.shas.at(k));
    return this.shaList;
  }

  /** The last candidate sets asked for (see `candidatesOf`), newest last. */
  readonly recent: { key: string; members: Int32Array; weight: Int32Array | null }[] = [];

  /** sha → node, for all nodes. */
  get index(): Map<Sha, number> {
    if (!this.shaIndex) this.shaIndex = new Map(this.shas.map((s, i) => [s, i]));
    return this.shaIndex;
  }
}

/**
 * The range that takes part in the bisection: commits reachable from `bad` inside `graph.commits`
 * (all of them, or only the first-parent chain). A parent outside `graph.commits` — and the good
 * revision itself, should a caller list it — is outside the range and assumed good. Commits of
 * `graph.commits` not reachable from `bad` are ignored. Node order comes from a depth-first walk
 * from `bad` in git's parent order, so it does not depend on the key order of `graph.commits`.
 * Built once per graph, endpoints and flag (cached with the graph's CommitTable).
 */
export function buildRange(graph: CommitGraph, firstParentOnly: boolean): RangeGraph {
  const table = tableOf(graph);
  const key = `${graph.good}\n${graph.bad}\n${firstParentOnly}`;
  const cached = table.ranges.get(key) as RangeGraph | undefined;
  if (cached) return cached;
  const range = rangeOf(table, graph.good, graph.bad, firstParentOnly);
  table.ranges.set(key, range);
  return range;
}

function rangeOf(table: CommitTable, good: Sha, bad: Sha, firstParentOnly: boolean): RangeGraph {
  const size = table.size;
  const goodK = good === bad ? -2 : table.shas.find(good);
  const badK = table.shas.find(bad);
  if (badK < 0 || badK === goodK || good === bad) {
    throw new EngineInputError(
      bad === good
        ? "the good and the bad revision are the same commit"
        : `the bad revision ${bad} is not in the commit range`,
    );
  }
  const tp = table.parentStart;
  const tparents = table.parents;
  const has = (k: number): boolean => k >= 0 && k !== goodK;
  // -2: not reached; -1: on the stack; ≥ 0: the node's number.
  const rangeOf = new Int32Array(size).fill(-2);
  const order = new Int32Array(size);
  let n = 0;

  if (firstParentOnly) {
    let cur = badK;
    let len = 0;
    while (has(cur) && rangeOf[cur] === -2) {
      rangeOf[cur] = -1;
      order[len++] = cur;
      cur = tp[cur]! < tp[cur + 1]! ? tparents[tp[cur]!]! : -1;
    }
    order.subarray(0, len).reverse();
    for (; n < len; n++) rangeOf[order[n]!] = n;
  } else {
    // Iterative post-order DFS: a node is numbered once all its in-range parents are.
    const stack = new Int32Array(size);
    const next = new Int32Array(size);
    let top = 0;
    stack[0] = badK;
    next[0] = tp[badK]!;
    rangeOf[badK] = -1;
    while (top >= 0) {
      const k = stack[top]!;
      const end = tp[k + 1]!;
      let e = next[top]!;
      let pushed = false;
      while (e < end) {
        const p = tparents[e++]!;
        if (has(p) && rangeOf[p] === -2) {
          next[top] = e;
          rangeOf[p] = -1;
          top++;
          stack[top] = p;
          next[top] = tp[p]!;
          pushed = true;
          break;
        }
      }
      if (pushed) continue;
      top--;
      rangeOf[k] = n;
      order[n++] = k;
    }
  }
  const node = order.slice(0, n);
  for (let k = 0; k < size; k++) if (rangeOf[k]! < 0) rangeOf[k] = -1;

  const parentStart = new Int32Array(n + 1);
  const list = new Int32Array(firstParentOnly ? n : tparents.length);
  let len = 0;
  for (let i = 0; i < n; i++) {
    parentStart[i] = len;
    const k = node[i]!;
    const from = len;
    const end = firstParentOnly ? Math.min(tp[k + 1]!, tp[k]! + 1) : tp[k + 1]!;
    for (let e = tp[k]!; e < end; e++) {
      const pk = tparents[e]!;
      if (pk < 0) continue;
      const p = rangeOf[pk]!;
      if (p < 0) continue;
      if (p >= i)
        throw new EngineInputError(`the commit graph has a cycle through ${table.shas.at(k)}`);
      let dup = false;
      for (let q = from; q < len && !dup; q++) dup = list[q] === p;
      if (!dup) list[len++] = p;
    }
  }
  parentStart[n] = len;
  return new RangeGraph(table, node, rangeOf, parentStart, list.slice(0, len));
}

/**
 * git bisect's candidate set: nodes that are ancestors-or-self of every bad node, minus
 * ancestors-or-self of any good node. One pass from the tip down (children before parents)
 * carrying a bitset of "which bad nodes reach me" and a flag "a good node reaches me".
 */
export function candidateSet(
  g: RangeGraph,
  bads: readonly number[],
  goods: readonly number[],
): Uint8Array {
  const n = g.n;
  const inC = new Uint8Array(n);
  const words = Math.max(1, Math.ceil(bads.length / 32));
  const reach = new Uint32Array(n * words);
  const goodReach = new Uint8Array(n);
  bads.forEach((b, k) => {
    reach[b * words + (k >>> 5)]! |= 1 << (k & 31);
  });
  for (const x of goods) goodReach[x] = 1;
  const { parentStart, parents } = g;
  for (let i = n - 1; i >= 0; i--) {
    const end = parentStart[i + 1]!;
    for (let e = parentStart[i]!; e < end; e++) {
      const p = parents[e]!;
      if (goodReach[i]) goodReach[p] = 1;
      for (let w = 0; w < words; w++) reach[p * words + w]! |= reach[i * words + w]!;
    }
  }
  const full = new Uint32Array(words);
  for (let k = 0; k < bads.length; k++) full[k >>> 5]! |= 1 << (k & 31);
  for (let i = 0; i < n; i++) {
    if (goodReach[i]) continue;
    let all = true;
    for (let w = 0; w < words && all; w++) all = reach[i * words + w] === full[w];
    if (all) inC[i] = 1;
  }
  return inC;
}

/**
 * C's members (range order) for the given bad and good nodes, and their weights on demand. The
 * last few sets are remembered on the range: the decisions between two verdicts that settle a
 * commit (runs starting, runs in flight, skips) all see the same C.
 */
export function candidatesOf(
  g: RangeGraph,
  bads: readonly number[],
  goods: readonly number[],
): { members: Int32Array; weights: () => Int32Array } {
  const key = `${bads.join(",")}|${goods.join(",")}`;
  let entry = g.recent.find((r) => r.key === key);
  if (!entry) {
    const inC = candidateSet(g, bads, goods);
    let size = 0;
    for (let i = 0; i < g.n; i++) size += inC[i]!;
    const members = new Int32Array(size);
    for (let i = 0, j = 0; i < g.n; i++) if (inC[i]) members[j++] = i;
    entry = { key, members, weight: null };
    g.recent.push(entry);
    if (g.recent.length > 4) g.recent.shift();
  }
  const e = entry;
  return { members: e.members, weights: () => (e.weight ??= candidateWeights(g, e.members)) };
}

function popcount(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Memory budget of the merge-weight bitsets, in 32-bit words (16 MiB). */
const BITSET_BUDGET_WORDS = 4 * 1024 * 1024;

/**
 * git's bisection weight of every candidate: weight(c) = |ancestors-or-self(c) ∩ C|.
 * `members` are C's nodes in range order (parents first). C is convex (a path between two
 * candidates stays inside C), so only in-C parents matter. A commit with one in-C parent weighs
 * its parent's weight + 1; a merge needs the size of a union: see walkWeights, and
 * segmentWeights where walking would not pay. Both are exact.
 */
export function candidateWeights(
  g: RangeGraph,
  members: Int32Array,
  budgetWords = BITSET_BUDGET_WORDS,
  walkBudget = WALK_BUDGET_PER_MEMBER,
): Int32Array {
  const m = members.length;
  const pos = new Int32Array(g.n).fill(-1);
  for (let j = 0; j < m; j++) pos[members[j]!] = j;
  // In-C parents per member, as member positions (always smaller than the member's own).
  const start = new Int32Array(m + 1);
  const ps = new Int32Array(g.parents.length);
  const children = new Int32Array(m);
  let len = 0;
  let merges = 0;
  for (let j = 0; j < m; j++) {
    start[j] = len;
    const node = members[j]!;
    for (let e = g.parentStart[node]!; e < g.parentStart[node + 1]!; e++) {
      const q = pos[g.parents[e]!]!;
      if (q >= 0) {
        ps[len++] = q;
        children[q]!++;
      }
    }
    if (len - start[j]! > 1) merges++;
  }
  start[m] = len;

  const weight = new Int32Array(m);
  if (merges === 0) {
    for (let j = 0; j < m; j++)
      weight[j] = start[j + 1] === start[j] ? 1 : weight[ps[start[j]!]!]! + 1;
    return weight;
  }
  if (walkWeights(m, start, ps, weight, walkBudget * m)) return weight;
  return segmentWeights(m, start, ps, children, weight, budgetWords);
}

/** Steps the merge walks may take per member before the bitsets take over. */
const WALK_BUDGET_PER_MEMBER = 24;

class OverBudget extends Error {}

/**
 * Weights by walking each merge's new ancestors: weight(x) = weight(a) + |D| + 1, where a is the
 * heaviest parent and D = ancestors of the other parents that are not ancestors of a. In real
 * histories D is the merged topic branch, so the walks add up to about |C|. Whether y is an
 * ancestor of a is answered by node order (an ancestor comes first), by a spanning tree of first
 * parents (an interval test), and otherwise by a search from a down to y. False when the walks
 * exceed `budget` steps (a history whose branches fork far back everywhere); `weight` is then
 * partly filled and the caller counts with bitsets instead.
 */
function walkWeights(
  m: number,
  start: Int32Array,
  ps: Int32Array,
  weight: Int32Array,
  budget: number,
): boolean {
  // Pre-order interval of every member in the forest of first (in-C) parents.
  const kids = new Int32Array(m + 1);
  for (let j = 0; j < m; j++) if (start[j + 1]! > start[j]!) kids[ps[start[j]!]! + 1]!++;
  for (let j = 0; j < m; j++) kids[j + 1]! += kids[j]!;
  const kidList = new Int32Array(m);
  const fill = kids.slice(0, m);
  for (let j = 0; j < m; j++) if (start[j + 1]! > start[j]!) kidList[fill[ps[start[j]!]!]!++] = j;
  const tin = new Int32Array(m);
  const span = new Int32Array(m);
  const stack = new Int32Array(m);
  let clock = 0;
  for (let r = 0; r < m; r++) {
    if (start[r + 1]! > start[r]!) continue; // not a root
    let top = 0;
    stack[0] = r;
    while (top >= 0) {
      const x = stack[top--]!;
      tin[x] = clock++;
      for (let e = kids[x + 1]! - 1; e >= kids[x]!; e--) stack[++top] = kidList[e]!;
    }
  }
  // Subtree sizes, children after parents in member order: accumulate backwards.
  span.fill(1);
  for (let j = m - 1; j >= 0; j--) if (start[j + 1]! > start[j]!) span[ps[start[j]!]!]! += span[j]!;
  const treeAncestor = (y: number, x: number): boolean =>
    tin[y]! <= tin[x]! && tin[x]! < tin[y]! + span[y]!;

  let steps = 0;
  const seen = new Int32Array(m); // walk stamp: merge position + 1
  const searched = new Int32Array(m); // search stamp
  let searchId = 0;
  const walk: number[] = [];
  const search: number[] = [];
  /** Whether y is an ancestor-or-self of x. */
  const reaches = (y: number, x: number): boolean => {
    if (y === x) return true;
    if (y > x) return false;
    if (treeAncestor(y, x)) return true;
    searchId++;
    search.length = 0;
    search.push(x);
    searched[x] = searchId;
    while (search.length > 0) {
      const z = search.pop()!;
      if (++steps > budget) throw new OverBudget();
      for (let e = start[z]!; e < start[z + 1]!; e++) {
        const p = ps[e]!;
        if (p < y || searched[p] === searchId) continue;
        if (p === y || treeAncestor(y, p)) return true;
        searched[p] = searchId;
        search.push(p);
      }
    }
    return false;
  };

  try {
    for (let x = 0; x < m; x++) {
      const from = start[x]!;
      const to = start[x + 1]!;
      if (to === from) {
        weight[x] = 1;
        continue;
      }
      if (to - from === 1) {
        weight[x] = weight[ps[from]!]! + 1;
        continue;
      }
      let a = ps[from]!;
      for (let e = from + 1; e < to; e++) if (weight[ps[e]!]! > weight[a]!) a = ps[e]!;
      let count = 0;
      walk.length = 0;
      for (let e = from; e < to; e++) if (ps[e] !== a) walk.push(ps[e]!);
      while (walk.length > 0) {
        const y = walk.pop()!;
        if (seen[y] === x + 1) continue;
        seen[y] = x + 1;
        if (++steps > budget) throw new OverBudget();
        if (reaches(y, a)) continue;
        count++;
        for (let e = start[y]!; e < start[y + 1]!; e++) walk.push(ps[e]!);
      }
      weight[x] = weight[a]! + count + 1;
    }
  } catch (error) {
    if (error instanceof OverBudget) return false;
    throw error;
  }
  return true;
}

/**
 * Weights with bitsets, for histories where the walks would not pay. The union is counted over
 * segments, not commits: a segment is a maximal chain in which every commit but the first has
 * one in-C parent, itself with one in-C child. A segment's parents are always whole segments (a
 * parent of a segment's first commit ends its own segment), so the ancestors of a segment are a
 * set of whole segments: one bitset row per segment, one bit per segment, in column blocks that
 * fit the memory budget. A merge's weight is the sum of the sizes of its ancestor segments, taken
 * bit plane by bit plane of the sizes with popcounts.
 */
function segmentWeights(
  m: number,
  start: Int32Array,
  ps: Int32Array,
  children: Int32Array,
  weight: Int32Array,
  budgetWords: number,
): Int32Array {
  const len = start[m]!;

  // Segments: seg[j], the offset of j in it, each segment's first member and size.
  const seg = new Int32Array(m);
  const offset = new Int32Array(m);
  const head: number[] = [];
  const segSize: number[] = [];
  for (let j = 0; j < m; j++) {
    const k = start[j + 1]! - start[j]!;
    const p = k === 1 ? ps[start[j]!]! : -1;
    if (p >= 0 && children[p] === 1) {
      seg[j] = seg[p]!;
      offset[j] = offset[p]! + 1;
      segSize[seg[j]!]!++;
    } else {
      seg[j] = head.length;
      head.push(j);
      segSize.push(1);
    }
  }
  const S = head.length;
  // Parent segments of each segment (those of its first member).
  const segStart = new Int32Array(S + 1);
  const segParents = new Int32Array(len);
  let sl = 0;
  for (let s = 0; s < S; s++) {
    segStart[s] = sl;
    const h = head[s]!;
    for (let e = start[h]!; e < start[h + 1]!; e++) segParents[sl++] = seg[ps[e]!]!;
  }
  segStart[S] = sl;
  let maxSize = 0;
  for (let s = 0; s < S; s++) maxSize = Math.max(maxSize, segSize[s]!);
  const planes = 32 - Math.clz32(maxSize);

  // headWeight[s] for segments whose first member is a merge: the sum over ancestor segments.
  const headWeight = new Float64Array(S);
  const totalWords = Math.ceil(S / 32);
  const blockWords = Math.max(1, Math.min(totalWords, Math.floor(budgetWords / S)));
  const blockBits = blockWords * 32;
  const mask = new Uint32Array(planes * blockWords);
  for (let lo = 0; lo < S; lo += blockBits) {
    const hi = Math.min(S, lo + blockBits);
    mask.fill(0);
    for (let t = lo; t < hi; t++) {
      const size = segSize[t]!;
      for (let b = 0; b < planes; b++)
        if ((size >>> b) & 1) mask[b * blockWords + ((t - lo) >>> 5)]! |= 1 << ((t - lo) & 31);
    }
    // Row s: ancestor segments of s (s itself excluded) within columns lo..hi-1. Segments below
    // lo have no ancestor in this block; the row of a segment includes its parents' own bits.
    const bits = new Uint32Array((S - lo) * blockWords);
    for (let s = lo; s < S; s++) {
      const row = (s - lo) * blockWords;
      for (let e = segStart[s]!; e < segStart[s + 1]!; e++) {
        const q = segParents[e]!;
        if (q < lo) continue;
        const prow = (q - lo) * blockWords;
        for (let w = 0; w < blockWords; w++) bits[row + w]! |= bits[prow + w]!;
        if (q < hi) bits[row + ((q - lo) >>> 5)]! |= 1 << ((q - lo) & 31);
      }
      if (segStart[s + 1]! - segStart[s]! > 1) {
        let c = 0;
        for (let b = 0; b < planes; b++) {
          let pc = 0;
          const mrow = b * blockWords;
          for (let w = 0; w < blockWords; w++) pc += popcount(bits[row + w]! & mask[mrow + w]!);
          c += pc * 2 ** b;
        }
        headWeight[s]! += c;
      }
    }
  }
  for (let j = 0; j < m; j++) {
    const k = start[j + 1]! - start[j]!;
    if (k === 0) weight[j] = 1;
    else if (offset[j]! > 0 || k === 1) weight[j] = weight[ps[start[j]!]!]! + 1;
    else weight[j] = headWeight[seg[j]!]! + 1;
  }
  return weight;
}
