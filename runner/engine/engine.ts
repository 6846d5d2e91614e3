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
import { buildRange, candidatesOf, EngineInputError, type RangeGraph } from "./graph";
import { selectCandidates } from "./select";
import { termsOf, type Terms } from "./predicate";
import {
  describeRuns,
  failRatio,
  isMixed,
  isOpen,
  passRatio,
  runsNeeded,
  runsToReach,
  StatusBook,
  type CommitStatus,
} from "./status";
import {
  FOUND_CONFIDENCE,
  isEndpointRun,
  type Decision,
  type EngineInput,
  type Observation,
  type Outcome,
  type Policy,
  type Sha,
} from "./types";

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
  if (p.confirmRuns !== undefined && (!isInt(p.confirmRuns) || p.confirmRuns < 1)) {
    throw new EngineInputError(`policy.confirmRuns must be an integer ≥ 1, got ${p.confirmRuns}`);
  }
  if (!isInt(input.slots) || input.slots < 0) {
    throw new EngineInputError(`slots must be an integer ≥ 0, got ${input.slots}`);
  }
}

/**
 * The runs to start this round, never more than `slots` (endpoint runs with `overlapEndpoints`
 * excepted: one lane each), never beyond what a commit still needs.
 */
class Plan {
  readonly probes: Sha[] = [];
  private readonly planned = new Map<Sha, number>();
  private used = 0;

  constructor(
    private readonly slots: number,
    private readonly book: StatusBook,
    private readonly policy: Policy,
    private readonly graph: EngineInput["graph"],
  ) {}

  get remaining(): number {
    return this.slots - this.used;
  }

  private onLane(sha: Sha): boolean {
    return (
      this.policy.verifyEndpoints &&
      !!this.policy.overlapEndpoints &&
      isEndpointRun(this.graph, sha)
    );
  }

  /**
   * Plans the runs `sha` still needs to reach `runs` results, or `target` results when given
   * (confirmation runs), as far as slots allow; returns how many it still lacks.
   */
  fill(sha: Sha, target?: number): number {
    const already = this.planned.get(sha) ?? 0;
    const s = this.book.get(sha);
    const need =
      (target === undefined ? runsNeeded(s, this.policy) : runsToReach(s, target)) - already;
    const lane = this.onLane(sha);
    const room = lane ? 1 - s.inFlight - already : this.remaining;
    const take = Math.max(0, Math.min(need, room));
    for (let i = 0; i < take; i++) this.probes.push(sha);
    if (take > 0) this.planned.set(sha, already + take);
    if (!lane) this.used += take;
    return need - take;
  }

  /** probe if anything was planned, else wait for the runs in flight. */
  decision(candidates: number): Decision {
    return this.probes.length > 0
      ? { kind: "probe", probes: this.probes, candidates }
      : { kind: "wait", candidates };
  }
}

/** Results wanted on a commit the answer rests on when its runs disagree. */
const confirmTarget = (policy: Policy): number =>
  Math.max(policy.runs, policy.confirmRuns ?? policy.runs);

/** Decided, but its runs disagree and it has fewer than the confirmation target. */
const needsConfirmation = (s: CommitStatus, policy: Policy): boolean =>
  confirmTarget(policy) > policy.runs &&
  isMixed(s) &&
  (s.state === "good" || s.state === "bad") &&
  s.good + s.bad < confirmTarget(policy);

/** Some run ended with exit 127 or 126: the command is missing where the tests run. */
const commandMissing = (observations: readonly Observation[]): boolean =>
  observations.some((o) => /\bexit 12[67]\b/.test(o.reason ?? ""));

/**
 * A plain hint when every counted run of an endpoint ended with exit 127 or 126: the command is
 * missing or not executable where it runs, so every commit would say the same and moving the
 * range would not help.
 */
function commandHint(observations: readonly Observation[], sha: Sha): string | null {
  const reasons = observations
    .filter((o) => o.sha === sha && (o.verdict === "good" || o.verdict === "bad"))
    .map((o) => o.reason ?? "");
  if (reasons.length === 0) return null;
  if (reasons.every((r) => /\bexit 127\b/.test(r)))
    return "Every run ended with exit 127 (command not found): the command does not exist where the test runs, so every commit would answer the same. Run it in an image that has the command, or check its spelling and PATH.";
  if (reasons.every((r) => /\bexit 126\b/.test(r)))
    return "Every run ended with exit 126 (found but not executable): make the script executable (chmod +x, committed) or run it through its interpreter, e.g. sh ./test.sh.";
  return null;
}

