// The task that posts an automatic bisection's answer: `github__auto_report {autoId} | {jobId}`,
// one pending per breakage (job key). Enqueued when the breakage is reported directly, when it
// is fixed meanwhile, and on every change of its job (the task waits for the job to end).
import type { Knex } from "knex";
import { defineTask } from "../../define-task";
import { enqueue } from "../../catalog";
import type { WorkerContext } from "../../worker-context";
import { retryDelayMs } from "../app-client";
import { reportAutomatic } from "./report";

export async function enqueueAutoReport(
  db: Knex | Knex.Transaction,
  target: { autoId: number } | { jobId: number },
  runAt?: Date,
): Promise<void> {
  await enqueue(db, "github__auto_report", target, { runAt });
}

export function autoReportTasks(ctx: WorkerContext) {
  return {
    github__auto_report: defineTask("github__auto_report", async (target, helpers) => {
      try {
        const note = await reportAutomatic(ctx, target);
        helpers.logger.info(`automatic report: ${note}`);
      } catch (error) {
        // GitHub down or rate limiting: come back later; the answer is rebuilt from the rows.
        const delay = retryDelayMs(error, helpers.job.attempts);
        if (delay === null) throw error;
        await enqueueAutoReport(ctx.knex, target, new Date(Date.now() + delay));
      }
    }),
  };
}
