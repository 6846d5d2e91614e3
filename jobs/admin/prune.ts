// Admin: pruning what grows without bound. Verdict rows stay (the engine's history and the
// dashboard need them); only their log excerpts go. The audit log is never pruned here.
import type { Knex } from "knex";
import { FINAL_STATUSES } from "../../db/models";
import { formatDuration } from "./commands";

export interface PruneReport {
  olderThan: string;
  cutoff: string;
  /** Step log excerpts cleared (steps of ended jobs). */
  stepLogs: number;
  /** Webhook delivery payloads cleared (the delivery rows stay for redelivery checks). */
  webhookPayloads: number;
  /** Finished admin runs deleted. */
  adminRuns: number;
  /** Released or expired runner leases deleted. */
  leases: number;
}

export async function prune(knex: Knex, olderThanSeconds: number, now = new Date()): Promise<PruneReport> {
  const cutoff = new Date(now.getTime() - olderThanSeconds * 1000);
  return knex.transaction(async (trx) => {
    const stepLogs = await trx("bisectSteps as s")
      .whereNotNull("s.logExcerpt")
      .whereExists(
        trx("bisectJobs as j")
          .whereRaw("j.id = s.bisect_job_id")
          .whereIn("j.status", FINAL_STATUSES as string[])
          .where("j.finishedAt", "<", cutoff),
      )
      .update({ logExcerpt: null });
    const webhookPayloads = await trx("webhookDeliveries")
      .whereNotNull("payload")
      .whereNot("status", "received")
      .where("receivedAt", "<", cutoff)
      .update({ payload: null });
    const adminRuns = await trx("adminRuns").whereIn("status", ["succeeded", "failed"]).where("finishedAt", "<", cutoff).delete();
    const leases = await trx("runnerLeases")
      .where((q) => q.where("releasedAt", "<", cutoff).orWhere((e) => e.whereNull("releasedAt").where("expiresAt", "<", cutoff)))
      .delete();
    return { olderThan: formatDuration(olderThanSeconds), cutoff: cutoff.toISOString(), stepLogs, webhookPayloads, adminRuns, leases };
  });
}
