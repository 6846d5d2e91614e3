// The job page's picture of a bisection: the candidate range round by round, with the commits
// each round tested. Pure: the stored commit graph and the steps in, rows of columns out.
//
// Commits are laid out oldest to newest (every parent before its children, the bad tip last) and
// bucketed into `columns`. A commit is a candidate while it is an ancestor-or-self of every bad
// commit and not an ancestor-or-self of any good one — the same rule `git bisect` narrows by.

import { EngineInputError, type CommitGraph } from "../runner/engine";
import { buildRange, type RangeGraph } from "../runner/engine/graph";

export type ProbeVerdict = "good" | "bad" | "skip" | "error" | "pending";

/** A verdict in words, as every page and badge says it. */
export const VERDICT_TEXT: Record<ProbeVerdict, string> = {
  good: "good",
  bad: "bad",
  skip: "skipped",
  error: "error",
  pending: "running",
};

/** A verdict's symbol, beside its word (never colour alone). */
export const VERDICT_SYMBOL: Record<ProbeVerdict, string> = {
  good: "✓",
  bad: "✗",
  skip: "–",
  error: "!",
  pending: "…",
};

export interface PictureStep {
  sha: string;
  round: number;
  verdict: "good" | "bad" | "skip" | "error" | null;
}

export interface PictureInput {
  /** The stored commit graph (`bad ^good`), or null before the job was prepared. */
  graph: unknown;
  firstParent?: boolean;
  /** Runs per commit and how many failures make it bad (default 1 and 1). */
  runs?: number;
  failThreshold?: number;
  steps: PictureStep[];
}

export interface PictureProbe {
  sha: string;
  /** Column of the commit; -1 for the good endpoint (left of the range). */
  column: number;
  verdict: ProbeVerdict;
}

export interface PictureRow {
  /** The round, or null for the final row (what is left). */
  round: number | null;
  /** Candidates when the round started (final row: at the end). */
  candidates: number;
  /** Runs of columns holding at least one candidate: [start, end) pairs. */
  segments: Array<[number, number]>;
  probes: PictureProbe[];
}

export interface Picture {
  /** Commits in the range (0 when the graph is not known). */
  commits: number;
  columns: number;
  rows: PictureRow[];
}

function asGraph(value: unknown): CommitGraph | null {
  if (!value || typeof value !== "object") return null;
  const g = value as Partial<CommitGraph>;
  if (
    typeof g.good !== "string" ||
    typeof g.bad !== "string" ||
    !g.commits ||
    typeof g.commits !== "object"
  )
    return null;
  return g as CommitGraph;
}

/** Commits reachable from bad, numbered parents before children (bad last): the engine's own range. */
function layout(
  graph: CommitGraph,
  firstParent: boolean,
): Pick<RangeGraph, "index" | "parentStart" | "parents"> & { n: number } {
  try {
    const range = buildRange(graph, firstParent);
    return {
      n: range.shas.length,
      index: range.index,
      parentStart: range.parentStart,
      parents: range.parents,
    };
  } catch (error) {
    if (!(error instanceof EngineInputError)) throw error;
    return { n: 0, index: new Map(), parentStart: new Int32Array(1), parents: new Int32Array(0) };
  }
}

export function bisectionPicture(input: PictureInput, columns = 120): Picture {
  const graph = asGraph(input.graph);
  const rounds = [...new Set(input.steps.map((s) => s.round))].sort((a, b) => a - b);
  const runs = Math.max(1, input.runs ?? 1);
  const failThreshold = Math.min(runs, Math.max(1, input.failThreshold ?? 1));

  if (!graph) {
    // No range known: still show what each round tested.
    return {
      commits: 0,
      columns,
      rows: rounds.map((round) => ({
        round,
        candidates: 0,
        segments: [],
        probes: input.steps
          .filter((s) => s.round === round)
          .map((s) => ({ sha: s.sha, column: -1, verdict: s.verdict ?? "pending" })),
      })),
    };
  }

  const { n, index, parentStart, parents } = layout(graph, input.firstParent ?? false);
  const width = Math.max(1, Math.min(columns, n));
  const columnOf = (i: number) => Math.min(width - 1, Math.floor((i * width) / Math.max(1, n)));

  // Incremental candidate state: how many bad commits each commit is an ancestor-or-self of,
  // and whether it is an ancestor-or-self of a good commit.
  const badCount = new Int32Array(n);
  const goodMark = new Uint8Array(n);
  const stamp = new Int32Array(n);
  let badSeen = 0;
  const markBad = (start: number) => {
    badSeen++;
    const stack = [start];
    stamp[start] = badSeen;
    while (stack.length > 0) {
      const i = stack.pop()!;
      badCount[i]!++;
      for (let k = parentStart[i]!; k < parentStart[i + 1]!; k++) {
        const p = parents[k]!;
        if (stamp[p] !== badSeen) {
          stamp[p] = badSeen;
          stack.push(p);
        }
      }
    }
  };
  const markGood = (start: number) => {
    if (goodMark[start]) return;
    const stack = [start];
    goodMark[start] = 1;
    while (stack.length > 0) {
      const i = stack.pop()!;
      for (let k = parentStart[i]!; k < parentStart[i + 1]!; k++) {
        const p = parents[k]!;
        if (!goodMark[p]) {
          goodMark[p] = 1;
          stack.push(p);
        }
      }
    }
  };
  if (n > 0) markBad(n - 1);

  const snapshot = (): { candidates: number; segments: Array<[number, number]> } => {
    let candidates = 0;
    const inColumn = new Uint8Array(width);
    for (let i = 0; i < n; i++) {
      if (badCount[i] === badSeen && !goodMark[i]) {
        candidates++;
        inColumn[columnOf(i)] = 1;
      }
    }
    const segments: Array<[number, number]> = [];
    for (let c = 0; c < width; c++) {
      if (!inColumn[c]) continue;
      const last = segments[segments.length - 1];
      if (last && last[1] === c) last[1] = c + 1;
      else segments.push([c, c + 1]);
    }
    return { candidates, segments };
  };

  const tallies = new Map<string, { good: number; bad: number; decided: boolean }>();
  const rows: PictureRow[] = [];
  for (const round of rounds) {
    const steps = input.steps.filter((s) => s.round === round);
    const { candidates, segments } = snapshot();
    rows.push({
      round,
      candidates,
      segments,
      probes: steps.map((s) => ({
        sha: s.sha,
        column: index.has(s.sha) ? columnOf(index.get(s.sha)!) : -1,
        verdict: s.verdict ?? "pending",
      })),
    });
    // Apply this round's verdicts before the next row.
    for (const s of steps) {
      if (s.verdict !== "good" && s.verdict !== "bad") continue;
      const t = tallies.get(s.sha) ?? { good: 0, bad: 0, decided: false };
      t[s.verdict]++;
      tallies.set(s.sha, t);
      const i = index.get(s.sha);
      if (t.decided || i === undefined) continue;
      if (t.bad >= failThreshold) {
        t.decided = true;
        markBad(i);
      } else if (t.good > runs - failThreshold) {
        t.decided = true;
        markGood(i);
      }
    }
  }
  const end = snapshot();
  rows.push({ round: null, candidates: end.candidates, segments: end.segments, probes: [] });
  return { commits: n, columns: width, rows };
}
