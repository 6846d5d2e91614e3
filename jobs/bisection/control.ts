// Cancelling and re-running a bisection: used by the dashboard, the GitHub commands and admin tasks.
import type { Knex } from "knex";
import { AuditLogEntry, BisectJob, BisectStep, FINAL_STATUSES } from "../../db/models";
import { enqueue } from "../catalog";
import { admitJob, type Admission, type AdmissionSettings, type Authority } from "./admission";

export interface Actor {
  /** A GitHub login, 'admin' or 'system'. */
  login: string;
  ip?: string | null;
}

/**
 * Marks the job cancelled (queued steps too) and enqueues `bisect__cancel`, which kills its
 * running containers. Returns false when the job had already ended.
 */
export async function cancelJob(
  knex: Knex,
  jobId: number,
  actor: Actor,
  reason = "cancelled",
): Promise<boolean> {
  return knex.transaction(async (trx) => {
    const job = await BisectJob.query(trx).findById(jobId).forUpdate();
    if (!job || FINAL_STATUSES.includes(job.status)) return false;
    await BisectJob.query(trx)
      .patch({
        status: "cancelled",
        cancelRequestedAt: new Date(),
        finishedAt: new Date(),
        error: reason,
      })
      .where({ id: jobId });
    await BisectStep.query(trx)
      .where({ bisectJobId: jobId, status: "queued" })
      .patch({ status: "cancelled" });
    await enqueue(trx, "bisect__cancel", { jobId });
    await AuditLogEntry.record(trx, {
      actor: actor.login,
      action: "job.cancel",
      subjectType: "bisect_job",
      subjectId: String(jobId),
      details: { reason },
      ip: actor.ip ?? null,
    });
    return true;
  });
}

/**
 * A new job with the same repository, refs, command and options, admitted like any new job (the
 * plan's limits and quota as they are now); null when there is no such job.
 */
export async function retryJob(
  knex: Knex,
  jobId: number,
  authority: Authority,
  settings: AdmissionSettings,
  ip: string | null = null,
): Promise<Admission | null> {
  const job = await BisectJob.query(knex).findById(jobId);
  if (!job) return null;
  return admitJob(
    knex,
    {
      authority,
      ip,
      source: job.source,
      installationId: job.installationId,
      repositoryId: job.repositoryId,
      repoUrl: job.repoUrl,
      issueNumber: job.issueNumber,
      goodRef: job.goodRef,
      badRef: job.badRef,
      command: job.command,
      setupCommand: job.setupCommand,
      options: job.options,
      requestedTimeoutSeconds: job.options.timeoutSeconds,
      retryOfJobId: job.id,
    },
    settings,
  );
}
