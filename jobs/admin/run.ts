// Running one admin command: claim its admin_runs row, validate its arguments with the command's
// schema, call the service, then record the outcome, the audit entry and a notification for the
// waiting command line in one transaction.
import path from "node:path";
import type { Knex } from "knex";
import { AdminRun, AuditLogEntry } from "../../db/models";
import { redactEndpoint } from "../../runner/docker/connect";
import type { WorkerContext } from "../worker-context";
import { ADMIN_RUNS_CHANNEL } from "./client";
import { isCommandName, validateArgs, type ArgsOf, type CommandName } from "./commands";
import { AdminError } from "./errors";
import {
  listInstallations,
  resumeInstallation,
  setTier,
  suspendInstallation,
} from "./installations";
import { cancelJobAsAdmin, listJobs, retryJobAsAdmin } from "./jobs";
import { backup } from "./backup";
import { prune, retentionFrom } from "./prune";
import {
  activateRunner,
  addRunner,
  checkRunners,
  drainRunner,
  listRunners,
  removeRunner,
} from "./runners";
import { usageReport } from "./usage";
import { listWorkers, unlockDead } from "./workers";
import { reencryptTokens } from "../secrets/reencrypt";

type Handler<C extends CommandName> = (
  ctx: WorkerContext,
  args: ArgsOf<C>,
  signal?: AbortSignal,
) => Promise<unknown>;

const handlers: { [C in CommandName]: Handler<C> } = {
  "runners.add": addRunner,
  "runners.list": (ctx) => listRunners(ctx.knex),
  "runners.check": checkRunners,
  "runners.drain": drainRunner,
  "runners.activate": activateRunner,
  "runners.remove": removeRunner,
  "installations.list": (ctx) => listInstallations(ctx.knex),
  "installations.set-tier": (ctx, args) => setTier(ctx.knex, args),
  "installations.suspend": (ctx, args) => suspendInstallation(ctx.knex, args),
  "installations.resume": (ctx, args) => resumeInstallation(ctx.knex, args),
  "jobs.list": (ctx, args) => listJobs(ctx.knex, args),
  "jobs.cancel": (ctx, args) => cancelJobAsAdmin(ctx.knex, args),
  "jobs.retry": (ctx, args) =>
    retryJobAsAdmin(ctx.knex, args, {
      defaultTimeoutSeconds: ctx.config.RUNNER_STEP_TIMEOUT_SECONDS,
    }),
  "usage.report": (ctx, args) => usageReport(ctx.knex, args),
  "workers.list": (ctx) => listWorkers(ctx.knex, ctx.config.WORKER_DEAD_AFTER_SECONDS),
  "workers.unlock-dead": (ctx) => unlockDead(ctx.knex, ctx.config.WORKER_DEAD_AFTER_SECONDS),
  "secrets.re-encrypt": (ctx) => reencryptTokens(ctx.knex, ctx.config),
  prune: (ctx, args) => prune(ctx.knex, retentionFrom(ctx.config, args.olderThanSeconds)),
  backup: (ctx, args, signal) =>
    backup({
      databaseUrl: ctx.workerDatabaseUrl,
      dir: args.dir ?? ctx.config.BACKUP_DIR ?? path.join(ctx.config.DATA_DIR, "backups"),
      keep: args.keep ?? ctx.config.BACKUP_KEEP,
      pgDump: ctx.config.BACKUP_PG_DUMP,
      signal,
    }),
};

/** What the audit entry is about. */
function subjectOf(
  command: string,
  args: Record<string, unknown>,
  result: unknown,
  runId: number,
): { type: string; id: string } {
  const r = (result ?? {}) as { id?: unknown };
  if (command.startsWith("runners.") && typeof args.name === "string")
    return { type: "runner_host", id: args.name };
  if (command.startsWith("installations.") && args.installation !== undefined) {
    return {
      type: "installation",
      id: String(typeof r.id === "number" ? r.id : args.installation),
    };
  }
  if (command.startsWith("jobs.") && typeof args.id === "number")
    return { type: "bisect_job", id: String(args.id) };
  return { type: "admin_run", id: String(runId) };
}

/** Arguments fit for the audit log: endpoints without user info. */
function auditArgs(args: Record<string, unknown>): Record<string, unknown> {
  return typeof args.endpoint === "string"
    ? { ...args, endpoint: redactEndpoint(args.endpoint) }
    : args;
}

export interface RunOutcome {
  status: "succeeded" | "failed";
  result: unknown;
  error: string | null;
}

async function execute(
  ctx: WorkerContext,
  run: AdminRun,
  signal?: AbortSignal,
): Promise<RunOutcome> {
  if (!isCommandName(run.command))
    return { status: "failed", result: null, error: `unknown admin command ${run.command}` };
  const validated = validateArgs(run.command, run.args);
  if (!validated.ok)
    return {
      status: "failed",
      result: null,
      error: `invalid arguments: ${validated.problems.join("; ")}`,
    };
  const handler = handlers[run.command] as Handler<CommandName>;
  try {
    return {
      status: "succeeded",
      result: (await handler(ctx, validated.args as never, signal)) ?? null,
      error: null,
    };
  } catch (error) {
    if (error instanceof AdminError)
      return { status: "failed", result: error.result, error: error.message };
    return {
      status: "failed",
      result: null,
      error: `${run.command} failed: ${(error as Error).message ?? String(error)}`,
    };
  }
}

/**
 * admin__run: runs the command once. A run that is no longer queued (done, or given up by its
 * caller) is left alone. On a retry (the worker running it died), a run left `running` is closed
 * as failed rather than run again: an admin action is never repeated behind the operator's back.
 */
export async function executeRun(
  ctx: WorkerContext,
  runId: number,
  options: { signal?: AbortSignal; retry?: boolean } = {},
): Promise<RunOutcome | null> {
  const { knex } = ctx;
  const { signal } = options;
  if (options.retry) {
    const stranded = await AdminRun.query(knex).findById(runId);
    if (stranded?.status === "running") {
      const outcome: RunOutcome = {
        status: "failed",
        result: null,
        error:
          "the worker running this command stopped before it finished: check what it changed, then run it again",
      };
      await finishRun(knex, stranded, outcome);
      return outcome;
    }
  }
  const claimed = await AdminRun.query(knex)
    .patch({ status: "running", startedAt: new Date() })
    .where({ id: runId, status: "queued" })
    .returning("*");
  const run = (claimed as unknown as AdminRun[])[0];
  if (!run) return null;
  const outcome = await execute(ctx, run, signal);
  await finishRun(knex, run, outcome);
  return outcome;
}

async function finishRun(knex: Knex, run: AdminRun, outcome: RunOutcome): Promise<void> {
  await knex.transaction(async (trx) => {
    const updated = await trx("adminRuns")
      .where({ id: run.id, status: "running" })
      .update({
        status: outcome.status,
        result: outcome.result === null ? null : JSON.stringify(outcome.result),
        error: outcome.error,
        finishedAt: trx.fn.now(),
      });
    if (updated === 0) return; // closed meanwhile
    const subject = subjectOf(run.command, run.args, outcome.result, run.id);
    await AuditLogEntry.record(trx, {
      actor: "admin",
      action: run.command,
      subjectType: subject.type,
      subjectId: subject.id,
      details: {
        runId: run.id,
        requestedBy: run.requestedBy,
        args: auditArgs(run.args),
        status: outcome.status,
        ...(outcome.error ? { error: outcome.error } : {}),
      },
    });
    await trx.raw("select pg_notify(?, ?)", [ADMIN_RUNS_CHANNEL, String(run.id)]);
  });
}
