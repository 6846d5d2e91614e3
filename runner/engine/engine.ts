// The bisection engine: from a commit range, a policy and the runs seen so far, the next probes or the result.
//
// decide() is pure and deterministic: the same input (in any key or observation order) gives the
// same decision, so a crashed worker that recomputes picks the same commits and reuses their runs.
//
// Terms used below
// - Range: the commits of `bad ^good` (graph.commits) reachable from `bad`; with `firstParent`
//   only the first-parent chain from `bad`. Parents outside the range are assumed good.
// - Status of a commit: see status.ts (`judge`). Decided = good or bad; skipped; or open.
// - Candidate set C (git bisect's): range commits that are ancestors-or-self of every bad commit
//   (the bad revision always counts as bad unless its own runs say good) minus ancestors-or-self
//   of any good commit. C holds at most one bad commit, L ("the lowest bad"), its top.
// - Found: C = {L}. Ambiguous: everything in C besides L is skipped.
// - Flaky: no single first bad commit can explain the decided verdicts, i.e. C is empty. This
//   happens exactly when a commit decided good descends from a commit decided bad (a
//   monotonicity contradiction, typically seen by parallel probes), or when failing commits on
//   different branches share no untested common ancestor; also when the parent outside the range
//   that the culprit is checked against fails although it is an ancestor of the good revision.
//   One commit's mixed runs are not flaky by themselves: the threshold rule always decides
//   (runs = 3, failThreshold = 2 is a majority vote), the disagreement lowers `confidence`.
// - Confidence of `found` = failRatio(culprit) × min over its reference parents of passRatio,
//   where failRatio = bad runs / (good + bad runs) and passRatio = good runs / (good + bad runs);
//   a commit with no results counts 1 (assumed, as git bisect assumes). Reference parents: the
//   culprit's in-range parents, or if it has none its first parent (outside the range, the good
//   revision or one of its ancestors). With runs > 1 the culprit and its reference parents all
//   get their full `runs` before `found` is reported, so a wrong culprit has confidence
//   ≤ (runs − 1)/runs unless every run of some commit it rests on was wrong.
//   With runs = 1 and no contradiction, confidence = 1.
import {
  buildRange,
  candidateSet,
  candidateWeights,
  EngineInputError,
  type RangeGraph,
} from "./graph";
import { selectCandidates } from "./select";
import {
  describeRuns,
  failRatio,
  isOpen,
  passRatio,
  runsNeeded,
  StatusBook,
  type CommitStatus,
} from "./status";
import type { Decision, EngineInput, Outcome, Policy, Sha } from "./types";

export { EngineInputError } from "./graph";

const short = (sha: Sha): string => sha.slice(0, 12);

function listShas(shas: readonly Sha[], max = 10): string {
  const shown = shas.slice(0, max).map(short).join(", ");
  return shas.length > max ? `${shown} and ${shas.length - max} more` : shown;
}

const isInt = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x);

/** Throws EngineInputError unless the policy and slot count are usable. */
export function checkInput(input: EngineInput): void {
  const p = input.policy;
  if (!isInt(p.runs) || p.runs < 1)
    throw new EngineInputError(`policy.runs must be an integer ≥ 1, got ${p.runs}`);
  if (!isInt(p.failThreshold) || p.failThreshold < 1 || p.failThreshold > p.runs) {
    throw new EngineInputError(
      `policy.failThreshold must be an integer in 1..runs, got ${p.failThreshold}`,
    );
  }
  if (!isInt(p.maxErrorsPerCommit) || p.maxErrorsPerCommit < 0) {
    throw new EngineInputError(
      `policy.maxErrorsPerCommit must be an integer ≥ 0, got ${p.maxErrorsPerCommit}`,
    );
  }
  if (!isInt(input.slots) || input.slots < 0) {
    throw new EngineInputError(`slots must be an integer ≥ 0, got ${input.slots}`);
  }
}

/** The runs to start this round, never more than `slots`, never beyond what a commit still needs. */
class Plan {
  readonly probes: Sha[] = [];
  private readonly planned = new Map<Sha, number>();

  constructor(
    private readonly slots: number,
    private readonly book: StatusBook,
    private readonly policy: Policy,
  ) {}

  get remaining(): number {
    return this.slots - this.probes.length;
  }

  /** Plans the runs `sha` still needs (as far as slots allow); returns how many it still lacks. */
  fill(sha: Sha): number {
    const already = this.planned.get(sha) ?? 0;
    const need = runsNeeded(this.book.get(sha), this.policy) - already;
    const take = Math.max(0, Math.min(need, this.remaining));
    for (let i = 0; i < take; i++) this.probes.push(sha);
    if (take > 0) this.planned.set(sha, already + take);
    return need - take;
  }

