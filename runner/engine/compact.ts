// The commit graph of a job in a compact form: commits numbered 0..n-1, parents as typed arrays,
// shas kept as 20-byte words and turned back into strings only at the edges (probes, answers).
// A 1,000,000-commit range costs a few tens of MB instead of a million objects keyed by sha, and
// is parsed once per job: decide() caches it (and its ranges) on the graph object it is given.
import type { CommitGraph, Sha } from "./types";

/** The listed commits' shas: the commit number of a sha, and back. */
export interface ShaTable {
  readonly size: number;
  at(i: number): Sha;
  /** The commit number of `sha`, or -1 when it is not listed. */
  find(sha: Sha): number;
}

/** Any strings (test graphs name commits "c7"): an array and a Map. */
class StringShas implements ShaTable {
  private readonly index = new Map<Sha, number>();
  constructor(private readonly list: Sha[]) {
    for (let i = 0; i < list.length; i++)
      if (!this.index.has(list[i]!)) this.index.set(list[i]!, i);
  }
  get size(): number {
    return this.list.length;
  }
  at(i: number): Sha {
    return this.list[i]!;
  }
  find(sha: Sha): number {
    return this.index.get(sha) ?? -1;
  }
}

const HEX = new Int8Array(128).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) HEX[97 + c] = 10 + c;
const HEX_DIGITS = "0123456789abcdef";

/** Five 32-bit words of the 40 lowercase hex digits at `text[at..]`, or false when not hex. */
function readSha(text: Uint8Array, at: number, into: Uint32Array, to: number): boolean {
  for (let w = 0; w < 5; w++) {
    let v = 0;
    for (let k = 0; k < 8; k++) {
      const c = text[at + w * 8 + k]!;
      const d = c < 128 ? HEX[c]! : -1;
      if (d < 0) return false;
      v = (v << 4) | d;
    }
    into[to + w] = v >>> 0;
  }
  return true;
}

/** 40-hex shas as 5 words each, found through an open-addressing table keyed by the first word. */
class HexShas implements ShaTable {
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly probe = new Uint32Array(5);
  /** The first sha number listed a second time, or -1. */
  readonly repeated: number = -1;

  constructor(
    readonly words: Uint32Array,
    readonly size: number,
  ) {
    let cap = 16;
    while (cap < size * 2) cap *= 2;
    this.mask = cap - 1;
    this.slots = new Int32Array(cap);
    for (let i = 0; i < size; i++) {
      let s = words[i * 5]! & this.mask;
      while (this.slots[s] !== 0) {
        if (this.equals(this.slots[s]! - 1, words, i * 5)) break;
        s = (s + 1) & this.mask;
      }
      if (this.slots[s] === 0) this.slots[s] = i + 1;
      else if (this.repeated < 0) this.repeated = i;
    }
  }

  private equals(i: number, w: Uint32Array, at: number): boolean {
    const o = i * 5;
    const x = this.words;
    return (
      x[o] === w[at] &&
      x[o + 1] === w[at + 1] &&
      x[o + 2] === w[at + 2] &&
      x[o + 3] === w[at + 3] &&
      x[o + 4] === w[at + 4]
    );
  }

  /** The number of the sha held in `w[at..at+5)`, or -1. */
  findWords(w: Uint32Array, at: number): number {
    let s = w[at]! & this.mask;
    for (;;) {
      const v = this.slots[s]!;
      if (v === 0) return -1;
      if (this.equals(v - 1, w, at)) return v - 1;
      s = (s + 1) & this.mask;
    }
  }

  find(sha: Sha): number {
    if (sha.length !== 40 || !readSha(Buffer.from(sha, "latin1"), 0, this.probe, 0)) return -1;
    return this.findWords(this.probe, 0);
  }

  at(i: number): Sha {
    let s = "";
    for (let w = 0; w < 5; w++) {
      const v = this.words[i * 5 + w]!;
      for (let k = 28; k >= 0; k -= 4) s += HEX_DIGITS[(v >>> k) & 15];
    }
    return s;
  }
}

/** Thrown for `git rev-list --parents` output that is not one commit per line. */
export class RevListFormatError extends Error {
  override name = "RevListFormatError";
}

