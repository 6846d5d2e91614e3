// bisect__watchdog (cron): every job that is not final and has made no progress for longer than
// its own timeouts allow is looked at. One with nothing queued to move it on is resumed (the right
// task queued again); one still stalled after that, or waiting on runner hosts that are all
// unreachable, is concluded as failed with the reason. Progress is any write to the job or a step.
import type { Knex } from "knex";
import type { Config } from "../../config/env";
import { BisectJob, BisectStep, FINAL_STATUSES, RunnerHost } from "../../db/models";
import { enqueue } from "../catalog";
import type { WorkerContext } from "../worker-context";
import { requestAdvance } from "./advance";
import { abandonJob } from "./give-up";
import { stepTimeoutSeconds } from "./policy";

export interface WatchReport {
  /** "<id> (<status>)" of each job resumed, and "<id>: <reason>" of each concluded. */
  resumed: string[];
  concluded: string[];
}

/**
 * How long a job may go without progress: one mirror fetch and one run at their limits, a lost
 * host noticed twice, a lease expiring and a dead worker detected. Anything longer is not waiting.
 */
export function stallLimitMs(config: Config, job: Pick<BisectJob, "options">): number {
  const seconds =
    config.RUNNER_FETCH_TIMEOUT_SECONDS +
    stepTimeoutSeconds(config, job) +
    2 * config.RUNNER_LOST_HOST_SECONDS +
    config.RUNNER_LEASE_SECONDS +
    config.WORKER_DEAD_AFTER_SECONDS;
  return seconds * 1000;
}

const minutes = (ms: number) => Math.max(1, Math.round(ms / 60_000));

export async function watchJobs(ctx: WorkerContext, now = new Date()): Promise<WatchReport> {
  const { knex, config } = ctx;
  const report: WatchReport = { resumed: [], concluded: [] };
  const jobs = await BisectJob.query(knex)
    .whereNotIn("status", FINAL_STATUSES as string[])
    .select(
      "bisectJobs.*",
      knex.raw(
        "greatest(bisect_jobs.updated_at, (select max(s.updated_at) from bisect_steps s where s.bisect_job_id = bisect_jobs.id)) as last_progress_at",
      ),
    );
  for (const job of jobs as (BisectJob & { lastProgressAt: Date })[]) {
    const stalled = now.getTime() - job.lastProgressAt.getTime();
    const limit = stallLimitMs(config, job);
    if (stalled < limit) continue;

    if ((await liveTasks(knex, job.id)) === 0) {
      if (stalled < 2 * limit) {
        await resume(knex, job);
        report.resumed.push(`${job.id} (${job.status})`);
        continue;
      }
      const reason = `the job made no progress for ${minutes(stalled)} minutes and could not be resumed`;
      if (await abandonJob(knex, job.id, reason, "watchdog"))
        report.concluded.push(`${job.id}: ${reason}`);
      continue;
    }
    // Its tasks are queued but cannot run anywhere: every runner host is down.
    const hosts = await RunnerHost.query(knex).select("state", "lastSeenAt");
    if (hosts.some((h) => h.state === "active")) continue;
    const lastSeen = Math.max(0, ...hosts.map((h) => h.lastSeenAt?.getTime() ?? 0));
    const reason = hosts.length
      ? `runner hosts unreachable for ${minutes(Math.min(stalled, now.getTime() - lastSeen))} minutes`
      : `no runner host was registered for ${minutes(stalled)} minutes`;
    if (await abandonJob(knex, job.id, reason, "watchdog"))
      report.concluded.push(`${job.id}: ${reason}`);
  }
  return report;
}

/** Queued or running tasks of the job that can still run (a failed one with attempts left counts). */
async function liveTasks(knex: Knex, jobId: number): Promise<number> {
  const { rows } = await knex.raw(
    `select count(*) as n
       from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
      where (j.attempts < j.max_attempts or j.locked_at is not null)
        and ((t.identifier in ('bisect__prepare', 'bisect__advance', 'bisect__finish') and j.payload->>'jobId' = ?)
          or (t.identifier = 'bisect__step' and j.payload->>'stepId' in (select id::text from bisect_steps where bisect_job_id = ?)))`,
    [String(jobId), jobId],
  );
  return Number(rows[0]?.n ?? 0);
}

/** Queues what moves the job on from where it stands (every task is idempotent). */
async function resume(knex: Knex, job: BisectJob): Promise<void> {
  await knex.transaction(async (trx) => {
    if (job.status !== "running") {
      await enqueue(trx, "bisect__prepare", { jobId: job.id });
      return;
    }
    for (const step of await BisectStep.query(trx)
      .where({ bisectJobId: job.id })
      .whereIn("status", ["queued", "running"])) {
      await enqueue(trx, "bisect__step", { stepId: step.id });
    }
    await requestAdvance(trx, job.id);
  });
}
