// Creating a bisection: the job row and its first task in one transaction, once per trigger.
import type { Knex } from "knex";
import { BisectJob, type JobOptions, type JobSource } from "../../db/models";
import { enqueue } from "../catalog";

export interface NewJob {
  source: JobSource;
  installationId?: number | null;
  repositoryId?: number | null;
  /** Clone source for jobs not tied to a GitHub repository (CLI): a git URL or a local path. */
  repoUrl?: string | null;
  issueNumber?: number | null;
  /** The /bisect comment: a second delivery of the same comment yields the same job. */
  triggerCommentId?: number | null;
  deliveryId?: string | null;
  requesterLogin?: string | null;
  requesterId?: number | null;
  goodRef: string;
  badRef: string;
  command: string;
  setupCommand?: string | null;
  options?: JobOptions;
  retryOfJobId?: number | null;
}

export async function createJob(
  knex: Knex,
  input: NewJob,
): Promise<{ job: BisectJob; created: boolean }> {
  return knex.transaction(async (trx) => {
    const row = { ...input, options: input.options ?? {}, status: "queued" as const };
    const inserted = await BisectJob.query(trx)
      .insert(row)
      .onConflict(knex.raw("(trigger_comment_id) where trigger_comment_id is not null"))
      .ignore()
      .returning("*");
    const job = Array.isArray(inserted) ? inserted[0] : inserted;
    if (job?.id) {
      await enqueue(trx, "bisect__prepare", { jobId: job.id });
      return { job, created: true };
    }
    const existing = await BisectJob.query(trx).findOne({
      triggerCommentId: input.triggerCommentId!,
    });
    if (!existing) throw new Error("job insert was ignored but no existing job was found");
    return { job: existing, created: false };
  });
}
