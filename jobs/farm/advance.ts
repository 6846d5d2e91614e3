// bisect__advance: recompute the candidate set from the recorded verdicts (the pure engine) and
// queue the next runs, or conclude. Runs serially per job (its own queue) and under a row lock.
import type { Knex } from "knex";
import { BisectJob, BisectStep } from "../../db/models";
import {
  decide,
  EngineInputError,
  reportedOutcome,
  type CommitGraph,
  type Observation,
} from "../../runner/engine";
import { freeSlots } from "./leases";
import { enqueue } from "../catalog";
import type { WorkerContext } from "../worker-context";
import { concludeJob } from "./conclude";
import { notifyJobChanged } from "./notify";
import { parallelismOf, policyOf, slottedInFlight } from "./policy";
import { advanceVerify } from "./verify";

export async function advanceJob(ctx: WorkerContext, jobId: number): Promise<void> {
  await ctx.knex.transaction(async (trx) => {
    const job = await BisectJob.query(trx).findById(jobId).forUpdate();
    if (!job || job.status !== "running" || !job.graph) return;

    const maxSeconds = job.options.maxDurationSeconds;
    if (maxSeconds && job.startedAt && Date.now() - job.startedAt.getTime() > maxSeconds * 1000) {
      const message = `The bisection ran longer than the plan allows (${Math.round(maxSeconds / 60)} min) and was stopped.`;
      await concludeJob(trx, job, { status: "finished", outcome: "timeout", explanation: message });
      return;
    }

    const steps = await BisectStep.query(trx).where({ bisectJobId: jobId }).orderBy("id");
    if (job.options.verify) return advanceVerify(trx, job, steps);
    const observations: Observation[] = steps
      .filter((s) => s.status === "done" && s.verdict)
      .map((s) => ({ sha: s.sha, verdict: s.verdict!, ...(s.reason ? { reason: s.reason } : {}) }));
    const inFlight = steps
      .filter((s) => s.status === "queued" || s.status === "running")
      .map((s) => s.sha);
    const allowed = parallelismOf(job) - slottedInFlight(job.graph as CommitGraph, inFlight);
    // Never more than the free slots, but always one run when nothing is in flight (it waits for a slot).
    const slots = Math.max(Math.min(allowed, await freeSlots(trx)), inFlight.length === 0 ? 1 : 0);

    let decision;
    try {
      decision = decide({
        graph: job.graph as CommitGraph,
        policy: policyOf(job),
        observations,
        inFlight,
        slots: Math.max(0, slots),
      });
    } catch (error) {
      if (!(error instanceof EngineInputError)) throw error;
      await concludeJob(trx, job, { status: "failed", outcome: "error", error: error.message });
      return;
    }

    if (decision.kind === "wait") return;
    if (decision.kind === "done") {
      await concludeJob(trx, job, {
        status: "finished",
        outcome: reportedOutcome(decision),
        culpritSha: decision.culprit,
        candidates: decision.candidates,
        confidence: decision.confidence,
        explanation: decision.explanation,
      });
      return;
    }
    await queueProbes(trx, job, steps, decision.probes);
    await notifyJobChanged(trx, job);
  });
}

async function queueProbes(
  trx: Knex.Transaction,
  job: BisectJob,
  steps: BisectStep[],
  probes: string[],
): Promise<void> {
  const round = job.rounds + 1;
  const attempts = new Map<string, number>();
  for (const s of steps) attempts.set(s.sha, Math.max(attempts.get(s.sha) ?? 0, s.attempt));
  for (const sha of probes) {
    const attempt = (attempts.get(sha) ?? 0) + 1;
    attempts.set(sha, attempt);
    const step = await BisectStep.query(trx)
      .insert({ bisectJobId: job.id, sha, round, attempt, status: "queued" })
      .returning("*");
    await enqueue(trx, "bisect__step", { stepId: step.id });
  }
  await BisectJob.query(trx).patch({ rounds: round }).where({ id: job.id });
}

/**
 * Queues an advance of the job (coalesced: one pending advance per job). Idempotent, so it gets
 * room for many attempts: every crash of the worker running it (kill -9, database gone) uses one.
 */
export async function requestAdvance(db: Knex | Knex.Transaction, jobId: number): Promise<void> {
  await enqueue(db, "bisect__advance", { jobId });
}
