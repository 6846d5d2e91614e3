// The bisection engine's data: a commit graph, the verdicts seen so far, a policy.
// Everything here is plain data so it can be stored as JSON with a job and recomputed anywhere.

export type Sha = string;

/** The commits of `bad ^good`, each with all of its parents (parents outside the range included). */
export interface CommitGraph {
  /** The good revision (outside the range): its ancestors are assumed good. */
  good: Sha;
  /** The bad revision (inside the range, the tip). */
  bad: Sha;
  /** Every commit in `bad ^good`, keyed by sha, with its parents in git's order (first parent first). */
  commits: Record<Sha, { parents: Sha[] }>;
}

/** What one run of the test command says about one commit. */
export type Verdict = "good" | "bad" | "skip" | "error";

/** One finished run. Several may exist per commit (runs > 1, retries after `error`). */
export interface Observation {
  sha: Sha;
  verdict: Verdict;
  /** Why a run was skipped or errored (timeout, oom, signal, exit 125, infrastructure…). */
  reason?: string;
}

export interface Policy {
  /** Runs per commit (1–5). */
  runs: number;
  /** A commit is bad when at least this many of its `runs` runs fail (1 ≤ m ≤ runs). */
  failThreshold: number;
  /** Follow first parents only (`git bisect --first-parent`). */
  firstParent: boolean;
  /** `error` runs on one commit before it is treated as skipped. */
  maxErrorsPerCommit: number;
  /** Test the good and bad revisions before trusting them. */
  verifyEndpoints: boolean;
  /**
   * Test the endpoints alongside the first probes instead of before them: their runs do not take
   * `slots`; each endpoint gets one lane (at most one of its runs in flight), so a decision may
   * hold up to two runs beyond `slots`. Callers count only non-endpoint runs against their slots
   * (see `isEndpointRun`). Default false.
   */
  overlapEndpoints?: boolean;
  /**
   * Test the endpoints only when the answer rests on them: before a culprit that is the bad
   * revision or whose parent is the good revision (or outside the range) is reported, and before
   * an ambiguous or flaky result — and at once when a run says the command is missing (exit 127
   * or 126: every commit would say the same). A bisection whose endpoints are what the user said
   * then makes the runs `git bisect run` makes; one whose endpoints are wrong ends with the same
   * good-is-bad or bad-is-good answer, later. Default false.
   */
  deferEndpoints?: boolean;
  /**
   * Results wanted on a commit the answer rests on (an endpoint that contradicts the range, the
   * culprit, its reference parents) when its runs disagree, before the answer is given. Default
   * `runs` (no extra runs). The `--flaky` preset sets 15.
   */
  confirmRuns?: number;
  /** Words only: "fix" makes every text say fixed / not yet fixed (bad = fixed). Default "regression". */
  find?: "regression" | "fix";
}

export const defaultPolicy: Policy = {
  runs: 1,
  failThreshold: 1,
  firstParent: false,
  maxErrorsPerCommit: 2,
  verifyEndpoints: true,
};

export interface EngineInput {
  graph: CommitGraph;
  policy: Policy;
  observations: Observation[];
  /** Commits with a run in flight now, one entry per run. */
  inFlight: Sha[];
  /** How many new runs may start now (k ≥ 0). */
  slots: number;
}

export type Outcome = "found" | "ambiguous" | "good-is-bad" | "bad-is-good" | "flaky";

/**
 * What a result is called for people: a `found` decision whose confidence is below
 * FOUND_CONFIDENCE is `likely` (one culprit explains the runs, but the runs it rests on disagree
 * too much to call it sure). See `reportedOutcome`.
 */
export type ReportedOutcome = Outcome | "likely";

/** Below this confidence a single culprit is reported as `likely`, never `found`. */
export const FOUND_CONFIDENCE = 0.9;

/** Whether a run of `sha` is an endpoint check (the good or the bad revision). */
export function isEndpointRun(graph: Pick<CommitGraph, "good" | "bad">, sha: Sha): boolean {
  return sha === graph.good || sha === graph.bad;
}

export type Decision =
  /** Start one run on each listed commit (a sha may repeat when it needs several runs). */
  | { kind: "probe"; probes: Sha[]; candidates: number }
  /** Nothing to start now: wait for the runs in flight. */
  | { kind: "wait"; candidates: number }
  | {
      kind: "done";
      outcome: Outcome;
      /** The first bad commit when `found`. */
      culprit: Sha | null;
      /** Every commit that may be the first bad one (`found`: just the culprit). */
      candidates: Sha[];
      /** 0–1: how strongly the runs support the result (1 with runs = 1 and no disagreement). */
      confidence: number;
      /** A sentence a person can read (it says "likely" when `certain` is false). */
      explanation: string;
      /** false on a `found` whose confidence is below FOUND_CONFIDENCE (then reported `likely`); absent otherwise. */
      certain?: false;
    };

/** The outcome to show: `likely` for a `found` decision that is not certain. */
export function reportedOutcome(d: { outcome: Outcome; certain?: boolean }): ReportedOutcome {
  return d.outcome === "found" && d.certain === false ? "likely" : d.outcome;
}

/**
 * How one run of the test command ended, as far as a verdict depends on it. Every executor's
 * result has this shape; the engine names it itself so it depends on no executor.
 */
export interface RunEnd {
  /** The command's exit code; null when it died by a signal or never ran. */
  exitCode: number | null;
  /** Signal name when the command died by one (SIGKILL after a timeout, OOM…). */
  signal: string | null;
  timedOut: boolean;
  oomKilled: boolean;
  aborted: boolean;
  /** Stopped at (or failed at) its work directory's size limit. */
  diskFull?: boolean;
  /** The tail of the run's output, when it matters (output predicates, disk-full messages). */
  log?: string;
}
