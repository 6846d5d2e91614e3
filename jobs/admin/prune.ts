// Admin: pruning what grows without bound, by the retention settings (RETENTION_*_DAYS) or one
// age for everything but the audit log (`prune --older-than`). Verdict rows stay (the engine's
// history and the dashboard need them); only their log excerpts go.
import type { Knex } from "knex";
import type { Config } from "../../config/env";
import { FINAL_STATUSES } from "../../db/models";
import { DEFAULT_PRUNE_SECONDS, formatDuration } from "./commands";

const DAY = 86_400;

/** How long each kind of row is kept, in seconds; auditLog null keeps the audit log forever. */
export interface Retention {
  stepLogs: number;
  webhookPayloads: number;
  auditLog: number | null;
  /** Finished admin runs and ended runner leases. */
  other: number;
}

/** The configured retention; `olderThanSeconds` (from --older-than) replaces all but the audit log's. */
export function retentionFrom(
  config: Pick<
    Config,
    "RETENTION_STEP_LOGS_DAYS" | "RETENTION_WEBHOOK_PAYLOADS_DAYS" | "RETENTION_AUDIT_LOG_DAYS"
  >,
  olderThanSeconds?: number,
): Retention {
  return {
    stepLogs: olderThanSeconds ?? config.RETENTION_STEP_LOGS_DAYS * DAY,
    webhookPayloads: olderThanSeconds ?? config.RETENTION_WEBHOOK_PAYLOADS_DAYS * DAY,
    auditLog: config.RETENTION_AUDIT_LOG_DAYS === 0 ? null : config.RETENTION_AUDIT_LOG_DAYS * DAY,
    other: olderThanSeconds ?? DEFAULT_PRUNE_SECONDS,
  };
}

export interface PruneReport {
  /** The age of admin runs and leases pruned (and of everything but the audit log with --older-than). */
  olderThan: string;
  cutoff: string;
  /** Each kind's retention, e.g. `30d`; `forever` for an audit log that is kept. */
  retention: { stepLogs: string; webhookPayloads: string; auditLog: string; other: string };
  /** Step log excerpts cleared (steps of ended jobs). */
  stepLogs: number;
  /** Webhook delivery payloads cleared (the delivery rows stay for redelivery checks). */
  webhookPayloads: number;
  /** Audit log entries deleted. */
  auditLog: number;
  /** Finished admin runs deleted. */
  adminRuns: number;
  /** Released or expired runner leases deleted. */
  leases: number;
}

export async function prune(
  knex: Knex,
  retention: Retention,
  now = new Date(),
): Promise<PruneReport> {
  const before = (seconds: number) => new Date(now.getTime() - seconds * 1000);
  const cutoff = before(retention.other);
  return knex.transaction(async (trx) => {
    const stepLogs = await trx("bisectSteps as s")
      .whereNotNull("s.logExcerpt")
      .whereExists(
        trx("bisectJobs as j")
          .whereRaw("j.id = s.bisect_job_id")
          .whereIn("j.status", FINAL_STATUSES as string[])
          .where("j.finishedAt", "<", before(retention.stepLogs)),
      )
      .update({ logExcerpt: null });
    const webhookPayloads = await trx("webhookDeliveries")
      .whereNotNull("payload")
      .whereNot("status", "received")
      .where("receivedAt", "<", before(retention.webhookPayloads))
      .update({ payload: null });
    const auditLog =
      retention.auditLog === null
        ? 0
        : await trx("auditLog").where("createdAt", "<", before(retention.auditLog)).delete();
    const adminRuns = await trx("adminRuns")
      .whereIn("status", ["succeeded", "failed"])
      .where("finishedAt", "<", cutoff)
      .delete();
    const leases = await trx("runnerLeases")
      .where((q) =>
        q
          .where("releasedAt", "<", cutoff)
          .orWhere((e) => e.whereNull("releasedAt").where("expiresAt", "<", cutoff)),
      )
      .delete();
    return {
      olderThan: formatDuration(retention.other),
      cutoff: cutoff.toISOString(),
      retention: {
        stepLogs: formatDuration(retention.stepLogs),
        webhookPayloads: formatDuration(retention.webhookPayloads),
        auditLog: retention.auditLog === null ? "forever" : formatDuration(retention.auditLog),
        other: formatDuration(retention.other),
      },
      stepLogs,
      webhookPayloads,
      auditLog,
      adminRuns,
      leases,
    };
  });
}