/**
 * The listed commits and their parents. A parent is a commit number (≥ 0) when listed, else
 * ~k (< 0) for the k-th sha outside the list (the good revision and older commits).
 */
export class CommitTable {
  private commitsRecord: CommitGraph["commits"] | null = null;
  /** Ranges built from this table, by endpoints and first-parent flag (see range.ts). */
  readonly ranges = new Map<string, unknown>();

  constructor(
    readonly shas: ShaTable,
    readonly parentStart: Int32Array,
    readonly parents: Int32Array,
    readonly outside: Sha[],
  ) {}

  get size(): number {
    return this.shas.size;
  }

  parentSha(e: number): Sha {
    const p = this.parents[e]!;
    return p >= 0 ? this.shas.at(p) : this.outside[~p]!;
  }

  /** The plain-object form (`CommitGraph["commits"]`), built on first use. */
  get record(): CommitGraph["commits"] {
    if (!this.commitsRecord) {
      const out: CommitGraph["commits"] = {};
      for (let i = 0; i < this.size; i++) {
        const parents: Sha[] = [];
        for (let e = this.parentStart[i]!; e < this.parentStart[i + 1]!; e++)
          parents.push(this.parentSha(e));
        out[this.shas.at(i)] = { parents };
      }
      this.commitsRecord = out;
      tables.set(out, this);
    }
    return this.commitsRecord;
  }

  /** From the plain-object form; any strings as shas. */
  static fromRecord(commits: CommitGraph["commits"]): CommitTable {
    const list = Object.keys(commits);
    const shas = new StringShas(list);
    const parentStart = new Int32Array(list.length + 1);
    let edges = 0;
    for (let i = 0; i < list.length; i++) edges += commits[list[i]!]!.parents.length;
    const parents = new Int32Array(edges);
    const outside: Sha[] = [];
    const outsideIndex = new Map<Sha, number>();
    let e = 0;
    for (let i = 0; i < list.length; i++) {
      parentStart[i] = e;
      for (const p of commits[list[i]!]!.parents) {
        let k = shas.find(p);
        if (k < 0) {
          let o = outsideIndex.get(p);
          if (o === undefined) {
            o = outside.length;
            outside.push(p);
            outsideIndex.set(p, o);
          }
          k = ~o;
        }
        parents[e++] = k;
      }
    }
    parentStart[list.length] = e;
    const table = new CommitTable(shas, parentStart, parents, outside);
    table.commitsRecord = commits;
    return table;
  }