function done(
  outcome: Outcome,
  culprit: Sha | null,
  candidates: Sha[],
  confidence: number,
  explanation: string,
  certain = true,
): Decision {
  return {
    kind: "done",
    outcome,
    culprit,
    candidates,
    confidence,
    explanation,
    ...(certain ? {} : { certain: false as const }),
  };
}

/** Commit states as small integers, so a million-node range is one byte per node. */
const STATES: readonly CommitStatus["state"][] = ["untested", "pending", "good", "bad", "skipped"];
const [UNTESTED, PENDING, GOOD, BAD, SKIPPED] = [0, 1, 2, 3, 4] as const;
const STATE_CODE: Record<CommitStatus["state"], number> = {
  untested: UNTESTED,
  pending: PENDING,
  good: GOOD,
  bad: BAD,
  skipped: SKIPPED,
};

/** A pair (bad ancestor, good descendant) proving a monotonicity contradiction, if any. */
function findContradiction(
  g: RangeGraph,
  state: (i: number) => CommitStatus["state"],
): [number, number] | null {
  const n = g.n;
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
  const plan = new Plan(input.slots, book, policy, graph);
  const terms = termsOf(policy.find);
  const n = g.n;
  // Node states, from the few commits that have runs (every other node is untested).
  const code = new Uint8Array(n);
  for (const sha of book.shas()) {
    const i = g.find(sha);
    if (i >= 0) code[i] = STATE_CODE[book.get(sha).state];
  }
  const stateOf = (i: number): CommitStatus["state"] => STATES[code[i]!]!;

  // 1. The endpoints: a failing good revision or a passing bad one dominates everything else,
  //    once its runs are confirmed when they disagree.
  const goodSt = book.get(graph.good);
  const badSt = book.get(graph.bad);
  let confirming = false;
  if (goodSt.state === "bad" && needsConfirmation(goodSt, policy)) {
    plan.fill(graph.good, confirmTarget(policy));
    confirming = true;
  } else if (goodSt.state === "bad") {
    const also =
      badSt.state === "good"
        ? `, and the ${terms.badRevision} ${short(graph.bad)} ${describeRuns(badSt, "good", terms)}`
        : "";
    const hint = commandHint(input.observations, graph.good);
    const lead = `The ${terms.goodRevision} ${short(graph.good)} ${describeRuns(goodSt, "bad", terms)}${also}`;
    return done(
      "good-is-bad",
      null,
      [],
      failRatio(goodSt),
      hint
        ? `${lead}. ${hint}`
        : policy.find === "fix"
          ? `${lead}: it is already fixed there, so the fix is older than the range and there is nothing to bisect. Choose an older revision where it is not yet fixed.`
          : `${lead}: the failure is older than the range, so there is nothing to bisect. Choose an older good revision.`,
    );
  }
  if (badSt.state === "good" && needsConfirmation(badSt, policy)) {
    plan.fill(graph.bad, confirmTarget(policy));
    confirming = true;
  } else if (badSt.state === "good" && !confirming) {
    const hint = commandHint(input.observations, graph.bad);
    const lead = `The ${terms.badRevision} ${short(graph.bad)} ${describeRuns(badSt, "good", terms)}`;
    return done(
      "bad-is-good",
      null,
      [],
      passRatio(badSt),
      hint
        ? `${lead}. ${hint}`
        : policy.find === "fix"
          ? `${lead}: it is not fixed there, so there is nothing to bisect. Check the command and the new revision.`
          : `${lead}: the failure does not reproduce there, so there is nothing to bisect. Check the command and the bad revision.`,
    );
  }
  // Deferred endpoints are tested once an answer rests on them (`rests`), or at once when the
  // command is missing.
  const deferred =
    policy.verifyEndpoints && !!policy.deferEndpoints && !commandMissing(input.observations);
  const verifyNow = policy.verifyEndpoints && !deferred;
  const endpointsPending = confirming || (verifyNow && (isOpen(goodSt) || isOpen(badSt)));
  if (verifyNow) {
    plan.fill(graph.good);
    plan.fill(graph.bad);
  }
  /** Before an answer that rests on these endpoints: their runs planned; true while any is open. */
  const rests = (shas: readonly Sha[]): boolean => {
    if (!deferred) return false;
    let open = false;
    for (const sha of shas)
      if (isOpen(book.get(sha))) {
        plan.fill(sha);
        open = true;
      }
    return open;
  };
  const notes: string[] = [];
  if (goodSt.state === "skipped")
    notes.push(
      `The ${terms.goodRevision} ${short(graph.good)} could not be tested; it was assumed ${terms.good}.`,
    );
  if (badSt.state === "skipped")
    notes.push(
      `The ${terms.badRevision} ${short(graph.bad)} could not be tested; it was assumed ${terms.bad}.`,
    );
  const withNotes = (s: string): string => [s, ...notes].join(" ");

  // 2. The candidate set.
  const bads: number[] = [g.tip];
  const goods: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = code[i]!;
    if (s === BAD && i !== g.tip) bads.push(i);
    else if (s === GOOD) goods.push(i);
  }
  const { members, weights } = candidatesOf(g, bads, goods);
  const size = members.length;

  if (size === 0) {
    if (endpointsPending || rests([graph.good, graph.bad])) return plan.decision(0);
    const pair = findContradiction(g, stateOf);
    let why: string;
    if (pair) {
      const [b, c] = pair;
      const bs = book.get(g.sha(b));
      const cs = book.get(g.sha(c));
      why = `${short(g.sha(b))} ${describeRuns(bs, "bad", terms)} but its descendant ${short(g.sha(c))} ${describeRuns(cs, "good", terms)}`;
    } else {
      const failing = bads.filter((i) => i !== g.tip || stateOf(i) === "bad").map((i) => g.sha(i));
      why =
        policy.find === "fix"
          ? `the fixed commits ${listShas(failing)} have no common ancestor in the range that could be the ${terms.first} (the fix may have been made more than once)`
          : `the failing commits ${listShas(failing)} have no common ancestor in the range that could be the first bad commit (the failure may have been introduced more than once)`;
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
    if (i === g.tip || code[i] === BAD) lowest = j;
  }
  // Positions in members of open commits: the started ones, and the fresh (untested) ones.
  const started: number[] = [];
  let freshCount = 0;
  for (let j = 0; j < size; j++) {
    if (j === lowest) continue;
    const c = code[members[j]!]!;
    if (c === UNTESTED) freshCount++;
    else if (c === PENDING) started.push(j);
  }
  const fresh = new Int32Array(freshCount);
  for (let j = 0, f = 0; j < size; j++)
    if (j !== lowest && code[members[j]!] === UNTESTED) fresh[f++] = j;

  // 3. Nothing left to test in C: found or ambiguous.
  if (started.length + fresh.length === 0) {
    const candidateShas = Array.from(members, (i) => g.sha(i));
    if (lowest >= 0 && size === 1)
      return found(g, members[lowest]!, plan, book, input, endpointsPending, rests, notes, terms);
    if (endpointsPending || rests([graph.good, graph.bad])) return plan.decision(size);
    const skipped = candidateShas.filter((_, j) => j !== lowest);
    const lowSha = lowest >= 0 ? g.sha(members[lowest]!) : null;
    const lead = lowSha
      ? `The ${terms.first} could be any of ${size} commits: ${short(lowSha)} (${terms.bad}) or the skipped ${listShas(skipped)}, which could not be tested.`
      : `The ${terms.first} could be any of the ${size} skipped commits ${listShas(skipped)}, which could not be tested.`;
    return done(
      "ambiguous",
      null,
      candidateShas,
      lowSha ? failRatio(book.get(lowSha)) : 1,
      withNotes(lead),
    );
  }

  // 4. Probe: finish commits already started, then choose fresh ones that split C evenly.
  for (const j of started) plan.fill(g.sha(members[j]!));
  const count = Math.ceil(plan.remaining / policy.runs);
  if (count > 0 && fresh.length > 0) {
    const weight = weights();
    const skipped: number[] = [];
    for (let j = 0; j < size; j++)
      if (j !== lowest && code[members[j]!] === SKIPPED) skipped.push(j);
    const freshWeights = new Int32Array(fresh.length);
    for (let f = 0; f < fresh.length; f++) freshWeights[f] = weight[fresh[f]!]!;
    const chosen = selectCandidates({
      size,
      occupied: started.map((j) => weight[j]!),
      freshWeights,
      freshRank: fresh,
      count,
      avoid: skipped.map((j) => weight[j]!),
    });
    for (const f of chosen) plan.fill(g.sha(members[fresh[f]!]!));
  }
  return plan.decision(size);
}

