// After a job ends (finished, failed, cancelled): kill and remove its containers on every host,
// give back its leases, close its running steps.
import { BisectJob, BisectStep, RunnerHost, RunnerLease } from "../../db/models";
import { removeLabelled } from "../../runner/executors/docker-executor";
import { dockerFor } from "../../runner/farm/docker-clients";
import { releaseLease } from "../../runner/farm/leases";
import type { WorkerContext } from "../worker-context";
import { jobLabels } from "./labels";
import { notifyJobChanged } from "./notify";

export async function cleanUpJob(ctx: WorkerContext, jobId: number): Promise<{ removed: number }> {
  const { knex } = ctx;
  const job = await BisectJob.query(knex).findById(jobId);
  if (!job) return { removed: 0 };
  let removed = 0;
  const failures: string[] = [];
  for (const host of await RunnerHost.query(knex).whereNot({ state: "down" })) {
    try {
      removed += (await removeLabelled(dockerFor(host), jobLabels(ctx, jobId))).length;
    } catch (error) {
      failures.push(`${host.name}: ${(error as Error).message}`);
    }
  }
  const stepIds = BisectStep.query(knex).where({ bisectJobId: jobId }).select("id");
  for (const lease of await RunnerLease.query(knex).whereIn("bisectStepId", stepIds).whereNull("releasedAt")) {
    await releaseLease(knex, lease.id);
  }
  await BisectStep.query(knex).patch({ status: "cancelled", finishedAt: new Date() }).where({ bisectJobId: jobId }).whereIn("status", ["queued", "running"]);
  // Hosts that were down are swept by the reaper once they are back.
  if (failures.length) throw new Error(`could not remove every container of job ${jobId}: ${failures.join("; ")}`);
  return { removed };
}

/** bisect__finish: the job concluded; clean up and let GitHub know. */
export async function finishJob(ctx: WorkerContext, jobId: number): Promise<void> {
  await cleanUpJob(ctx, jobId);
  const job = await BisectJob.query(ctx.knex).findById(jobId);
  if (job) await notifyJobChanged(ctx.knex, job);
}

/** bisect__cancel: the job was cancelled; stop what runs within seconds. */
export async function cancelRunningJob(ctx: WorkerContext, jobId: number): Promise<void> {
  await cleanUpJob(ctx, jobId);
  const job = await BisectJob.query(ctx.knex).findById(jobId);
  if (job) await notifyJobChanged(ctx.knex, job);
}
