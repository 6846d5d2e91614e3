// Graph builders, a single-culprit oracle and a driver loop for decide(): shared by the engine's tests and benchmarks.
import { decide } from "./engine";
import {
  isEndpointRun,
  type CommitGraph,
  type Decision,
  type EngineInput,
  type Observation,
  type Policy,
  type Sha,
  type Verdict,
} from "./types";

export type Done = Extract<Decision, { kind: "done" }>;

/** A linear range c0..c{n-1} on top of the good revision "g". */
export function linearGraph(n: number): CommitGraph {
  const commits: CommitGraph["commits"] = {};
  for (let i = 0; i < n; i++) commits[`c${i}`] = { parents: [i === 0 ? "g" : `c${i - 1}`] };
  return { good: "g", bad: `c${n - 1}`, commits };
}

/** One step of the random history builder; numbers are reduced modulo what exists. */
export interface DagOp {
  kind: number;
  a: number;
  b: number;
}

/** The out-of-range history below the good revision: b0 ← b1 ← … ← b4 = good. */
export const BASE = ["b0", "b1", "b2", "b3", "b4"];

/**
 * A merge-heavy history from a list of operations: commit on a branch, start a branch from any
 * earlier commit (in range, or an ancestor of the good revision), merge two branches (sometimes
 * keeping the merged branch alive, which makes criss-cross merges), merge an old ancestor of the
 * good revision into a branch. Finally every branch is merged into the tip, so all commits are
 * reachable from `bad`. Ops kinds: 0–4 commit, 5–6 branch, 7 merge, 8 merge-and-keep, 9 merge-base.
 */
export function dagGraph(ops: readonly DagOp[]): { graph: CommitGraph; parents: Map<Sha, Sha[]> } {
  const parents = new Map<Sha, Sha[]>();
  BASE.forEach((b, i) => parents.set(b, i === 0 ? [] : [BASE[i - 1]!]));
  const good = BASE[BASE.length - 1]!;
  const range: Sha[] = [];
  let next = 0;
  const make = (ps: Sha[]): Sha => {
    const sha = `m${next++}`;
    parents.set(sha, ps);
    range.push(sha);
    return sha;
  };
  const heads: Sha[] = [make([good])];
  for (const op of ops) {
    const h = op.a % heads.length;
    switch (op.kind % 10) {
      case 0:
      case 1:
      case 2:
      case 3:
      case 4:
        heads[h] = make([heads[h]!]);
        break;
      case 5:
      case 6: {
        const k = op.b % (BASE.length + range.length);
        heads.push(make([k < BASE.length ? BASE[k]! : range[k - BASE.length]!]));
        break;
      }
      case 7:
      case 8: {
        const o = op.b % heads.length;
        if (o === h) {
          heads[h] = make([heads[h]!]);
          break;
        }
        const merged = make([heads[h]!, heads[o]!]);
        heads[h] = merged;
        if (op.kind % 10 === 7) heads.splice(o, 1);
        break;
      }
      default: {
        const base = BASE[op.b % BASE.length]!;
        heads[h] = make([heads[h]!, base]);
      }
    }
  }
  let tip = heads[0]!;
  for (let i = 1; i < heads.length; i++) tip = make([tip, heads[i]!]);
  const commits: CommitGraph["commits"] = {};
  for (const sha of range) commits[sha] = { parents: parents.get(sha)! };
  return { graph: { good, bad: tip, commits }, parents };
}

/**
 * A merge-heavy history as projects that merge topic branches make it: a main line on top of the
 * good revision "g"; topic branches fork from a recent main-line commit (up to `lag` back) or,
 * now and then, from another open topic, get commits, and are merged into the main line in any
 * order (about a third of all commits are merges). `n` commits in all, named t0…; deterministic
 * for a seed.
 */
export function topicGraph(n: number, seed = 1, lag = 200): CommitGraph {
  const random = prng(seed);
  const commits: CommitGraph["commits"] = {};
  const main: Sha[] = ["g"];
  let next = 0;
  const make = (parents: Sha[]): Sha => {
    const sha = `t${next++}`;
    commits[sha] = { parents };
    return sha;
  };
  const open: Sha[] = [];
  const mainTip = (): Sha => main[main.length - 1]!;
  while (next < n - Math.max(1, open.length)) {
    const r = random();
    if ((r < 0.35 || open.length > 40) && open.length > 0) {
      const [topic] = open.splice(Math.floor(random() * open.length), 1);
      main.push(make([mainTip(), topic!]));
    } else if (r < 0.5) {
      const back = Math.min(main.length - 1, Math.floor(random() * lag));
      open.push(make([main[main.length - 1 - back]!]));
    } else if (r < 0.55 && open.length > 0) {
      open.push(make([open[Math.floor(random() * open.length)]!]));
    } else if (r < 0.8 && open.length > 0) {
      const k = Math.floor(random() * open.length);
      open[k] = make([open[k]!]);
    } else main.push(make([mainTip()]));
  }
  for (const topic of open) main.push(make([mainTip(), topic]));
  return { good: "g", bad: mainTip(), commits };
}