  /** probe if anything was planned, else wait for the runs in flight. */
  decision(candidates: number): Decision {
    return this.probes.length > 0
      ? { kind: "probe", probes: this.probes, candidates }
      : { kind: "wait", candidates };
  }
}

function done(
  outcome: Outcome,
  culprit: Sha | null,
  candidates: Sha[],
  confidence: number,
  explanation: string,
): Decision {
  return { kind: "done", outcome, culprit, candidates, confidence, explanation };
}

/** A pair (bad ancestor, good descendant) proving a monotonicity contradiction, if any. */
function findContradiction(
  g: RangeGraph,
  state: (i: number) => CommitStatus["state"],
): [number, number] | null {
  const n = g.shas.length;
  const badAncestor = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    if (state(i) === "bad") badAncestor[i] = i;
    else {
      for (let e = g.parentStart[i]!; e < g.parentStart[i + 1]!; e++) {
        const b = badAncestor[g.parents[e]!]!;
        if (b >= 0) {
          badAncestor[i] = b;
          break;
        }
      }
    }
    if (state(i) === "good" && badAncestor[i]! >= 0) return [badAncestor[i]!, i];
  }
  return null;
}

/** Next probes, a wait, or the result. See the header of this file for the exact rules. */
export function decide(input: EngineInput): Decision {
  checkInput(input);
  const { graph, policy } = input;
  const g = buildRange(graph, policy.firstParent);
  const book = new StatusBook(input.observations, input.inFlight, policy);
  const plan = new Plan(input.slots, book, policy);
  const n = g.shas.length;
  const stateOf = (i: number): CommitStatus["state"] => book.get(g.shas[i]!).state;

  // 1. The endpoints: a failing good revision or a passing bad one dominates everything else.
  const goodSt = book.get(graph.good);
  const badSt = book.get(graph.bad);
  if (goodSt.state === "bad") {
    const also =
      badSt.state === "good"
        ? `, and the bad revision ${short(graph.bad)} ${describeRuns(badSt, "pass")}`
        : "";
    return done(
      "good-is-bad",
      null,
      [],
      failRatio(goodSt),
      `The good revision ${short(graph.good)} ${describeRuns(goodSt, "fail")}${also}: the failure is older than the range, so there is nothing to bisect. Choose an older good revision.`,
    );
  }
  if (badSt.state === "good") {
    return done(
      "bad-is-good",
      null,
      [],
      passRatio(badSt),
      `The bad revision ${short(graph.bad)} ${describeRuns(badSt, "pass")}: the failure does not reproduce there, so there is nothing to bisect. Check the command and the bad revision.`,
    );
  }
  const endpointsPending = policy.verifyEndpoints && (isOpen(goodSt) || isOpen(badSt));
  if (policy.verifyEndpoints) {
    plan.fill(graph.good);
    plan.fill(graph.bad);
  }
  const notes: string[] = [];
  if (goodSt.state === "skipped")
    notes.push(`The good revision ${short(graph.good)} could not be tested; it was assumed good.`);
  if (badSt.state === "skipped")
    notes.push(`The bad revision ${short(graph.bad)} could not be tested; it was assumed bad.`);
  const withNotes = (s: string): string => [s, ...notes].join(" ");

  // 2. The candidate set.
  const bads: number[] = [g.tip];
  const goods: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = stateOf(i);
    if (s === "bad" && i !== g.tip) bads.push(i);
    else if (s === "good") goods.push(i);
  }
  const inC = candidateSet(g, bads, goods);
  const memberList: number[] = [];
  for (let i = 0; i < n; i++) if (inC[i]) memberList.push(i);
  const members = Int32Array.from(memberList);
  const size = members.length;

  if (size === 0) {
    if (endpointsPending) return plan.decision(0);
    const pair = findContradiction(g, stateOf);
    let why: string;
    if (pair) {
      const [b, c] = pair;
      const bs = book.get(g.shas[b]!);
      const cs = book.get(g.shas[c]!);
      why = `${short(g.shas[b]!)} ${describeRuns(bs, "fail")} but its descendant ${short(g.shas[c]!)} ${describeRuns(cs, "pass")}`;
    } else {
      const failing = bads
        .filter((i) => i !== g.tip || stateOf(i) === "bad")
        .map((i) => g.shas[i]!);
      why = `the failing commits ${listShas(failing)} have no common ancestor in the range that could be the first bad commit (the failure may have been introduced more than once)`;
    }
    return done(
      "flaky",
      null,
      [],
      0,
      withNotes(
        `The results contradict each other: ${why}. The test looks flaky; consider more runs per commit.`,
      ),
    );
  }

  let lowest = -1; // position in members of L
  for (let j = 0; j < size; j++) {
    const i = members[j]!;
    if (i === g.tip || stateOf(i) === "bad") lowest = j;
  }
  const open: number[] = []; // positions in members
  for (let j = 0; j < size; j++)
    if (j !== lowest && isOpen(book.get(g.shas[members[j]!]!))) open.push(j);

  // 3. Nothing left to test in C: found or ambiguous.
  if (open.length === 0) {
    const candidateShas = Array.from(members, (i) => g.shas[i]!);
    if (lowest >= 0 && size === 1)
      return found(g, members[lowest]!, plan, book, input, endpointsPending, notes);
    if (endpointsPending) return plan.decision(size);
    const skipped = candidateShas.filter((_, j) => j !== lowest);
    const lowSha = lowest >= 0 ? g.shas[members[lowest]!]! : null;
    const lead = lowSha
      ? `The first bad commit could be any of ${size} commits: ${short(lowSha)} (bad) or the skipped ${listShas(skipped)}, which could not be tested.`
      : `The first bad commit could be any of the ${size} skipped commits ${listShas(skipped)}, which could not be tested.`;
    return done(
      "ambiguous",
      null,
      candidateShas,
      lowSha ? failRatio(book.get(lowSha)) : 1,
      withNotes(lead),
    );
  }

  // 4. Probe: finish commits already started, then choose fresh ones that split C evenly.
  const started: number[] = [];
  const fresh: number[] = [];
  for (const j of open)
    (book.get(g.shas[members[j]!]!).state === "untested" ? fresh : started).push(j);
  for (const j of started) plan.fill(g.shas[members[j]!]!);
  const count = Math.ceil(plan.remaining / policy.runs);
  if (count > 0 && fresh.length > 0) {
    const weight = candidateWeights(g, members);
    const chosen = selectCandidates({
      size,
      occupied: started.map((j) => weight[j]!),
      freshWeights: fresh.map((j) => weight[j]!),
      freshRank: fresh,
      count,
    });
    for (const f of chosen) plan.fill(g.shas[members[fresh[f]!]!]!);
  }
  return plan.decision(size);
}

