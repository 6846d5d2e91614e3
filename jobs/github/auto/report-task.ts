// The task that posts an automatic bisection's answer: `github__auto_report {autoId} | {jobId}`,
// one pending per breakage (job key). Enqueued when the breakage is reported directly, when it
// is fixed meanwhile, and on every change of its job (the task waits for the job to end).
import type { Knex } from "knex";
import { z } from "zod";
import { defineTask } from "../../define-task";
import { enqueue } from "../../enqueue";
import type { WorkerContext } from "../../worker-context";
import { retryDelayMs } from "../app-client";
import { reportAutomatic } from "./report";

export const AUTO_REPORT_TASK = "github__auto_report";

export async function enqueueAutoReport(
  db: Knex | Knex.Transaction,
  target: { autoId: number } | { jobId: number },
  runAt?: Date,
): Promise<void> {
  const key = "autoId" in target ? `auto:${target.autoId}` : `job:${target.jobId}`;
  await enqueue(db, AUTO_REPORT_TASK, target, {
    jobKey: `${AUTO_REPORT_TASK}:${key}`,
    maxAttempts: 10,
    runAt,
  });
}

export function autoReportTasks(ctx: WorkerContext) {
  return {
    [AUTO_REPORT_TASK]: defineTask(
      z.union([
        z.object({ autoId: z.number().int().positive() }),
        z.object({ jobId: z.number().int().positive() }),
      ]),
      async (target, helpers) => {
        try {
          const note = await reportAutomatic(ctx, target);
          helpers.logger.info(`automatic report: ${note}`);
        } catch (error) {
          // GitHub down or rate limiting: come back later; the answer is rebuilt from the rows.
          const delay = retryDelayMs(error, helpers.job.attempts);
          if (delay === null) throw error;
          await enqueueAutoReport(ctx.knex, target, new Date(Date.now() + delay));
        }
      },
    ),
  };
}
