// Ancestry over the commit range as integer-indexed arrays, so candidate sets and weights stay linear-ish on 100k commits.
import type { CommitGraph, Sha } from "./types";

/** Thrown when the input breaks the engine's contract (a caller bug, not a bisection result). */
export class EngineInputError extends Error {
  override name = "EngineInputError";
}

/** The commits that count, indexed 0..n-1 with every parent before its children (the tip is n-1). */
export interface RangeGraph {
  shas: Sha[];
  index: Map<Sha, number>;
  /** In-range parents of node i: parents[parentStart[i] .. parentStart[i+1]) (first-parent only when following first parents). */
  parentStart: Int32Array;
  parents: Int32Array;
  /** The first parent of node i in git's order, which may lie outside the range; null for a root commit. */
  firstParent: (Sha | null)[];
  tip: number;
}

/**
 * The range that takes part in the bisection: commits reachable from `bad` inside `graph.commits`
 * (all of them, or only the first-parent chain). A parent outside `graph.commits` — and the good
 * revision itself, should a caller list it — is outside the range and assumed good. Commits of
 * `graph.commits` not reachable from `bad` are ignored. Node order comes from a depth-first walk
 * from `bad` in git's parent order, so it does not depend on the key order of `graph.commits`.
 */
export function buildRange(graph: CommitGraph, firstParentOnly: boolean): RangeGraph {
  const commits = graph.commits;
  const has = (sha: Sha): boolean =>
    sha !== graph.good && Object.prototype.hasOwnProperty.call(commits, sha);
  if (!has(graph.bad)) {
    throw new EngineInputError(
      graph.bad === graph.good
        ? "the good and the bad revision are the same commit"
        : `the bad revision ${graph.bad} is not in the commit range`,
    );
  }
  const parentsOf = (sha: Sha): Sha[] => commits[sha]?.parents ?? [];

  const shas: Sha[] = [];
  const index = new Map<Sha, number>();

  if (firstParentOnly) {
    const chain: Sha[] = [];
    const seen = new Set<Sha>();
    let cur: Sha | undefined = graph.bad;
    while (cur !== undefined && has(cur) && !seen.has(cur)) {
      seen.add(cur);
      chain.push(cur);
      cur = parentsOf(cur)[0];
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      index.set(chain[i]!, shas.length);
      shas.push(chain[i]!);
    }
  } else {
    // Iterative post-order DFS: a node is numbered once all its in-range parents are.
    const state = index; // -1 while on the stack, then the node's number
    const stackSha: Sha[] = [graph.bad];
    const stackNext: number[] = [0];
    state.set(graph.bad, -1);
    while (stackSha.length > 0) {
      const top = stackSha.length - 1;
      const sha = stackSha[top]!;
      const ps = parentsOf(sha);
      let next = stackNext[top]!;
      let pushed = false;
      while (next < ps.length) {
        const p = ps[next++]!;
        if (has(p) && !state.has(p)) {
          stackNext[top] = next;
          state.set(p, -1);
          stackSha.push(p);
          stackNext.push(0);
          pushed = true;
          break;
        }
      }
      if (pushed) continue;
      stackSha.pop();
      stackNext.pop();
      index.set(sha, shas.length);
      shas.push(sha);
    }
  }

  const n = shas.length;
  const parentStart = new Int32Array(n + 1);
  const list: number[] = [];
  const firstParent: (Sha | null)[] = new Array<Sha | null>(n);
  for (let i = 0; i < n; i++) {
    parentStart[i] = list.length;
    const ps = parentsOf(shas[i]!);
    firstParent[i] = ps[0] ?? null;
    const from = list.length;
    for (let j = 0; j < ps.length; j++) {
      if (firstParentOnly && j > 0) break;
      const p = index.get(ps[j]!);
      if (p === undefined) continue;
      if (p >= i) throw new EngineInputError(`the commit graph has a cycle through ${shas[i]}`);
      let dup = false;
      for (let k = from; k < list.length && !dup; k++) dup = list[k] === p;
      if (!dup) list.push(p);
    }
  }
  parentStart[n] = list.length;
  return { shas, index, parentStart, parents: Int32Array.from(list), firstParent, tip: n - 1 };
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
  const n = g.shas.length;
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
 * its parent's weight + 1; a merge needs the size of a union, counted with bitsets over C in
 * column blocks that fit the memory budget.
 */
export function candidateWeights(
  g: RangeGraph,
  members: Int32Array,
  budgetWords = BITSET_BUDGET_WORDS,
): Int32Array {
  const m = members.length;
  const pos = new Int32Array(g.shas.length).fill(-1);
  for (let j = 0; j < m; j++) pos[members[j]!] = j;
  // In-C parents per member, as member positions (always smaller than the member's own).
  const start = new Int32Array(m + 1);
  const ps: number[] = [];
  let merges = 0;
  for (let j = 0; j < m; j++) {
    start[j] = ps.length;
    const node = members[j]!;
    for (let e = g.parentStart[node]!; e < g.parentStart[node + 1]!; e++) {
      const q = pos[g.parents[e]!]!;
      if (q >= 0) ps.push(q);
    }
    if (ps.length - start[j]! > 1) merges++;
  }
  start[m] = ps.length;

  const weight = new Int32Array(m);
  if (merges > 0) {
    const totalWords = Math.ceil(m / 32);
    const blockWords = Math.max(1, Math.min(totalWords, Math.floor(budgetWords / m)));
    const blockBits = blockWords * 32;
    for (let lo = 0; lo < m; lo += blockBits) {
      const hi = Math.min(m, lo + blockBits);
      // Rows for members lo..m-1 (a member below lo has no ancestor in this column block).
      const bits = new Uint32Array((m - lo) * blockWords);
      for (let j = lo; j < m; j++) {
        const row = (j - lo) * blockWords;
        for (let e = start[j]!; e < start[j + 1]!; e++) {
          const q = ps[e]!;
          if (q < lo) continue;
          const prow = (q - lo) * blockWords;
          for (let w = 0; w < blockWords; w++) bits[row + w]! |= bits[prow + w]!;
        }
        if (j < hi) bits[row + ((j - lo) >>> 5)]! |= 1 << ((j - lo) & 31);
        if (start[j + 1]! - start[j]! > 1) {
          let c = 0;
          for (let w = 0; w < blockWords; w++) c += popcount(bits[row + w]!);
          weight[j]! += c;
        }
      }
    }
  }
  for (let j = 0; j < m; j++) {
    const k = start[j + 1]! - start[j]!;
    if (k === 0) weight[j] = 1;
    else if (k === 1) weight[j] = weight[ps[start[j]!]!]! + 1;
    // merges: already counted
  }
  return weight;
}