/** C = {L}: make sure the culprit and its reference parents are measured, then report. */
function found(
  g: RangeGraph,
  node: number,
  plan: Plan,
  book: StatusBook,
  input: EngineInput,
  endpointsPending: boolean,
  notes: string[],
): Decision {
  const { graph, policy } = input;
  const culprit = g.shas[node]!;
  const refs: Sha[] = [];
  for (let e = g.parentStart[node]!; e < g.parentStart[node + 1]!; e++)
    refs.push(g.shas[g.parents[e]!]!);
  const boundary = refs.length === 0 ? (g.firstParent[node] ?? null) : null;
  if (boundary !== null) refs.push(boundary);

  let incomplete = false;
  if (policy.runs > 1) {
    for (const sha of [culprit, ...refs]) {
      plan.fill(sha);
      if (isOpen(book.get(sha))) incomplete = true;
    }
  }
  if (incomplete || endpointsPending) return plan.decision(1);

  if (boundary !== null && boundary !== graph.good && book.get(boundary).state === "bad") {
    return done(
      "flaky",
      null,
      [],
      0,
      [
        `The results contradict each other: ${short(boundary)}, the parent of ${short(culprit)} outside the range, ${describeRuns(book.get(boundary), "fail")}, yet it is an ancestor of the good revision, which is taken as good. The test looks flaky; consider more runs per commit.`,
        ...notes,
      ].join(" "),
    );
  }

  const cs = book.get(culprit);
  let parentPass = 1;
  const parts: string[] = [];
  for (const sha of refs) {
    const s = book.get(sha);
    parentPass = Math.min(parentPass, passRatio(s));
    const inRange = g.index.has(sha);
    const tested = s.good + s.bad > 0;
    const label = sha === graph.good ? `the good revision ${short(sha)}` : short(sha);
    if (tested) parts.push(`${label} ${describeRuns(s, "pass")}`);
    else if (inRange) parts.push(`${label} is good (an ancestor of a passing commit)`);
    else if (sha === graph.good) parts.push(`${label} is assumed good`);
    else parts.push(`${label} is assumed good (an ancestor of the good revision)`);
  }
  const culpritPart =
    cs.good + cs.bad > 0
      ? `it ${describeRuns(cs, "fail")}`
      : "it is the bad revision (assumed bad, not tested)";
  const parentPart =
    refs.length === 0
      ? "it has no parent (a root commit)"
      : `${refs.length === 1 ? "its parent" : "its parents"} ${parts.join("; ")}`;
  return done(
    "found",
    culprit,
    [culprit],
    failRatio(cs) * parentPass,
    [
      `${short(culprit)} is the first bad commit: ${culpritPart}, and ${parentPart}.`,
      ...notes,
    ].join(" "),
  );
}