/**
 * C = {L}: make sure the culprit and its reference parents are measured (and confirmed when their
 * runs disagree), then report `found`, or `likely` when the confidence is below FOUND_CONFIDENCE.
 */
function found(
  g: RangeGraph,
  node: number,
  plan: Plan,
  book: StatusBook,
  input: EngineInput,
  endpointsPending: boolean,
  rests: (endpoints: readonly Sha[]) => boolean,
  notes: string[],
  terms: Terms,
): Decision {
  const { graph, policy } = input;
  const culprit = g.sha(node);
  const refs: Sha[] = [];
  for (let e = g.parentStart[node]!; e < g.parentStart[node + 1]!; e++)
    refs.push(g.sha(g.parents[e]!));
  const boundary = refs.length === 0 ? g.firstParent(node) : null;
  if (boundary !== null) refs.push(boundary);

  let incomplete = false;
  if (policy.runs > 1) {
    for (const sha of [culprit, ...refs]) {
      plan.fill(sha);
      if (isOpen(book.get(sha))) incomplete = true;
      else if (needsConfirmation(book.get(sha), policy)) {
        plan.fill(sha, confirmTarget(policy));
        incomplete = true;
      }
    }
  }
  // The answer rests on the bad revision when it is the culprit, and on the good one when the
  // culprit's parent is outside the range (assumed good as the good revision's ancestor).
  const restsOn = [
    ...(culprit === graph.bad ? [graph.bad] : []),
    ...(boundary !== null ? [graph.good] : []),
  ];
  if (rests(restsOn) || incomplete || endpointsPending) return plan.decision(1);

  if (boundary !== null && boundary !== graph.good && book.get(boundary).state === "bad") {
    return done(
      "flaky",
      null,
      [],
      0,
      [
        `The results contradict each other: ${short(boundary)}, the parent of ${short(culprit)} outside the range, ${describeRuns(book.get(boundary), "bad", terms)}, yet it is an ancestor of the ${terms.goodRevision}, which is taken as ${terms.good}. The test looks flaky; consider more runs per commit.`,
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
    const inRange = g.find(sha) >= 0;
    const tested = s.good + s.bad > 0;
    const label = sha === graph.good ? `the ${terms.goodRevision} ${short(sha)}` : short(sha);
    if (tested) parts.push(`${label} ${describeRuns(s, "good", terms)}`);
    else if (inRange)
      parts.push(`${label} is ${terms.good} (an ancestor of a ${terms.good} commit)`);
    else if (sha === graph.good) parts.push(`${label} is assumed ${terms.good}`);
    else parts.push(`${label} is assumed ${terms.good} (an ancestor of the ${terms.goodRevision})`);
  }
  const culpritPart =
    cs.good + cs.bad > 0
      ? `it ${describeRuns(cs, "bad", terms)}`
      : `it is the ${terms.badRevision} (assumed ${terms.bad}, not tested)`;
  const parentPart =
    refs.length === 0
      ? "it has no parent (a root commit)"
      : `${refs.length === 1 ? "its parent" : "its parents"} ${parts.join("; ")}`;
  const confidence = failRatio(cs) * parentPass;
  if (confidence < FOUND_CONFIDENCE) {
    return done(
      "found",
      culprit,
      [culprit],
      confidence,
      [
        `${short(culprit)} is likely the ${terms.first}, but not surely: ${culpritPart}, and ${parentPart} (confidence ${confidence.toFixed(2)}, below ${FOUND_CONFIDENCE}). More runs of ${short(culprit)} and its parent would settle it.`,
        ...notes,
      ].join(" "),
      false,
    );
  }
  return done(
    "found",
    culprit,
    [culprit],
    confidence,
    [`${short(culprit)} is the ${terms.first}: ${culpritPart}, and ${parentPart}.`, ...notes].join(
      " ",
    ),
  );
}
