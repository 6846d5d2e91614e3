// `/bisect verify`: a follow-up job that re-runs a finished job's culprit and its parent R times
// each (R = max(5, the job's runs)) and measures how often each fails. It is admitted like any
// job (admitJob: plan, quota, audit) and prepared like one (its range is parent..culprit); its
// advance queues the runs itself instead of asking the engine, and its result is shown in the
// checked job's status comment.
import type { Knex } from "knex";
import { BisectJob, BisectStep, type VerifyTarget } from "../../db/models";
import { FOUND_CONFIDENCE, termsOf, type CommitGraph } from "../../runner/engine";
import { enqueue } from "../catalog";
import { concludeJob } from "./conclude";
import { notifyJobChanged } from "./notify";
import { parallelismOf } from "./policy";
import { predicateOfJob } from "./predicate";

export const VERIFY_MIN_RUNS = 5;

/** What a verification of `job` re-runs, or why it cannot be verified. */
export function verifyTargetOf(
  job: Pick<BisectJob, "id" | "status" | "outcome" | "culpritSha" | "graph" | "options">,
): VerifyTarget | string {
  if (job.options.verify) return "it is itself a verification; verify the bisection it checked";
  if (
    job.status !== "finished" ||
    (job.outcome !== "found" && job.outcome !== "likely") ||
    !job.culpritSha
  )
    return "only a bisection that named one commit can be verified";
  const graph = job.graph as CommitGraph | null;
  const parent = graph?.commits[job.culpritSha]?.parents[0];
  if (!parent) return "the parent of its commit is not known";
  return {
    jobId: job.id,
    culprit: job.culpritSha,
    parent,
    runs: Math.max(VERIFY_MIN_RUNS, predicateOfJob(job).runs),
  };
}

export interface Tally {
  /** Runs counted bad / good (skips and errors are neither). */
  bad: number;
  good: number;
  skip: number;
  error: number;
}

export interface Measurement {
  culprit: Tally;
  parent: Tally;
  /** Share of the culprit's counted runs that are bad × share of the parent's that are good. */
  confidence: number;
}

const rate = (t: Tally) => (t.bad + t.good === 0 ? null : t.bad / (t.bad + t.good));

/** `found`: confirmed; `likely`: the commit is bad more often than its parent; `flaky`: not confirmed. */
export function outcomeOf(m: Measurement): "found" | "likely" | "flaky" {
  if (m.confidence >= FOUND_CONFIDENCE) return "found";
  const c = rate(m.culprit);
  const p = rate(m.parent);
  return c !== null && p !== null && c > p ? "likely" : "flaky";
}

export function tally(steps: Pick<BisectStep, "sha" | "status" | "verdict">[], sha: string): Tally {
  const t: Tally = { bad: 0, good: 0, skip: 0, error: 0 };
  for (const s of steps) if (s.sha === sha && s.status === "done" && s.verdict) t[s.verdict]++;
  return t;
}

export function measure(
  steps: Pick<BisectStep, "sha" | "status" | "verdict">[],
  target: VerifyTarget,
): Measurement {
  const culprit = tally(steps, target.culprit);
  const parent = tally(steps, target.parent);
  const share = (x: number, n: number) => (n === 0 ? 0 : x / n);
  return {
    culprit,
    parent,
    confidence:
      share(culprit.bad, culprit.bad + culprit.good) * share(parent.good, parent.bad + parent.good),
  };
}

/** The sentence a verification ends with, in the job's words (fixed / not yet fixed for a fix). */
export function describeMeasurement(
  m: Measurement,
  target: VerifyTarget,
  find: "regression" | "fix",
): string {
  const t = termsOf(find);
  const side = (name: string, sha: string, x: Tally) => {
    const counted = x.bad + x.good;
    const extra = [
      x.skip ? `${x.skip} untestable` : "",
      x.error ? `${x.error} lost to infrastructure errors` : "",
    ]
      .filter(Boolean)
      .join(", ");
    return `${name} ${sha.slice(0, 7)} was ${t.bad} in ${x.bad} of ${counted} run${counted === 1 ? "" : "s"}${extra ? ` (${extra})` : ""}`;
  };
  const verdict =
    m.confidence >= FOUND_CONFIDENCE
      ? `confirmed as the ${t.first}`
      : outcomeOf(m) === "likely"
        ? `likely the ${t.first}, but not sure`
        : "not confirmed";
  return `${side("The commit", target.culprit, m.culprit)}; ${side("its parent", target.parent, m.parent)}. Confidence ${Math.round(m.confidence * 100)}%: ${verdict}.`;
}

/** The advance of a verification job: queue the missing runs, or conclude with the measurement. */
export async function advanceVerify(
  trx: Knex.Transaction,
  job: BisectJob,
  steps: BisectStep[],
): Promise<void> {
  const target = job.options.verify!;
  const shas = [target.culprit, target.parent];
  const open = (sha: string) =>
    steps.filter((s) => s.sha === sha && (s.status === "queued" || s.status === "running")).length;
  // Infrastructure errors are retried, up to as many extra attempts as runs.
  const missing = (sha: string) => {
    const t = tally(steps, sha);
    if (t.error >= target.runs) return 0;
    return Math.max(0, target.runs - (t.bad + t.good + t.skip) - open(sha));
  };
  const inFlight = shas.reduce((n, sha) => n + open(sha), 0);
  let free = Math.max(0, parallelismOf(job) - inFlight);
  const wanted = new Map(shas.map((sha) => [sha, missing(sha)]));
  const probes: string[] = [];
  while (free > 0 && [...wanted.values()].some((n) => n > 0)) {
    for (const sha of shas) {
      if (free > 0 && wanted.get(sha)! > 0) {
        probes.push(sha);
        wanted.set(sha, wanted.get(sha)! - 1);
        free--;
      }
    }
  }
  if (probes.length > 0) {
    const round = job.rounds + 1;
    const attempts = new Map(shas.map((sha) => [sha, steps.filter((s) => s.sha === sha).length]));
    for (const sha of probes) {
      const attempt = attempts.get(sha)! + 1;
      attempts.set(sha, attempt);
      const step = await BisectStep.query(trx)
        .insert({ bisectJobId: job.id, sha, round, attempt, status: "queued" })
        .returning("*");
      await enqueue(trx, "bisect__step", { stepId: step.id });
    }
    await BisectJob.query(trx).patch({ rounds: round }).where({ id: job.id });
    await notifyJobChanged(trx, job);
    return;
  }
  if (inFlight > 0 || shas.some((sha) => missing(sha) > 0)) return;

  const m = measure(steps, target);
  const find = predicateOfJob(job).find;
  const explanation = describeMeasurement(m, target, find);
  if (m.culprit.bad + m.culprit.good === 0 || m.parent.bad + m.parent.good === 0) {
    await concludeJob(trx, job, {
      status: "failed",
      outcome: "error",
      error: `Not enough runs could be counted. ${explanation}`,
      explanation,
    });
    return;
  }
  await concludeJob(trx, job, {
    status: "finished",
    outcome: outcomeOf(m),
    culpritSha: target.culprit,
    candidates: [target.culprit],
    confidence: m.confidence,
    explanation,
  });
}
