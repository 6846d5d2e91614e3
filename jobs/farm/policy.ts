// A job's options → the engine's policy and the limits of one run.
import type { Config } from "../../config/env";
import type { BisectJob } from "../../db/models";
import {
  defaultPolicy,
  isEndpointRun,
  policyOfPredicate,
  type CommitGraph,
  type Policy,
} from "../../runner/engine";
import type { Limits } from "../../runner/executors/types";
import { predicateOfJob } from "./predicate";

/**
 * The job's predicate (runs, fail threshold, confirmation runs, find) and first-parent choice.
 * The endpoints are checked alongside the first probes, each in its own lane beyond `--parallel`.
 */
export function policyOf(job: Pick<BisectJob, "options">): Policy {
  return {
    ...defaultPolicy,
    ...policyOfPredicate(predicateOfJob(job)),
    firstParent: job.options.firstParent ?? false,
    overlapEndpoints: true,
  };
}

/** Runs in flight that count against the job's parallelism: endpoint checks have their own lanes. */
export function slottedInFlight(graph: CommitGraph, inFlight: string[]): number {
  return inFlight.filter((sha) => !isEndpointRun(graph, sha)).length;
}

export function limitsOf(config: Config): Limits {
  return {
    memoryBytes: config.RUNNER_MEMORY_MB * 1024 * 1024,
    nanoCpus: Math.round(config.RUNNER_CPUS * 1e9),
    pids: config.RUNNER_PIDS,
    workBytes: config.RUNNER_WORK_MB * 1024 * 1024,
  };
}

/** Seconds one run may take: the job's choice, never above the operator's limit. */
export function stepTimeoutSeconds(config: Config, job: Pick<BisectJob, "options">): number {
  return Math.min(
    job.options.timeoutSeconds ?? config.RUNNER_STEP_TIMEOUT_SECONDS,
    config.RUNNER_STEP_TIMEOUT_SECONDS,
  );
}

/** Runs in flight at once for the job. */
export function parallelismOf(job: Pick<BisectJob, "options">): number {
  return Math.max(1, Math.min(job.options.parallel ?? 1, 16));
}
