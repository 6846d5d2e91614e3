// The admin side's Graphile Worker tasks. Each validates its payload and calls one service.
//
//   admin__run      {runId}          — enqueued by the admin command line with its admin_runs row
//   admin__prune    {olderThanDays?} — nightly (crontab): by the RETENTION_* settings
//   usage__rollover {}               — on the 1st of each month (crontab): opens the month's usage rows
import { AuditLogEntry } from "../../db/models";
import { defineTask } from "../define-task";
import type { WorkerContext } from "../worker-context";
import { prune, retentionFrom } from "./prune";
import { executeRun } from "./run";
import { rollOverUsage } from "./usage";

const DAY = 86_400;

export function adminTasks(ctx: WorkerContext) {
  return {
    admin__run: defineTask("admin__run", async ({ runId }, helpers) => {
      const outcome = await executeRun(ctx, runId, {
        signal: helpers.abortSignal,
        retry: helpers.job.attempts > 1,
      });
      if (outcome?.status === "failed")
        helpers.logger.warn(`admin run ${runId} failed: ${outcome.error}`);
    }),
    admin__prune: defineTask("admin__prune", async ({ olderThanDays }, helpers) => {
      const report = await prune(
        ctx.knex,
        retentionFrom(ctx.config, olderThanDays ? olderThanDays * DAY : undefined),
      );
      await AuditLogEntry.record(ctx.knex, {
        actor: "system",
        action: "prune",
        details: { ...report },
      });
      helpers.logger.info(
        `pruned ${report.stepLogs} step logs, ${report.webhookPayloads} webhook payloads, ${report.auditLog} audit log entries, ${report.adminRuns} admin runs, ${report.leases} leases`,
      );
    }),
    usage__rollover: defineTask("usage__rollover", async () => {
      await rollOverUsage(ctx.knex);
    }),
  };
}
