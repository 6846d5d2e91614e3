// Tells the GitHub side that a job changed (its status comment is re-rendered, throttled there).
import type { Knex } from "knex";
import type { BisectJob } from "../../db/models";
import { enqueue } from "../enqueue";

export async function notifyJobChanged(db: Knex | Knex.Transaction, job: Pick<BisectJob, "id" | "source">): Promise<void> {
  if (job.source !== "github") return;
  await enqueue(db, "github__status_comment", { jobId: job.id }, { jobKey: `github__status_comment:${job.id}`, maxAttempts: 25 });
}
