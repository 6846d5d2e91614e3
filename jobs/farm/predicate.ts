// A job's predicate: what its runs mean (crash, timeout, output, find fix, runs and threshold).
// Jobs stored before predicates existed carry only runs / failThreshold: they get the defaults.
import type { BisectJob, BisectStep, JobPredicate } from "../../db/models";
import { normalizePredicate, type Predicate } from "../../runner/engine";

export function predicateOfJob(job: Pick<BisectJob, "options">): Predicate {
  const { predicate, runs, failThreshold } = job.options;
  if (predicate) {
    // A normalised flaky predicate carries the preset's runs and threshold: the preset sets them.
    const { runs: _r, failThreshold: _t, ...rest } = predicate;
    return normalizePredicate(predicate.flaky ? rest : predicate);
  }
  const r = Math.min(Math.max(runs ?? 1, 1), 5);
  return normalizePredicate({
    runs: r,
    failThreshold: Math.min(Math.max(failThreshold ?? 1, 1), r),
  });
}

/** The form stored in a job's options (the same shape: the compiler checks they stay alike). */
export function storedPredicate(p: Predicate): JobPredicate {
  return p;
}

/**
 * The environment of a run: BISECT_RUN says which run of this commit it is (1, 2, …), so a test
 * can seed its randomness per run and a flaky failure can be reproduced.
 */
export function runEnv(step: Pick<BisectStep, "attempt">): Record<string, string> {
  return { BISECT_RUN: String(step.attempt) };
}