/** Parents of every commit of a CommitGraph (the good revision and outside parents have none listed). */
export function parentMap(graph: CommitGraph): Map<Sha, Sha[]> {
  const m = new Map<Sha, Sha[]>();
  for (const [sha, c] of Object.entries(graph.commits)) m.set(sha, c.parents);
  return m;
}

/** Descendants-or-self of `root` among the commits of `parents`. */
export function descendantsOrSelf(parents: Map<Sha, Sha[]>, root: Sha): Set<Sha> {
  const children = new Map<Sha, Sha[]>();
  for (const [sha, ps] of parents)
    for (const p of ps) children.set(p, [...(children.get(p) ?? []), sha]);
  const out = new Set<Sha>([root]);
  const stack = [root];
  while (stack.length > 0) {
    for (const c of children.get(stack.pop()!) ?? []) {
      if (!out.has(c)) {
        out.add(c);
        stack.push(c);
      }
    }
  }
  return out;
}

/** Ancestors-or-self of `sha` among the commits of `parents`. */
export function ancestorsOrSelf(parents: Map<Sha, Sha[]>, sha: Sha): Set<Sha> {
  const out = new Set<Sha>([sha]);
  const stack = [sha];
  while (stack.length > 0) {
    for (const p of parents.get(stack.pop()!) ?? []) {
      if (!out.has(p)) {
        out.add(p);
        stack.push(p);
      }
    }
  }
  return out;
}

/** The first-parent chain from `bad` inside the range, bottom first. */
export function firstParentChain(graph: CommitGraph): Sha[] {
  const chain: Sha[] = [];
  let cur: Sha | undefined = graph.bad;
  while (cur !== undefined && cur in graph.commits && cur !== graph.good) {
    chain.push(cur);
    cur = graph.commits[cur]!.parents[0];
  }
  return chain.reverse();
}

/**
 * The single-culprit oracle: bad(c) ⇔ culprit ∈ ancestorsOrSelf(c). The first bad commit is the
 * culprit itself; following first parents it is the lowest chain commit that is bad (the merge
 * that brought the culprit in, or the culprit when it lies on the chain).
 */
export function expectedCulprit(graph: CommitGraph, culprit: Sha, firstParent: boolean): Sha {
  if (!firstParent) return culprit;
  const bad = descendantsOrSelf(parentMap(graph), culprit);
  const first = firstParentChain(graph).find((c) => bad.has(c));
  if (!first) throw new Error("the culprit does not reach the first-parent chain");
  return first;
}

/** How each run is answered. */
export type RunFn = (sha: Sha, runIndex: number) => Verdict;

export interface SimOptions {
  graph: CommitGraph;
  policy: Policy;
  slots: number;
  run: RunFn;
  /**
   * "rounds": every probe of a decision runs and finishes before the next decide (one round each).
   * "async": up to `slots` runs in flight; after each decision one random in-flight run finishes.
   */
  mode?: "rounds" | "async";
  /** Uniform [0, 1) source for the async completion order. */
  random?: () => number;
  /** Compare every decision with decide() on a shuffled copy of its input. */
  checkDeterminism?: boolean;
  maxSteps?: number;
}

export interface SimResult {
  decision: Done;
  /** Decisions of kind "probe" (one per round in "rounds" mode). */
  rounds: number;
  runs: number;
  observations: Observation[];
}

/** Deterministic PRNG (mulberry32), for reproducible simulations. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(xs: readonly T[], random: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The same input with commits, observations and in-flight runs in another order. */
export function shuffleInput(input: EngineInput, random: () => number): EngineInput {
  const commits: CommitGraph["commits"] = {};
  for (const k of shuffled(Object.keys(input.graph.commits), random)) {
    commits[k] = { parents: [...input.graph.commits[k]!.parents] };
  }
  return {
    graph: { good: input.graph.good, bad: input.graph.bad, commits },
    policy: { ...input.policy },
    observations: shuffled(input.observations, random).map((o) => ({ ...o })),
    inFlight: shuffled(input.inFlight, random),
    slots: input.slots,
  };
}

