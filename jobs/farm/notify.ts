// Tells the GitHub side that a job changed: its status comment is re-rendered (throttled there).
import type { Knex } from "knex";
import type { BisectJob } from "../../db/models";
import { enqueueAutoReport } from "../github/auto/report-task";
import { enqueueStatusComment } from "../github/status-comment";

export async function notifyJobChanged(
  db: Knex | Knex.Transaction,
  job: Pick<BisectJob, "id" | "source">,
): Promise<void> {
  if (job.source === "github") await enqueueStatusComment(db, job.id);
  if (job.source === "auto") await enqueueAutoReport(db, { jobId: job.id });
}
