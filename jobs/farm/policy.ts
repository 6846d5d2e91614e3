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

export interface RunResources {
  memoryMb: number;
  cpus: number;
  workMb: number;
}

/**
 * What one run gets: the plan's resources, never above the runner's own (RUNNER_MEMORY_MB,
 * RUNNER_CPUS, RUNNER_WORK_MB), which bound every plan; without a plan, the runner's.
 */
export function runResources(
  config: Pick<Config, "RUNNER_MEMORY_MB" | "RUNNER_CPUS" | "RUNNER_WORK_MB">,
  plan?: RunResources,
): RunResources {
  return {
    memoryMb: Math.min(plan?.memoryMb ?? Infinity, config.RUNNER_MEMORY_MB),
    cpus: Math.min(plan?.cpus ?? Infinity, config.RUNNER_CPUS),
    workMb: Math.min(plan?.workMb ?? Infinity, config.RUNNER_WORK_MB),
  };
}

/** The limits of one run of `job`: its plan's resources (stored at admission) within the runner's. */
export function limitsOf(config: Config, job?: Pick<BisectJob, "options">): Limits {
  const r = runResources(config, job?.options.resources);
  return {
    memoryBytes: r.memoryMb * 1024 * 1024,
    nanoCpus: Math.round(r.cpus * 1e9),
    pids: config.RUNNER_PIDS,
    workBytes: r.workMb * 1024 * 1024,
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