/** Independent restatement of the per-commit rule, to check the engine's probes against. */
export function ruleState(
  obs: { good: number; bad: number; skip: number; error: number },
  policy: Policy,
): "good" | "bad" | "skipped" | "open" {
  if (obs.skip > 0 || obs.error >= Math.max(1, policy.maxErrorsPerCommit)) return "skipped";
  const n = obs.good + obs.bad;
  if (n < policy.runs) return "open";
  return obs.bad * policy.runs >= policy.failThreshold * n ? "bad" : "good";
}

/**
 * Drives decide() until it is done, answering runs with `run`. Throws when a decision breaks an
 * invariant: more probes than slots, a probe of a decided or skipped commit, more runs of a commit
 * (finished + in flight + planned) than it needs, a "wait" with nothing in flight, a decision that
 * differs on a reordered copy of the same input.
 */
export function simulate(options: SimOptions): SimResult {
  const { graph, policy, slots, run } = options;
  const mode = options.mode ?? "rounds";
  const random = options.random ?? prng(1);
  const maxSteps = options.maxSteps ?? 100_000;
  const observations: Observation[] = [];
  const counts = new Map<
    Sha,
    { good: number; bad: number; skip: number; error: number; runs: number }
  >();
  const countOf = (sha: Sha) => {
    let c = counts.get(sha);
    if (!c) counts.set(sha, (c = { good: 0, bad: 0, skip: 0, error: 0, runs: 0 }));
    return c;
  };
  let inFlight: Sha[] = [];
  let rounds = 0;
  let runs = 0;
  const finish = (sha: Sha) => {
    const c = countOf(sha);
    const verdict = run(sha, c.runs++);
    c[verdict]++;
    runs++;
    observations.push({ sha, verdict });
  };

  for (let step = 0; step < maxSteps; step++) {
    const lanes = policy.verifyEndpoints && policy.overlapEndpoints;
    const free =
      mode === "rounds"
        ? slots
        : slots - inFlight.filter((sha) => !(lanes && isEndpointRun(graph, sha))).length;
    const input: EngineInput = {
      graph,
      policy,
      observations: [...observations],
      inFlight: [...inFlight],
      slots: free,
    };
    const d = decide(input);
    if (options.checkDeterminism) {
      const again = decide(shuffleInput(input, random));
      if (JSON.stringify(again) !== JSON.stringify(d)) {
        throw new Error(
          `decision differs on a reordered input: ${JSON.stringify(d)} vs ${JSON.stringify(again)}`,
        );
      }
    }
    if (d.kind === "done") return { decision: d, rounds, runs, observations };
    if (d.kind === "wait") {
      if (inFlight.length === 0) throw new Error(`"wait" with nothing in flight (slots ${free})`);
    } else {
      // Endpoint runs alongside the probes take no slot: one lane per endpoint.
      const lanes = policy.verifyEndpoints && policy.overlapEndpoints;
      const counted = d.probes.filter((sha) => !(lanes && isEndpointRun(graph, sha))).length;
      if (d.probes.length === 0 || counted > free) {
        throw new Error(`${d.probes.length} probes for ${free} free slots`);
      }
      const confirm = Math.max(policy.runs, policy.confirmRuns ?? policy.runs);
      const planned = new Map<Sha, number>();
      for (const sha of d.probes) planned.set(sha, (planned.get(sha) ?? 0) + 1);
      for (const [sha, k] of planned) {
        const c = countOf(sha);
        const state = ruleState(c, policy);
        // Decided commits are probed again only to confirm disagreeing runs.
        const confirming = confirm > policy.runs && c.good > 0 && c.bad > 0;
        if (state !== "open" && !(confirming && state !== "skipped"))
          throw new Error(`probe of ${sha}, already ${state}`);
        const flying = inFlight.filter((s) => s === sha).length;
        const limit = state === "open" ? policy.runs : confirm;
        if (c.good + c.bad + flying + k > limit) {
          throw new Error(
            `${sha}: ${c.good + c.bad} results + ${flying} in flight + ${k} planned > ${limit} runs`,
          );
        }
        if (lanes && isEndpointRun(graph, sha) && flying + k > 1) {
          throw new Error(`${sha}: ${flying + k} endpoint runs at once, one lane allows 1`);
        }
      }
      rounds++;
      inFlight.push(...d.probes);
    }
    if (mode === "rounds") {
      for (const sha of inFlight) finish(sha);
      inFlight = [];
    } else if (inFlight.length > 0) {
      const i = Math.floor(random() * inFlight.length);
      const [sha] = inFlight.splice(i, 1);
      finish(sha!);
    }
  }
  throw new Error(`no result after ${maxSteps} decisions`);
}

/** Smallest r with base^r ≥ n (0 for n ≤ 1), in integers. */
export function ceilLog(n: number, base: number): number {
  let r = 0;
  for (let p = 1; p < n; p *= base) r++;
  return r;
}
