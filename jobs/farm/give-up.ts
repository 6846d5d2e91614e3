// A job always ends with an answer: when one of its tasks has used its last attempt, the job is
// concluded as failed with a plain explanation (shown in the final comment and on the job page),
// instead of staying "preparing" or "running" with nothing left to move it on.
import type { JobHelpers } from "graphile-worker";
import type { Knex } from "knex";
import { incrementCounter } from "../../db/counters";
import { BisectJob, BisectStep } from "../../db/models";
import type { WorkerContext } from "../worker-context";
import { concludeJob } from "./conclude";

/** Counter (metric_counters) of jobs concluded by giving up, labelled by what gave up. */
export const ABANDONED_COUNTER = "jobs_abandoned";

/** An error whose message is already a plain explanation for the requester. */
export class ExplainedError extends Error {
  override name = "ExplainedError";
}

const WHAT_FAILED: Record<string, string> = {
  bisect__prepare: "the job could not be prepared",
  bisect__advance: "the next commits to test could not be chosen",
  bisect__step: "a test run could not be completed",
  bisect__finish: "the job could not be cleaned up",
  github__status_comment: "GitHub did not accept the status comment",
};

/** The requester-facing explanation of a task's final failure. */
export function explainFailure(task: string, error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error))
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 400);
  if (error instanceof ExplainedError) return message;
  return `${WHAT_FAILED[task] ?? `${task} failed`}${message ? `: ${message}` : ""}`;
}

export const isLastAttempt = (helpers: JobHelpers) =>
  helpers.job.attempts >= helpers.job.max_attempts;

/**
 * Concludes a job that cannot go on. Returns false when it had already ended. `cause` is the task
 * that gave up, or "watchdog".
 */
export async function abandonJob(
  knex: Knex,
  jobId: number,
  explanation: string,
  cause: string,
): Promise<boolean> {
  const concluded = await knex.transaction(async (trx) => {
    const job = await BisectJob.query(trx).findById(jobId).forUpdate();
    if (!job || job.isFinal) return false;
    await concludeJob(trx, job, { status: "failed", outcome: "error", error: explanation });
    return true;
  });
  if (concluded) await incrementCounter(knex, ABANDONED_COUNTER, { cause });
  return concluded;
}

/**
 * Wraps a task of one job: on its last attempt, a failure concludes the job before it is
 * rethrown (graphile-worker keeps the failed task for the operator). `jobIdOf` names the job.
 */
export function endsJobOnLastAttempt<P>(
  ctx: WorkerContext,
  jobIdOf: (payload: NoInfer<P>) => Promise<number | null>,
  handler: (payload: P, helpers: JobHelpers) => Promise<void>,
): (payload: P, helpers: JobHelpers) => Promise<void> {
  return async (payload, helpers) => {
    try {
      await handler(payload, helpers);
    } catch (error) {
      if (isLastAttempt(helpers)) {
        const task = helpers.job.task_identifier;
        const jobId = await jobIdOf(payload).catch(() => null);
        if (jobId !== null) {
          const explanation = explainFailure(task, error);
          if (await abandonJob(ctx.knex, jobId, explanation, task).catch(() => false)) {
            helpers.logger.error(`job ${jobId} concluded as failed: ${explanation}`);
          }
        }
      }
      throw error;
    }
  };
}

export const jobIdOfJob = async ({ jobId }: { jobId: number }) => jobId;

export function jobIdOfStep(knex: Knex) {
  return async ({ stepId }: { stepId: number }) => {
    const step = await BisectStep.query(knex).findById(stepId).select("bisectJobId");
    return step ? Number(step.bisectJobId) : null;
  };
}
