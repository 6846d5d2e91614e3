// Per-commit status from raw runs: one place that turns counts of verdicts into good/bad/skipped/undecided.
import type { Terms } from "./predicate";
import type { Observation, Policy, Sha } from "./types";

/** What the runs seen so far say about one commit. */
export type CommitState =
  /** No run has started or finished (in flight, result or error). */
  | "untested"
  /** Some activity, but fewer than `runs` good/bad results. */
  | "pending"
  | "good"
  | "bad"
  | "skipped";

export interface CommitStatus {
  good: number;
  bad: number;
  skip: number;
  error: number;
  inFlight: number;
  state: CommitState;
}

interface Counts {
  good: number;
  bad: number;
  skip: number;
  error: number;
  inFlight: number;
}

const empty = (): Counts => ({ good: 0, bad: 0, skip: 0, error: 0, inFlight: 0 });
const UNTESTED: CommitStatus = Object.freeze({ ...empty(), state: "untested" });

/**
 * The per-commit rule:
 * - any `skip` run → skipped (the commit cannot be tested: exit 125, timeout, OOM, signal);
 * - `maxErrorsPerCommit` (at least 1) `error` runs → skipped; fewer errors do not count as results;
 * - with n = good + bad ≥ runs results → bad iff bad · runs ≥ failThreshold · n, else good.
 *   With exactly `runs` results this is "bad iff #bad ≥ failThreshold"; extra results (a run
 *   that was started twice) are weighed in proportion rather than dropped;
 * - otherwise undecided ("untested" when nothing happened yet, else "pending").
 * The rule is total: mixed results on one commit never make it undecided, they lower confidence.
 */
export function judge(c: Counts, policy: Policy): CommitState {
  if (c.skip > 0) return "skipped";
  if (c.error >= Math.max(1, policy.maxErrorsPerCommit)) return "skipped";
  const n = c.good + c.bad;
  if (n >= policy.runs) return c.bad * policy.runs >= policy.failThreshold * n ? "bad" : "good";
  return n > 0 || c.inFlight > 0 || c.error > 0 ? "pending" : "untested";
}

/** Statuses of every commit mentioned by an observation or an in-flight run. */
export class StatusBook {
  private readonly counts = new Map<Sha, Counts>();
  private readonly cache = new Map<Sha, CommitStatus>();

  constructor(
    observations: readonly Observation[],
    inFlight: readonly Sha[],
    private readonly policy: Policy,
  ) {
    for (const o of observations) {
      const c = this.entry(o.sha);
      switch (o.verdict) {
        case "good":
          c.good++;
          break;
        case "bad":
          c.bad++;
          break;
        case "skip":
          c.skip++;
          break;
        case "error":
          c.error++;
          break;
        default:
          // A verdict outside the contract is an infrastructure problem, never the commit's fault.
          c.error++;
      }
    }
    for (const sha of inFlight) this.entry(sha).inFlight++;
  }

  private entry(sha: Sha): Counts {
    let c = this.counts.get(sha);
    if (!c) {
      c = empty();
      this.counts.set(sha, c);
    }
    return c;
  }

  get(sha: Sha): CommitStatus {
    let s = this.cache.get(sha);
    if (!s) {
      const c = this.counts.get(sha);
      if (!c) return UNTESTED;
      s = { ...c, state: judge(c, this.policy) };
      this.cache.set(sha, s);
    }
    return s;
  }

  /** Shas with at least one observation or run in flight. */
  shas(): IterableIterator<Sha> {
    return this.counts.keys();
  }
}

export const isDecided = (s: CommitStatus): boolean => s.state === "good" || s.state === "bad";
export const isOpen = (s: CommitStatus): boolean => s.state === "untested" || s.state === "pending";

/** Runs to start now so the commit reaches `runs` results (0 once decided or skipped). */
export function runsNeeded(s: CommitStatus, policy: Policy): number {
  if (!isOpen(s)) return 0;
  return Math.max(0, policy.runs - s.good - s.bad - s.inFlight);
}

/** Share of failing results; `fallback` when the commit has none (its verdict is assumed). */
export function failRatio(s: CommitStatus, fallback = 1): number {
  const n = s.good + s.bad;
  return n === 0 ? fallback : s.bad / n;
}

/** Share of passing results; `fallback` when the commit has none (its verdict is inferred). */
export function passRatio(s: CommitStatus, fallback = 1): number {
  const n = s.good + s.bad;
  return n === 0 ? fallback : s.good / n;
}

/**
 * "fails in 3 of 5 runs"-style summary for explanations. `side` is the engine's verdict counted
 * (bad or good); `terms` gives its verb ("fails" for bad, or "passes" when hunting a fix).
 */
export function describeRuns(
  s: CommitStatus,
  side: "bad" | "good",
  terms: Pick<Terms, "badVerb" | "goodVerb"> = { badVerb: "fails", goodVerb: "passes" },
): string {
  const n = s.good + s.bad;
  const k = side === "bad" ? s.bad : s.good;
  const verb = side === "bad" ? terms.badVerb : terms.goodVerb;
  if (n <= 1) return verb;
  return `${verb} in ${k} of ${n} runs`;
}

/** Runs to start now so the commit reaches `target` results (for confirmation runs of a decided commit). */
export function runsToReach(s: CommitStatus, target: number): number {
  if (s.state === "skipped") return 0;
  return Math.max(0, target - s.good - s.bad - s.inFlight);
}

/** Whether the runs of a commit disagree (some good, some bad). */
export const isMixed = (s: CommitStatus): boolean => s.good > 0 && s.bad > 0;