  /**
   * From `git rev-list --parents` output (`sha parent1 parent2 …` per line, 40-hex shas): one pass
   * over the text, no per-line strings. Throws RevListFormatError on any other line.
   */
  static fromRevList(output: string | Uint8Array): CommitTable {
    // Bytes, not the string: git's output arrives in chunks, and reading a string built by
    // concatenation character by character is many times slower than reading a byte array.
    const text = typeof output === "string" ? Buffer.from(output, "latin1") : output;
    const length = text.length;
    const eol = (from: number): number => {
      const nl = text.indexOf(10, from);
      return nl < 0 ? length : nl;
    };
    // Pass 1: count lines and shas, so the arrays are sized once.
    let lines = 0;
    let tokens = 0;
    for (let i = 0; i < length;) {
      const nl = eol(i);
      if (nl > i) {
        lines++;
        tokens += Math.floor((nl - i + 1) / 41);
      }
      i = nl + 1;
    }
    const words = new Uint32Array(lines * 5);
    const lineAt = new Int32Array(lines);
    const lineEnd = new Int32Array(lines);
    let n = 0;
    const bad = (from: number, to: number): never => {
      const line = Buffer.from(text.subarray(from, Math.min(to, from + 200))).toString("latin1");
      throw new RevListFormatError(
        `unexpected git rev-list output line: ${JSON.stringify(line.trim())}`,
      );
    };
    for (let i = 0; i < length;) {
      const nl = eol(i);
      let a = i;
      let b = nl;
      while (a < b && text[a]! <= 32) a++;
      while (b > a && text[b - 1]! <= 32) b--;
      if (b > a) {
        // The line: sha (space parent)* — each token exactly 40 hex digits, single spaces or tabs.
        if ((b - a + 1) % 41 !== 0) bad(i, nl);
        for (let t = a + 40; t < b; t += 41) {
          const c = text[t]!;
          if (c !== 32 && c !== 9) bad(i, nl);
        }
        if (!readSha(text, a, words, n * 5)) bad(i, nl);
        lineAt[n] = a;
        lineEnd[n] = b;
        n++;
      }
      i = nl + 1;
    }
    const shas = new HexShas(words, n);
    if (shas.repeated >= 0) bad(lineAt[shas.repeated]!, lineEnd[shas.repeated]!);
    const parentStart = new Int32Array(n + 1);
    const parents = new Int32Array(Math.max(0, tokens - n));
    const outside: Sha[] = [];
    const outsideIndex = new Map<Sha, number>();
    const probe = new Uint32Array(5);
    let e = 0;
    const sameSha = (x: number, y: number): boolean => {
      for (let c = 0; c < 40; c++) if (text[x + c] !== text[y + c]) return false;
      return true;
    };
    for (let j = 0; j < n; j++) {
      parentStart[j] = e;
      for (let t = lineAt[j]! + 41; t < lineEnd[j]!; t += 41) {
        // Most often a parent is the next line (rev-list lists a first parent right after its
        // child on a linear stretch): compare bytes before decoding and hashing.
        let k = j + 1 < n && sameSha(t, lineAt[j + 1]!) ? j + 1 : -1;
        if (k < 0) {
          if (!readSha(text, t, probe, 0)) bad(lineAt[j]!, lineEnd[j]!);
          k = shas.findWords(probe, 0);
        }
        if (k < 0) {
          const p = Buffer.from(text.subarray(t, t + 40)).toString("latin1");
          let o = outsideIndex.get(p);
          if (o === undefined) {
            o = outside.length;
            outside.push(p);
            outsideIndex.set(p, o);
          }
          k = ~o;
        }
        parents[e++] = k;
      }
    }
    parentStart[n] = e;
    return new CommitTable(shas, parentStart, parents.subarray(0, e), outside);
  }
}

/**
 * A CommitGraph (it has `good`, `bad` and `commits`, and serialises as one) backed by a
 * CommitTable. `commits` is built only when something asks for the plain form.
 */
export class CompactGraph implements CommitGraph {
  declare readonly commits: CommitGraph["commits"];

  constructor(
    readonly good: Sha,
    readonly bad: Sha,
    readonly table: CommitTable,
  ) {
    // An own enumerable getter, so `{ ...graph, bad }` still carries the commits.
    Object.defineProperty(this, "commits", {
      get: () => table.record,
      enumerable: true,
    });
  }

  /** Number of listed commits (cheaper than Object.keys(commits).length). */
  get size(): number {
    return this.table.size;
  }

  /** The parents of a listed commit in git's order, or undefined when it is not listed. */
  parentsOf(sha: Sha): Sha[] | undefined {
    const t = this.table;
    const k = t.shas.find(sha);
    if (k < 0) return undefined;
    const out: Sha[] = [];
    for (let e = t.parentStart[k]!; e < t.parentStart[k + 1]!; e++) out.push(t.parentSha(e));
    return out;
  }

  toJSON(): CommitGraph {
    return { good: this.good, bad: this.bad, commits: this.commits };
  }

  static fromRevList(good: Sha, bad: Sha, text: string | Uint8Array): CompactGraph {
    return new CompactGraph(good, bad, CommitTable.fromRevList(text));
  }
}

/**
 * Commit tables made from plain graphs, by their `commits` object: a job's graph is converted
 * once, however many times decide() is called on it. Graphs are treated as immutable.
 */
const tables = new WeakMap<object, CommitTable>();

/** The compact table of any graph given to the engine. */
export function tableOf(graph: CommitGraph): CommitTable {
  if (graph instanceof CompactGraph) return graph.table;
  let table = tables.get(graph.commits);
  if (!table) {
    table = CommitTable.fromRecord(graph.commits);
    tables.set(graph.commits, table);
  }
  return table;
}
