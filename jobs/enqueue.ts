// graphile-worker's add_job, inside the caller's transaction. Tasks are queued through the catalog's
// typed `enqueue` (jobs/catalog.ts), which holds each task's defaults; this is its one way in.
import type { Knex } from "knex";

export interface EnqueueOptions {
  /** Coalesces jobs: `task:id`. A pending job with the same key is replaced, not duplicated. */
  jobKey?: string;
  /** `replace` (default) or `preserve_run_at` (keep the earlier run time, e.g. for throttled work). */
  jobKeyMode?: "replace" | "preserve_run_at" | "unsafe_dedupe";
  maxAttempts?: number;
  runAt?: Date;
  queueName?: string;
  priority?: number;
}

export async function addJob(
  db: Knex | Knex.Transaction,
  task: string,
  payload: Record<string, unknown>,
  options: EnqueueOptions = {},
): Promise<void> {
  await db.raw(
    `select graphile_worker.add_job(
       identifier => ?, payload => ?::json, queue_name => ?, run_at => ?,
       max_attempts => ?, job_key => ?, priority => ?, job_key_mode => ?)`,
    [
      task,
      JSON.stringify(payload),
      options.queueName ?? null,
      options.runAt ?? null,
      options.maxAttempts ?? 5,
      options.jobKey ?? null,
      options.priority ?? 0,
      options.jobKeyMode ?? "replace",
    ],
  );
}
